#!/usr/bin/env python3
"""Measures `anki-submit inspect` and `anki-submit prepare` on the large generated collection next to
reference commands, and writes the `## Machine`, `## Reader (inspect)` and `## Prepare` sections of
BENCHMARKS.md (other sections are left exactly as they are).

Called by Tests/Benchmarks/run.sh (`make bench`), which installs what is needed, builds, and makes
the data. Method: the commands of one table run in the same process, alternating (round r starts
with command r mod n), after one unrecorded warm-up each; every run is timed with a monotonic clock
and its peak resident memory is the `ru_maxrss` that wait4() reports for it (the largest of the
process and its descendants, so shell pipelines count in full). Medians over the rounds are
reported, ratios are of medians. The machine is usually shared, so the load average is recorded too.

Usage: bench.py --bin PATH --data DIR [--reps N] [--inspect-reps N] [--markdown BENCHMARKS.md]
                [--json results.json] [--only inspect|prepare]
"""
import argparse
import json
import os
import platform
import pty
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INSPECT_TARGET_S, INSPECT_TARGET_MB = 1.0, 64
PREPARE_TARGET_RATIO, PREPARE_TARGET_MB = 2.0, 100
TZ, LANG = "Europe/Berlin", "de"
STAGE_MARK = re.compile(r"\u2026 ([a-z0-9-]+)")


