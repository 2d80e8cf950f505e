#!/usr/bin/env python3
"""`research release` next to pyarrow writing the same Parquet tables (issue 19).

Ours: the release command under /usr/bin/time -v (peak memory of the whole command, SQLite file
included) with ANKI_SUBMIT_RESEARCH_TIMINGS=1, which reports the Parquet stage on its own (queries on
the dataset, encoding, zstd, writing). Reference: pyarrow (zstd, its defaults otherwise) writing the
same tables with the same rows, one file at a time, the rows read beforehand from our files (not
timed): its time is only building the Arrow table and writing, a floor for the same job. Sizes: the
sum of all Parquet files, ours and pyarrow's.

Usage: bench_release.py --bin PATH --work DIR [--reps N]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq


def ours(binary, work, out):
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        start = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-v", "-o", report.name, binary, "research", "release",
                               "--dataset", str(work / "dataset.sqlite"), "--out", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "ANKI_SUBMIT_RESEARCH_TIMINGS": "1"})
        seconds = time.monotonic() - start
        text = Path(report.name).read_text()
    if proc.returncode != 0:
        sys.exit(f"research release failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    stage = re.search(r"\[timing\] release parquet (\d+) ms", proc.stderr)
    return seconds, (int(stage.group(1)) / 1000 if stage else float("nan")), peak


def reference(release, out):
    """pyarrow writes every Parquet table of the release again; returns (write seconds, peak MB)."""
    import resource
    shutil.rmtree(out, ignore_errors=True)
    spent = 0.0
    for path in sorted(release.rglob("*.parquet")):
        table = pq.read_table(path, partitioning=None)
        target = out / path.relative_to(release)
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        pq.write_table(table, target, compression="zstd")
        spent += time.monotonic() - start
    return spent, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def size(folder):
    return sum(p.stat().st_size for p in folder.rglob("*.parquet"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()
    runs = []
    for _ in range(args.reps):
        release = args.work / "out"
        total, stage, peak = ours(args.bin, args.work, release)
        ref_seconds, ref_peak = reference(release, args.work / "pyarrow")
        runs.append((total, stage, peak, ref_seconds, ref_peak))
    best = min(runs, key=lambda r: r[1])
    ours_size, ref_size = size(args.work / "out"), size(args.work / "pyarrow")
    reviews = sum(pq.ParquetFile(p).metadata.num_rows for p in (args.work / "out" / "reviews").rglob("*.parquet"))
    import pyarrow
    print(f"| | anki-submit | pyarrow {pyarrow.__version__} (zstd) |")
    print("|---|---|---|")
    print(f"| reviews | {reviews:,} | same rows |")
    print(f"| Parquet stage, s | {best[1]:.2f} (whole release command {best[0]:.2f}) | {best[3]:.2f} (writing only) |")
    print(f"| peak memory, MB | {best[2]:.0f} (whole command) | {best[4]:.0f} |")
    print(f"| Parquet files, MB | {ours_size / 1e6:.1f} | {ref_size / 1e6:.1f} ({ours_size / ref_size:.2f}x) |")


main()
