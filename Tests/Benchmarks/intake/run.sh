#!/usr/bin/env bash
# Intake benchmark (issue 18): `make bench-intake` runs this.
#
#   bash Tests/Benchmarks/intake/run.sh [BENCH_DIR]      # default bench-data/ (git-ignored)
#
# 1. installs what the measurement needs when missing (Debian `time curl nginx sqlite3`);
# 2. builds anki-submit in release mode (or takes ANKI_SUBMIT_BIN);
# 3. takes the large benchmark submission that `make bench-research` makes
#    (BENCH_DIR/research/large-base/anki-submission.sqlite), making it first when missing;
# 4. runs bench_intake.py: the upload of that file on loopback with `curl --data-binary` to
#    `research serve` next to nginx alone storing the body (`client_body_in_file_only`), alternating,
#    both processes under /usr/bin/time -v; then 50 concurrent uploads of distinct copies of a
#    submission padded to about 5 MB, every 202 checked against the spool. It rewrites the
#    `## Intake` section of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../../.."
bench_dir="${1:-bench-data}"
work="$bench_dir/intake"
nice_level="${BENCH_NICE:-0}"

need_apt=""
for p in time curl nginx sqlite3; do dpkg -s "$p" >/dev/null 2>&1 || need_apt="$need_apt $p"; done
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

large="$bench_dir/research/large-base/anki-submission.sqlite"
if [ ! -f "$large" ]; then
  if [ ! -f "$bench_dir/large-latest.apkg" ]; then
    python3 -c 'import importlib.metadata as m; assert m.version("anki") == "26.9.3"' 2>/dev/null \
      || python3 -m pip install -q anki==26.9.3 zstandard
    echo "Making the large collection in $bench_dir (about a minute)"
    python3 Tests/Fixtures/make_fixtures.py --large --out "$bench_dir"
  fi
  mkdir -p "$(dirname "$large")"
  "$bin" prepare "$bench_dir/large-latest.apkg" --review none --out "$(dirname "$large")" --consent-public yes \
    --language en --timezone Europe/Berlin --json > "$(dirname "$large")/prepare.json"
fi

mkdir -p "$work"
nice -n "$nice_level" python3 Tests/Benchmarks/intake/bench_intake.py --bin "$bin" --work "$work" \
  --large "$large" --small "Tests/Fixtures/generated/berlin-latest.apkg" --reps "${BENCH_REPS:-3}" \
  --json "$work/results.json"
