#!/usr/bin/env python3
"""Side-by-side timing of several anki-submit builds' `research ingest` next to the sqlite3 shell copy
of the same files, for before/after comparisons on a shared machine (absolute times drift between
runs; ratios within one run do not). Same measurement as bench_research.py (its `timed` and copy
script): the commands alternate for REPS rounds, each into a fresh dataset; medians are printed.

Usage: python3 Tests/Benchmarks/research/compare.py FOLDER REPS BIN [BIN ...]
  e.g. ... compare.py bench-data/research/small 3 /tmp/old/anki-submit .build/release/anki-submit
"""
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_research as b  # noqa: E402


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    folder = Path(sys.argv[1]).resolve()
    reps = int(sys.argv[2])
    binaries = [Path(x).resolve() for x in sys.argv[3:]]
    files = sorted(folder.glob("*.sqlite"))
    work = Path(tempfile.mkdtemp(prefix="ingest-compare-"))
    script = work / "copy.sql"
    script.write_text(b.sqlite_copy_script([str(f) for f in files], "x"))
    commands = {"sqlite3": lambda d: ["sqlite3", str(d / "copy.sqlite")]}
    for n, binary in enumerate(binaries):
        commands[f"{n}:{binary}"] = (lambda x: lambda d: [str(x), "research", "ingest", str(folder), "--dataset",
                                                          str(d / "dataset.sqlite"), "--key-file", str(d / "key"),
                                                          "--json"])(binary)
    names = list(commands)
    samples = {k: [] for k in names}
    try:
        for r in range(reps):
            for i in range(len(names)):
                label = names[(r + i) % len(names)]
                d = Path(tempfile.mkdtemp(dir=work, prefix="run-"))
                try:
                    seconds, peak, cpu = b.timed(commands[label](d), stdin_path=script if label == "sqlite3" else None)
                    samples[label].append((seconds, peak))
                    print(f"  {label:50} {seconds:7.2f} s {peak:6.0f} MB {cpu:4d}% CPU", flush=True)
                finally:
                    shutil.rmtree(d, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    reference = statistics.median(s for s, _ in samples["sqlite3"])
    for label in names:
        seconds = statistics.median(s for s, _ in samples[label])
        peak = statistics.median(p for _, p in samples[label])
        print(f"{label:50} median {seconds:7.2f} s {peak:6.0f} MB  {seconds / reference:5.2f}x  "
              f"all {[round(s, 2) for s, _ in samples[label]]}")


if __name__ == "__main__":
    main()