def run_once(argv, stage_times=False, env=None, timeout=None):
    """Runs argv; returns wall seconds, peak RSS in MiB, CPU seconds, exit status, stage timings.
    After `timeout` seconds the process group gets SIGINT (anki-submit then removes its temporary
    files), and SIGKILL 15 s later; the sample is marked timed_out."""
    # prepare prints its stages only to a terminal, so stage timing gives it a pseudo-terminal as stderr.
    if stage_times:
        err_read, err_write = pty.openpty()
    else:
        err_read, err_write = os.pipe()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err_write, env=env, start_new_session=True)
    os.close(err_write)
    timed_out = threading.Event()

    def interrupt():
        timed_out.set()
        for sig, delay in ((signal.SIGINT, 15), (signal.SIGKILL, 0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            if delay and done.wait(delay):
                return

    done = threading.Event()
    timer = threading.Timer(timeout, interrupt) if timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    marks, chunks = [], []

    def drain_stderr():
        while True:
            try:
                data = os.read(err_read, 65536)
            except OSError:   # EIO: the terminal's other side closed
                data = b""
            if not data:
                os.close(err_read)
                break
            now = time.perf_counter() - start
            text = data.decode("utf-8", "replace")
            chunks.append(text)
            for m in STAGE_MARK.finditer(text):
                marks.append((m.group(1), now))

    t = threading.Thread(target=drain_stderr)
    t.start()
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    if timer:
        timer.cancel()
    t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stages = None
    if stage_times:
        stages, previous = [("open (unpack + schema)", marks[0][1] if marks else wall)], None
        for i, (name, at) in enumerate(marks):
            end = marks[i + 1][1] if i + 1 < len(marks) else wall
            stages.append((name, end - at))
    return {
        "wall": wall, "rss_mb": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime,
        "status": proc.returncode, "stdout": stdout.decode("utf-8", "replace"),
        "stderr": "".join(chunks)[-2000:], "stages": stages, "timed_out": timed_out.is_set(),
    }


class Command:
    timeout = None   # seconds; a command that runs longer is stopped and not run again

    def __init__(self, key, label, shown, make_argv, stage_times=False):
        self.key, self.label, self.shown, self.make_argv, self.stage_times = key, label, shown, make_argv, stage_times
        self.samples = []
        self.timed_out = None   # the sample that ran out of time, if any

    def run(self, record=True):
        if self.timed_out:
            return None
        work = Path(tempfile.mkdtemp(prefix=f"bench-{self.key}-"))
        try:
            result = run_once(self.make_argv(work), self.stage_times, timeout=self.timeout)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if result["timed_out"]:
            self.timed_out = result
            return result
        if result["status"] != 0:
            sys.exit(f"{self.key} failed with status {result['status']}:\n{result['stderr']}")
        if record:
            self.samples.append(result)
        return result

    def summary(self):
        if not self.samples:   # timed out: report the stopped run as a lower bound
            s = self.timed_out
            out = {"key": self.key, "label": self.label, "command": self.shown, "runs": 0, "timed_out": True,
                   "wall_median": s["wall"], "wall_min": s["wall"], "wall_max": s["wall"],
                   "rss_median": s["rss_mb"], "rss_max": s["rss_mb"], "cpu_median": s["cpu"]}
            if self.stage_times:
                out["stages"] = s["stages"]
            return out
        walls = [s["wall"] for s in self.samples]
        rss = [s["rss_mb"] for s in self.samples]
        cpu = [s["cpu"] for s in self.samples]
        out = {"key": self.key, "label": self.label, "command": self.shown, "runs": len(walls), "timed_out": False,
               "wall_median": statistics.median(walls), "wall_min": min(walls), "wall_max": max(walls),
               "rss_median": statistics.median(rss), "rss_max": max(rss), "cpu_median": statistics.median(cpu)}
        if self.stage_times:
            names = [n for n, _ in self.samples[0]["stages"]]
            out["stages"] = [(n, statistics.median(dict(s["stages"]).get(n, 0.0) for s in self.samples))
                             for n in names]
        return out


def alternate(commands, reps, log):
    for c in commands:
        log(f"  warm-up {c.key}")
        c.run(record=False)
    for r in range(reps):
        order = commands[r % len(commands):] + commands[:r % len(commands)]
        for c in order:
            s = c.run()
            if s:
                log(f"  round {r + 1}/{reps} {c.key:<14} {s['wall']:7.3f} s {s['rss_mb']:7.1f} MiB"
                    + ("  TIMED OUT, not run again" if s["timed_out"] else ""))
    return [c.summary() for c in commands]


def machine_info(binary):
    def first(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    osr = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    try:
        from importlib.metadata import version
        anki_version = version("anki")
    except Exception:  # noqa: BLE001
        anki_version = "?"
    virt = "bare metal"
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout if shutil.which("lscpu") else ""
    m = re.search(r"Hypervisor vendor:\s*(\S+)", lscpu)
    if m:
        virt = f"{m.group(1)} virtual machine"
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "os": osr.get("PRETTY_NAME", "?").strip('"'), "kernel": platform.release(), "virt": virt,
        "swift": first(["swift", "--version"]), "python": platform.python_version(), "anki": anki_version,
        "sqlite3": first(["sqlite3", "--version"]).split(" ")[0], "zstd": "zstd " + (re.findall(r"v[\d.]+", first(["zstd", "--version"])) or ["?"])[0],
        "binary": str(binary), "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def profile(make_argv, log, seconds=None):
    """CPU profile by phase (Tests/Benchmarks/perf_phases.py) as a Markdown table, or None when perf
    is missing or not permitted. make_argv gets a scratch folder (removed afterwards)."""
    if not shutil.which("perf"):
        return None
    with tempfile.TemporaryDirectory(prefix="bench-perf-") as tmp:
        argv = make_argv(Path(tmp))
        log("  profiling with perf: " + " ".join(map(str, argv[:2])))
        cmd = [sys.executable, HERE / "perf_phases.py", "--markdown", "--data", f"{tmp}/perf.data"]
        if seconds:
            cmd += ["--seconds", str(seconds)]
        r = subprocess.run(cmd + ["--"] + [str(a) for a in argv], capture_output=True, text=True, check=False)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def profile_text(met, run):
    if met:
        return ""
    table = run()
    if not table:
        return "\n(A target is missed; no CPU profile: `perf` is missing or not permitted.)\n"
    return ("\nA target is missed, so one more run was recorded with `perf` (DWARF call stacks) and each\n"
            "sample charged to the phase on its stack (Tests/Benchmarks/perf_phases.py; CPU time, perf's own\n"
            "overhead included):\n\n" + table + "\n")


def fmt_s(x):
    return f"{x:.2f} s" if x >= 0.1 else f"{x * 1000:.0f} ms"


def update_markdown(path, sections):
    """Replaces each `## Title` section in place; everything else in the file is kept. A section not
    yet in the file goes after the previous one of `sections`, the first before the file's first
    `## ` heading (so the machine comes first)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\nWritten by `make bench` (Tests/Benchmarks/run.sh) and the other benchmark scripts; each section names its owner.\n"
    previous = None
    for title, body in sections:
        block = f"## {title}\n\n{body.strip()}\n"
        pattern = re.compile(rf"^## {re.escape(title)}[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
        old = pattern.search(text)
        # A hand-written `### Analysis ...` part of a section (profiles, findings) survives re-runs.
        kept = re.search(r"^### Analysis.*", old.group(0), re.S | re.M) if old else None
        if kept:
            block += "\n" + kept.group(0).strip() + "\n"
        if old:
            text = text[:old.start()] + block + "\n" + text[old.end():]
        else:
            anchor = re.compile(rf"^## {re.escape(previous)}[ \t]*\n.*?(?=^## |\Z)", re.S | re.M).search(text) \
                if previous else None
            at = anchor.end() if anchor else (re.search(r"^## ", text, re.M).start() if re.search(r"^## ", text, re.M)
                                              else len(text))
            head = text[:at].rstrip("\n") + "\n\n" if text[:at].strip() else ""
            text = head + block + "\n" + text[at:].lstrip("\n")
        previous = title
    path.write_text(text.rstrip("\n") + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, type=Path)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--inspect-reps", type=int, default=10)
    ap.add_argument("--markdown", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", choices=["inspect", "prepare"])
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds after which a run is stopped and its command not repeated (default 600)")
    args = ap.parse_args()
    binary = args.bin.resolve()
    Command.timeout = args.timeout
    latest = (args.data / "large-latest.apkg").resolve()
    rel = os.path.relpath(latest, ROOT)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    info = machine_info(os.path.relpath(binary, ROOT))
    summary = json.loads((args.data / "large-summary.json").read_text()) if (args.data / "large-summary.json").exists() else {}
    counts = json.loads(subprocess.run([binary, "inspect", latest, "--json"], capture_output=True, text=True,
                                       check=True).stdout)
    size_mb = latest.stat().st_size / 1e6
    results = {"machine": info, "counts": counts}
    sections = []

    if args.only in (None, "inspect"):
        log(f"inspect: {args.inspect_reps} rounds")
        commands = [
            Command("inspect", "`anki-submit inspect --json`", f"anki-submit inspect {rel} --json",
                    lambda w: [binary, "inspect", latest, "--json"]),
            Command("unzip-count", "floor: `unzip -p \\| zstd -d`, then `sqlite3` counts",
                    f"unzip -p {rel} collection.anki21b | zstd -d > DB; sqlite3 DB 'SELECT count(*) ...'",
                    lambda w: ["bash", "-c", f"unzip -p '{latest}' collection.anki21b | zstd -q -d -o '{w}/c.db' && "
                               f"sqlite3 '{w}/c.db' 'SELECT (SELECT count(*) FROM notes), (SELECT count(*) FROM cards), "
                               f"(SELECT count(*) FROM revlog)' > /dev/null"]),
        ]
        res = alternate(commands, args.inspect_reps, log)
        results["inspect"] = res
        ins, floor = res
        ok_t, ok_m = ins["wall_median"] < INSPECT_TARGET_S, ins["rss_max"] < INSPECT_TARGET_MB
        rows = "\n".join(
            f"| {r['label']} | {fmt_s(r['wall_median'])} | {fmt_s(r['wall_min'])} - {fmt_s(r['wall_max'])} | "
            f"{fmt_s(r['cpu_median'])} | {r['rss_median']:.1f} MiB (max {r['rss_max']:.1f}) | "
            f"{r['wall_median'] / ins['wall_median']:.2f} |" for r in res)
        sections.append(("Reader (inspect)", f"""
Owner: benchmarks (Tests/Benchmarks/). Input: `{rel}` ({size_mb:.1f} MB, Latest, {counts['notes']} notes,
{counts['cards']} cards, {counts['revlog']} reviews), made by `make_fixtures.py --large`.
Target (issue 2): under 1 s and under 64 MB peak resident memory.

```sh
{ins['command']}
```

Same run, alternating, {args.inspect_reps} rounds after a warm-up; median wall time (range), median CPU
time (user + sys), peak RSS (`ru_maxrss` from wait4):

| command | median | range | CPU | peak RSS | time vs inspect |
|---|---|---|---|---|---|
{rows}

**Time: {'met' if ok_t else 'MISSED'}** ({fmt_s(ins['wall_median'])} median, target < 1 s).
**Memory: {'met' if ok_m else 'MISSED'}** ({ins['rss_max']:.1f} MiB worst run, target < 64 MB).
{profile_text(ok_t and ok_m, lambda: profile(commands[0].make_argv, log))}"""))

    if args.only in (None, "prepare"):
        log(f"prepare: {args.reps} rounds")
        commands = [
            Command("prepare", "**`anki-submit prepare --review none`**",
                    f"anki-submit prepare {rel} --review none --out OUT --consent-public yes --language {LANG} --timezone {TZ}",
                    lambda w: [binary, "prepare", latest, "--review", "none", "--out", w, "--consent-public", "yes",
                               "--language", LANG, "--timezone", TZ], stage_times=True),
            Command("anki-import", "ref 1: Anki's importer (`anki` 26.9.3)",
                    f"python3 Tests/Benchmarks/reference_anki_import.py {rel} WORK",
                    lambda w: [sys.executable, HERE / "reference_anki_import.py", latest, w / "col"]),
            Command("python-policy", "ref 2: plain Python policy script",
                    f"python3 Tests/Benchmarks/reference_policy.py {rel} OUT.sqlite --timezone {TZ}",
                    lambda w: [sys.executable, HERE / "reference_policy.py", latest, w / "out.sqlite", "--timezone", TZ]),
            Command("sqlite-copy", "ref 3: `unzip \\| zstd -d` + `sqlite3` copy",
                    f"bash Tests/Benchmarks/reference_sqlite_copy.sh {rel} WORK",
                    lambda w: ["bash", HERE / "reference_sqlite_copy.sh", latest, w]),
        ]
        res = alternate(commands, args.reps, log)
        results["prepare"] = res
        prep, ref3 = res[0], res[3]
        ratio = prep["wall_median"] / ref3["wall_median"]
        ok_r = ratio <= PREPARE_TARGET_RATIO and not prep["timed_out"]
        ok_m = prep["rss_max"] < PREPARE_TARGET_MB
        verdict_m = ("MISSED" if not ok_m else "not established (the run was stopped)" if prep["timed_out"] else "met")
        issue = {"anki-import": "8.2 s / 336 MB", "python-policy": "10 s / 615 MB", "sqlite-copy": "0.8 s"}

        def row(r):
            if r["timed_out"]:
                return (f"| {r['label']} | **> {fmt_s(r['wall_median'])}** (stopped at the {fmt_s(Command.timeout)} timeout) | - | "
                        f"> {fmt_s(r['cpu_median'])} | > {r['rss_max']:.0f} MiB | > {r['wall_median'] / ref3['wall_median']:.0f} | "
                        f"{'-' if r is prep else ''} | {issue.get(r['key'], '')} |")
            gt = ">" if prep["timed_out"] else ""
            return (f"| {r['label']} | {fmt_s(r['wall_median'])} | {fmt_s(r['wall_min'])} - {fmt_s(r['wall_max'])} | "
                    f"{fmt_s(r['cpu_median'])} | {r['rss_median']:.0f} MiB (max {r['rss_max']:.0f}) | "
                    f"{r['wall_median'] / ref3['wall_median']:.2f} | {gt}{prep['wall_median'] / r['wall_median']:.2f} | "
                    f"{issue.get(r['key'], '')} |")
        rows = "\n".join(row(r) for r in res)
        stages = prep["stages"] or []
        stage_rows = "\n".join(
            f"| {n}{' (stopped here, unfinished)' if prep['timed_out'] and i == len(stages) - 1 else ''} | "
            f"{fmt_s(t)} | {100 * t / prep['wall_median']:.0f} % |" for i, (n, t) in enumerate(stages))
        shown = "\n".join(c["command"] for c in res)
        runs = (f"prepare ran once and was stopped after {fmt_s(Command.timeout)} (not repeated); the references ran "
                f"{args.reps} rounds" if prep["timed_out"] else f"{args.reps} rounds")
        verdict_t = (f"prepare did not finish within {fmt_s(Command.timeout)} = more than "
                     f"{ratio:.0f}x ref 3" if prep["timed_out"] else f"prepare {fmt_s(prep['wall_median'])} = {ratio:.2f}x ref 3")
        sections.append(("Prepare", f"""
Owner: benchmarks (Tests/Benchmarks/). Same input as above. Target (issue 3): `prepare --review none`
within 2x of reference 3, and peak memory under 100 MB.

```sh
{shown}
```

OUT/WORK are fresh temporary folders per run. All four alternate in one run after one warm-up each
({runs}); median wall time (range), median CPU time (user + sys), peak RSS:

| command | median | range | CPU | peak RSS | time vs ref 3 | prepare / this | issue 3 measured |
|---|---|---|---|---|---|---|---|
{rows}

**Time: {'met' if ok_r else 'MISSED'}** ({verdict_t}, target <= 2x).
**Memory: {verdict_m}** ({'at least ' if prep['timed_out'] else ''}{prep['rss_max']:.0f} MiB worst run, target < 100 MB).

Where prepare's time goes (wall time per stage, from the stage names prepare prints to a terminal; the
first row is everything before the first stage: start-up, unpacking, decompressing, loading the schema;
`write` includes the policy audit of the finished file):

| stage | time | share |
|---|---|---|
{stage_rows}
{profile_text(ok_r and ok_m, lambda: profile(commands[0].make_argv, log, seconds=Command.timeout))}"""))

    info["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    sections.insert(0, ("Machine", f"""
Owner: benchmarks (Tests/Benchmarks/run.sh, `make bench`). Last run {info['date']}.

| | |
|---|---|
| CPU | {info['cpu']}, {info['cores']} cores ({info['virt']}) |
| RAM | {info['ram_gib']} GiB |
| OS | {info['os']}, Linux {info['kernel']} |
| Swift | {info['swift']} |
| binary | `{info['binary']}` (release) |
| references | Python {info['python']}, anki {info['anki']}, sqlite3 {info['sqlite3']}, {info['zstd']} |
| load average (1/5/15 min) | {info['load']} at the start, {info['load_end']} at the end (shared machine: compare within a table, not across runs) |
"""))
    update_markdown(args.markdown, sections)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    log(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
