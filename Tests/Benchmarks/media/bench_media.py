#!/usr/bin/env python3
"""Media names benchmark (issue 15): prepare on a deck with 50,000 media names next to the same deck
without media, alternating in one run; medians and their ratio go to the `## Media names` section of
BENCHMARKS.md. With --large and --baseline-bin, also prepare on the large collection (make bench's) with
this binary next to another one (the build before the change), alternating.

    python3 Tests/Benchmarks/media/bench_media.py --bin BIN --data bench-data/media [--reps 7]
        [--large bench-data/large-latest.apkg --baseline-bin OLD_BIN --large-reps 3]
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

PREPARE_ARGS = ["--review", "none", "--timezone", "UTC", "--consent-public", "yes", "--language", "de",
                "--confirm-special-categories", "--json"]


def machine_info():
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(),
            "load_before": os.getloadavg()}


def prepare(binary: Path, deck: Path, work: Path) -> dict:
    """One `prepare --review none` run: wall seconds and peak memory (/usr/bin/time -v)."""
    out = Path(tempfile.mkdtemp(dir=work, prefix="out-"))
    try:
        command = ["/usr/bin/time", "-f", "%M", str(binary), "prepare", str(deck), "--out", str(out)] + PREPARE_ARGS
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"prepare {deck.name} exited {done.returncode}: {done.stderr.strip()[-400:]}")
        peak_kb = int(done.stderr.strip().splitlines()[-1])
        report = json.loads(done.stdout)
        return {"seconds": seconds, "peak_mb": peak_kb / 1024, "notes": report.get("notes")}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def alternate(runs: dict, reps: int, work: Path) -> dict:
    """Each round runs every entry once, the order rotated each round; returns the samples per label."""
    samples = {label: [] for label in runs}
    labels = list(runs)
    for r in range(reps):
        for i in range(len(labels)):
            label = labels[(r + i) % len(labels)]
            binary, deck = runs[label]
            sample = prepare(binary, deck, work)
            samples[label].append(sample)
            print(f"round {r + 1}/{reps} {label}: {sample['seconds']:.2f} s, {sample['peak_mb']:.0f} MB", flush=True)
    return samples


def media_files(deck: Path) -> int:
    import zipfile
    with zipfile.ZipFile(deck) as z:
        return sum(1 for n in z.namelist() if n.isdigit())


def rewrite(markdown: Path, title: str, body: str):
    text = markdown.read_text() if markdown.exists() else "# Benchmarks\n"
    block = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    markdown.write_text(text.rstrip("\n") + "\n")


def table(samples: dict, decks: dict, reference: str) -> tuple[str, dict]:
    medians = {label: statistics.median(s["seconds"] for s in runs) for label, runs in samples.items()}
    lines = ["| deck | media files | notes | prepare, median | rounds (s) | peak memory | vs " + reference + " |",
             "|---|---:|---:|---:|---|---:|---:|"]
    for label, runs in samples.items():
        rounds = ", ".join(f"{s['seconds']:.2f}" for s in runs)
        peak = statistics.median(s["peak_mb"] for s in runs)
        lines.append(f"| {label} | {decks[label]['media']:,} | {runs[0]['notes'] or '?':,} | {medians[label]:.2f} s | "
                     f"{rounds} | {peak:.0f} MB | {medians[label] / medians[reference]:.2f}x |")
    return "\n".join(lines), medians


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path, help="folder with bench-media.apkg and bench-nomedia.apkg")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--large", type=Path, help="make bench's large collection (optional)")
    parser.add_argument("--baseline-bin", type=Path, help="the binary before the change, for --large")
    parser.add_argument("--large-reps", type=int, default=3)
    parser.add_argument("--markdown", type=Path, default=Path("BENCHMARKS.md"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--command", default="make bench-media")
    args = parser.parse_args()
    binary = args.bin.resolve()
    work = Path(tempfile.mkdtemp(dir=args.data, prefix="run-"))
    info = machine_info()
    started = datetime.now(timezone.utc)
    with_media, without = args.data / "bench-media.apkg", args.data / "bench-nomedia.apkg"
    labels = {f"with media ({with_media.name})": with_media, f"without media ({without.name})": without}
    decks = {label: {"media": media_files(path)} for label, path in labels.items()}
    samples = alternate({label: (binary, path) for label, path in labels.items()}, args.reps, work)
    reference = list(labels)[1]
    body_table, medians = table(samples, decks, reference)
    ratio = medians[list(labels)[0]] / medians[reference]

    large_text = ""
    results = {"machine": info, "media": samples}
    if args.large and args.baseline_bin:
        runs = {"this build": (binary, args.large), "before (baseline binary)": (args.baseline_bin.resolve(), args.large)}
        large = alternate(runs, args.large_reps, work)
        results["large"] = large
        lm = {label: statistics.median(s["seconds"] for s in r) for label, r in large.items()}
        rows = ["| binary | prepare, median | rounds (s) | peak memory | vs before |", "|---|---:|---|---:|---:|"]
        for label, r in large.items():
            rounds = ", ".join(f"{s['seconds']:.2f}" for s in r)
            rows.append(f"| {label} | {lm[label]:.2f} s | {rounds} | "
                        f"{statistics.median(s['peak_mb'] for s in r):.0f} MB | "
                        f"{lm[label] / lm['before (baseline binary)']:.2f}x |")
        large_text = (f"\n\nThe large collection of `make bench` ({args.large.name}, 40k notes, 3 media files), "
                      f"{args.large_reps} alternating rounds, this build next to `{args.baseline_bin}` (the build "
                      f"before the change):\n\n" + "\n".join(rows))
    shutil.rmtree(work, ignore_errors=True)
    info["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))

    load = lambda t: " ".join(f"{x:.1f}" for x in t)  # noqa: E731
    verdict = "met" if ratio <= 1.2 else "missed"
    body = f"""
Owner: media (Tests/Benchmarks/media/run.sh, `{args.command}`). Measured {started:%Y-%m-%d %H:%M} UTC,
{args.reps} alternating rounds (the order rotates each round), medians. Machine: {info['cpu']},
{info['cores']} cores, {info['memory']}, Linux {info['kernel']}; load average {load(info['load_before'])} before,
{load(info['load_after'])} after (the machine is shared: compare within a table, not across runs). Binary:
`{args.bin}`.

Decks made by genanki (Tests/Fixtures/genanki/make_genanki.py --bench): the same notes, each with its
`[sound:audio_000123_haus.mp3]` and `<img src="image_000123_haus.jpg">`, once with every one of those media
files in the package, once with neither the references nor the files. Command per run: `anki-submit prepare
DECK --out DIR {' '.join(PREPARE_ARGS)}` (wall time of the whole command; peak memory from /usr/bin/time).

{body_table}

Target of issue 15, with 50,000 media names at most 1.2x the deck without media: **{ratio:.2f}x ({verdict})**.{large_text}
"""
    rewrite(args.markdown, "Media names", body)
    print(f"ratio {ratio:.2f}x ({verdict}); written to {args.markdown}")


if __name__ == "__main__":
    main()
