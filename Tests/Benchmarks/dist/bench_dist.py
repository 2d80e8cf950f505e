#!/usr/bin/env python3
"""The participants' download (issue 22): archive size, and start-up of the static executable with its
built-in data against the development build (shared Swift runtime, data read from the source tree).

Runs `inspect DECK` and `scan --texts` (one short text: start-up plus loading the scanner's data) with
both binaries, alternating, and rewrites the `## Download` section of BENCHMARKS.md with the medians.
"""
import argparse, os, platform, re, shutil, statistics, subprocess, sys, tarfile, tempfile, time

def run_once(cmd, stdin=None):
    start = time.perf_counter()
    subprocess.run(cmd, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", required=True, help="development anki-submit (.build/release/anki-submit)")
    ap.add_argument("--archive", required=True, help="dist/anki-submit-...tar.gz")
    ap.add_argument("--deck", required=True)
    ap.add_argument("--data-dir", required=True, help="the source tree (for the development build)")
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--markdown", default="BENCHMARKS.md")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="bench-dist-")
    try:
        with tarfile.open(a.archive) as tar:
            tar.extractall(work, filter="data") if sys.version_info >= (3, 12) else tar.extractall(work)
        name = os.path.basename(a.archive)[: -len(".tar.gz")]
        dist = os.path.join(work, name, "anki-submit")
        texts = b'"Call Anna Schmidt at +49 30 1234567."\n'
        cases = {
            "inspect": ([a.dev, "inspect", a.deck], [dist, "inspect", a.deck], None),
            "scan --texts (scanner start-up)": ([a.dev, "scan", "--texts", "-", "--data-dir", a.data_dir],
                                                 [dist, "scan", "--texts", "-"], texts),
        }
        results = {}
        for label, (dev_cmd, dist_cmd, stdin) in cases.items():
            run_once(dev_cmd, stdin); run_once(dist_cmd, stdin)  # warm the page cache
            dev, dst = [], []
            for i in range(a.reps):
                order = [(dev, dev_cmd), (dst, dist_cmd)] if i % 2 == 0 else [(dst, dist_cmd), (dev, dev_cmd)]
                for samples, cmd in order:
                    samples.append(run_once(cmd, stdin))
            results[label] = (statistics.median(dev), statistics.median(dst))
        archive_size = os.path.getsize(a.archive)
        exe_size = os.path.getsize(dist)
        dev_size = os.path.getsize(a.dev)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        "## Download",
        "",
        "The participants' archive (`make dist`, issue 22): one executable with the Swift runtime, Foundation,",
        "sqlite3, zstd, pcre2, zlib, libstdc++ and Config/ and Wordlists/ inside, against the development",
        "build (`.build/release/anki-submit`: shared Swift runtime, data read from the source tree with",
        f"`--data-dir`). Medians of {a.reps} alternating runs each, wall time, on `{os.path.basename(a.deck)}`.",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, shared with other builds (figures are noisy).",
        "",
        f"- archive `{os.path.basename(a.archive)}`: {archive_size / 1e6:.1f} MB; executable {exe_size / 1e6:.1f} MB"
        f" unpacked (stripped), development binary {dev_size / 1e6:.1f} MB (not stripped, Swift runtime outside)",
        "",
        "| command | development build | download | ratio |",
        "|---|---|---|---|",
    ]
    for label, (dev, dst) in results.items():
        lines.append(f"| `{label}` | {dev * 1000:.1f} ms | {dst * 1000:.1f} ms | {dst / dev:.2f}x |")
    lines += ["", "Command: `make bench-dist` (builds the release binary and `make dist` first).", ""]
    section = "\n".join(lines)
    print(section)

    text = open(a.markdown, encoding="utf-8").read()
    pattern = re.compile(r"^## Download\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    open(a.markdown, "w", encoding="utf-8").write(text)

if __name__ == "__main__":
    main()
