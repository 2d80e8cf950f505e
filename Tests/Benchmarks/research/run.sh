#!/usr/bin/env bash
# Researcher-side benchmark (issue 6): `make bench-research` runs this.
#
#   bash Tests/Benchmarks/research/run.sh [BENCH_DIR]      # default bench-data/ (git-ignored)
#
# 1. installs what the measurement needs when missing (Debian `time sqlite3`; anki==26.9.3 from PyPI
#    for the large collection);
# 2. builds anki-submit in release mode (scratch path $BENCH_SCRATCH, default .build; or set
#    ANKI_SUBMIT_BIN);
# 3. makes the inputs once in BENCH_DIR/research: 1,000 small submissions (four real `prepare --review
#    none` outputs of the committed fixtures, each copy given its own token hash so every file is a
#    distinct participant) and 5 large ones (the 40k-note, 1.2M-review collection prepared once, then
#    given five different token hashes);
# 4. runs bench_research.py: `research ingest` of each set next to the sqlite3 shell copying the same
#    tables of the same files into one database (ATTACH + INSERT ... SELECT, one transaction per file),
#    alternating, under /usr/bin/time -v, and rewrites the `## Researcher side` section of BENCHMARKS.md.
#
# BENCH_REPS (default 3) sets the rounds. Raw samples go to BENCH_DIR/research/results.json.
set -euo pipefail
cd "$(dirname "$0")/../../.."
bench_dir="${1:-bench-data}"
work="$bench_dir/research"
nice_level="${BENCH_NICE:-0}"

need_apt=""
for p in time sqlite3; do dpkg -s "$p" >/dev/null 2>&1 || need_apt="$need_apt $p"; done
if [ -n "$need_apt" ]; then
  echo "Installing system packages:$need_apt"
  SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_apt
fi

if [ -n "${ANKI_SUBMIT_BIN:-}" ]; then
  bin="$ANKI_SUBMIT_BIN"
else
  scratch="${BENCH_SCRATCH:-.build}"
  nice -n "$nice_level" swift build -c release --scratch-path "$scratch" --product anki-submit
  bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/anki-submit"
fi
[ -x "$bin" ] || { echo "no anki-submit binary at $bin" >&2; exit 2; }

mkdir -p "$work"
# A copy of a submission with a fresh random token hash: a distinct participant, same content.
retoken() {
  cp "$1" "$2"
  sqlite3 "$2" "UPDATE manifest SET value = '$(head -c 32 /dev/urandom | sha256sum | cut -c1-64)' WHERE key = 'token_hash'"
}

if [ ! -f "$work/small.done" ]; then
  rm -rf "$work/small" "$work/base"
  mkdir -p "$work/small" "$work/base"
  i=0
  for fixture in berlin-latest newyork-latest auckland-latest berlin-legacy2; do
    out="$work/base/$fixture"
    mkdir -p "$out"
    "$bin" prepare "Tests/Fixtures/generated/$fixture.apkg" --review none --out "$out" --consent-public yes \
      --language en --timezone Europe/Berlin --json > "$out/prepare.json"
  done
  bases=("$work"/base/*/anki-submission.sqlite)
  echo "Making 1,000 small submissions in $work/small"
  for n in $(seq -w 1 1000); do
    retoken "${bases[$((10#$n % 4))]}" "$work/small/s$n.sqlite"
  done
  touch "$work/small.done"
fi

if [ ! -f "$work/large.done" ]; then
  if [ ! -f "$bench_dir/large-latest.apkg" ]; then
    python3 -c 'import importlib.metadata as m; assert m.version("anki") == "26.9.3"' 2>/dev/null \
      || python3 -m pip install -q anki==26.9.3 zstandard
    echo "Making the large collection in $bench_dir (about a minute)"
    python3 Tests/Fixtures/make_fixtures.py --large --out "$bench_dir"
  fi
  rm -rf "$work/large" "$work/large-base"
  mkdir -p "$work/large" "$work/large-base"
  "$bin" prepare "$bench_dir/large-latest.apkg" --review none --out "$work/large-base" --consent-public yes \
    --language en --timezone Europe/Berlin --json > "$work/large-base/prepare.json"
  for n in 1 2 3 4 5; do retoken "$work/large-base/anki-submission.sqlite" "$work/large/l$n.sqlite"; done
  touch "$work/large.done"
fi

nice -n "$nice_level" python3 Tests/Benchmarks/research/bench_research.py --bin "$bin" --work "$work" \
  --reps "${BENCH_REPS:-3}" --json "$work/results.json"
