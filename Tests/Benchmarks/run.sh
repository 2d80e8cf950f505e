#!/usr/bin/env bash
# Benchmarks for issue 2 (inspect) and issue 3 (prepare): `make bench` runs this.
#
#   bash Tests/Benchmarks/run.sh [BENCH_DIR]      # default bench-data/ (git-ignored)
#
# 1. installs what the measurement needs when missing: Debian `time sqlite3 zstd unzip`, and from PyPI
#    anki==26.9.3 (the fixture generator and reference 1) and zstandard (reference 2);
# 2. builds anki-submit in release mode (scratch path $BENCH_SCRATCH, default .build, which `make bench`
#    has just built; or set ANKI_SUBMIT_BIN to an existing binary);
# 3. makes the large collection once (40k notes, 80k cards, ~1.2M reviews, ~49 MB Latest .apkg);
# 4. runs Tests/Benchmarks/bench.py: inspect next to a decompress-and-count floor, prepare next to the
#    three references of issue 3, all alternating in one run, nice'd; it rewrites the sections
#    `## Machine`, `## Reader (inspect)` and `## Prepare` of BENCHMARKS.md and leaves the others alone.
#
# BENCH_REPS (default 5) and BENCH_INSPECT_REPS (default 10) set the rounds; BENCH_ONLY=inspect|prepare
# runs one table; BENCH_TIMEOUT (default 600 s) stops a run that takes longer (it is then not repeated
# and reported as a lower bound). When a target is missed and `perf` works, one more run is profiled. Raw samples go to BENCH_DIR/results.json.
# BENCH_NICE (default 10) is the niceness of every command; use 0 on an idle machine for figures to
# record: niced, prepare (two threads) loses a core to any other process, the references hardly.
set -euo pipefail
cd "$(dirname "$0")/../.."
bench_dir="${1:-bench-data}"
nice_level="${BENCH_NICE:-10}"

need_apt=""
for p in time sqlite3 zstd unzip; do dpkg -s "$p" >/dev/null 2>&1 || need_apt="$need_apt $p"; done
if [ -n "$need_apt" ]; then
  echo "Installing system packages:$need_apt"
  SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_apt
fi
# The tests' venv (`make venv`) has the real Anki backend the references use.
python=.build/venv/bin/python3
[ -x "$python" ] || { echo "no $python: run make venv first" >&2; exit 2; }

if [ -n "${ANKI_SUBMIT_BIN:-}" ]; then
  bin="$ANKI_SUBMIT_BIN"
else
  scratch="${BENCH_SCRATCH:-.build}"
  nice -n "$nice_level" swift build -c release --scratch-path "$scratch" --product anki-submit
  bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/anki-submit"
fi
[ -x "$bin" ] || { echo "no anki-submit binary at $bin" >&2; exit 2; }

if [ ! -f "$bench_dir/large-latest.apkg" ]; then
  echo "Making the large collection in $bench_dir (about a minute)"
  nice -n "$nice_level" "$python" Tests/Fixtures/make_fixtures.py --large --out "$bench_dir"
fi
ls -l "$bench_dir"/large-latest.apkg

only=()
[ -n "${BENCH_ONLY:-}" ] && only=(--only "$BENCH_ONLY")
nice -n "$nice_level" "$python" Tests/Benchmarks/bench.py --bin "$bin" --data "$bench_dir" \
  --reps "${BENCH_REPS:-5}" --inspect-reps "${BENCH_INSPECT_REPS:-10}" --timeout "${BENCH_TIMEOUT:-600}" \
  --json "$bench_dir/results.json" "${only[@]}"
