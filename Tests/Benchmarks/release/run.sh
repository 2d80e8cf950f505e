#!/usr/bin/env bash
# Release benchmark (issue 19): `make bench-release` runs this.
#
#   bash Tests/Benchmarks/release/run.sh [BENCH_DIR]      # default bench-data/ (git-ignored)
#
# 1. builds anki-submit in release mode (or uses ANKI_SUBMIT_BIN);
# 2. needs the five large submissions of `make bench-research` (BENCH_DIR/research/large/l*.sqlite,
#    6M reviews in all): run that first; ingests them once into BENCH_DIR/release/dataset.sqlite;
# 3. runs bench_release.py: `research release` (timed stage by stage with
#    ANKI_SUBMIT_RESEARCH_TIMINGS=1, peak memory by /usr/bin/time -v) next to pyarrow writing the same
#    Parquet tables (zstd), and prints a Markdown table for BENCHMARKS.md.
# Takes several minutes on the large data: the lead runs it, not the tests.
set -euo pipefail
cd "$(dirname "$0")/../../.."
bench_dir="${1:-bench-data}"
work="$bench_dir/release"
python="${PYTHON:-.build/venv/bin/python3}"

if [ -n "${ANKI_SUBMIT_BIN:-}" ]; then
  bin="$ANKI_SUBMIT_BIN"
else
  swift build -c release --product anki-submit
  bin="$(swift build -c release --show-bin-path)/anki-submit"
fi
[ -x "$bin" ] || { echo "no anki-submit binary at $bin" >&2; exit 2; }
large=("$bench_dir"/research/large/l*.sqlite)
[ -f "${large[0]}" ] || { echo "no large submissions in $bench_dir/research/large: run make bench-research first" >&2; exit 2; }

mkdir -p "$work"
if [ ! -f "$work/dataset.done" ]; then
  rm -rf "$work/inbox" "$work/dataset.sqlite" "$work/keys"
  mkdir -p "$work/inbox" "$work/keys"
  cp "${large[@]}" "$work/inbox/"
  "$bin" research ingest "$work/inbox" --dataset "$work/dataset.sqlite" --key-file "$work/keys/researcher.key" >/dev/null
  touch "$work/dataset.done"
fi
"$python" Tests/Benchmarks/release/bench_release.py --bin "$bin" --work "$work" --reps "${BENCH_REPS:-1}"
