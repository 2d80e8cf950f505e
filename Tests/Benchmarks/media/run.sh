#!/usr/bin/env bash
# Media names benchmark (issue 15): `make bench-media` runs this.
#
#   bash Tests/Benchmarks/media/run.sh [BENCH_DIR]      # default bench-data/ (git-ignored)
#
# 1. builds anki-submit in release mode (scratch path $BENCH_SCRATCH, default .build; or set ANKI_SUBMIT_BIN);
# 2. makes two genanki decks once in BENCH_DIR/media with the tests' venv (`make venv`: genanki 0.13.1):
#    25,000 notes with 50,000 media files (bench-media.apkg) and the same notes without media
#    (bench-nomedia.apkg); BENCH_MEDIA_NOTES changes the size (2 media files per note);
# 3. runs bench_media.py: prepare --review none on both, alternating for BENCH_REPS rounds (default 7),
#    and rewrites the `## Media names` section of BENCHMARKS.md (medians, their ratio, machine, command).
#    With BENCH_BASELINE_BIN=/path/to/older/anki-submit and BENCH_DIR/large-latest.apkg (make bench's
#    collection) it also runs prepare on that collection with both binaries, alternating (BENCH_LARGE_REPS,
#    default 3).
# BENCH_NICE (default 0) is the niceness of every command. Raw samples go to BENCH_DIR/media/results.json.
set -euo pipefail
cd "$(dirname "$0")/../../.."
bench_dir="${1:-bench-data}"
work="$bench_dir/media"
nice_level="${BENCH_NICE:-0}"
notes="${BENCH_MEDIA_NOTES:-25000}"
python=.build/venv/bin/python3
[ -x "$python" ] || { echo "no $python: run make venv first" >&2; exit 2; }
[ -x /usr/bin/time ] || { SUDO=$( [ "$(id -u)" = 0 ] || echo sudo ); $SUDO apt-get install -y -qq time; }

if [ -n "${ANKI_SUBMIT_BIN:-}" ]; then
  bin="$ANKI_SUBMIT_BIN"
else
  scratch="${BENCH_SCRATCH:-.build}"
  nice -n "$nice_level" swift build -c release --scratch-path "$scratch" --product anki-submit
  bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/anki-submit"
fi
[ -x "$bin" ] || { echo "no anki-submit binary at $bin" >&2; exit 2; }

mkdir -p "$work"
if [ ! -f "$work/bench-media.apkg" ] || [ ! -f "$work/bench-nomedia.apkg" ] \
   || [ "$(cat "$work/notes" 2>/dev/null)" != "$notes" ]; then
  echo "Making the media decks in $work ($notes notes)"
  nice -n "$nice_level" "$python" Tests/Fixtures/genanki/make_genanki.py --bench --notes "$notes" --out "$work"
  echo "$notes" > "$work/notes"
fi

large=()
if [ -n "${BENCH_BASELINE_BIN:-}" ] && [ -f "$bench_dir/large-latest.apkg" ]; then
  large=(--large "$bench_dir/large-latest.apkg" --baseline-bin "$BENCH_BASELINE_BIN" --large-reps "${BENCH_LARGE_REPS:-3}")
fi
nice -n "$nice_level" "$python" Tests/Benchmarks/media/bench_media.py --bin "$bin" --data "$work" \
  --reps "${BENCH_REPS:-7}" --json "$work/results.json" "${large[@]}"
