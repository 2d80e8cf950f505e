#!/usr/bin/env bash
# Fuzzes strangers' submissions (Sources/AnkiSubmissionFuzz: the audit and the researcher's ingest) with
# libFuzzer for $1 seconds (default 300).
#
#   bash Tests/Fuzz/run-submissions.sh [SECONDS]      # `make fuzz-submissions FUZZ_SECONDS=...` calls this
#
# Each input is a short recipe of SQLite-level changes (values of every storage class, deleted and copied
# rows, schema edits, views, triggers, indexes, `sqlite_`-like names, statistics rows, edited definitions,
# corrupted pages) applied to one valid submission, which this script makes first with
# `anki-submit prepare` (FUZZ_CLI, default the release build, else the debug build). A crash, a hang
# (-timeout), an error that is neither an audit finding nor a quarantine, or ingest accepting a file
# the audit finds fault with is a finding.
#
# Environment: FUZZ_JOBS (parallel processes, default 1), FUZZ_WORK (default fuzz-work-submissions/,
# git-ignored, kept between runs), FUZZ_NICE (default 10).
# New coverage is merged into Tests/Fixtures/fuzz-corpus-submissions (recipes of at most 256 bytes),
# which `make test` replays (Tests/AnkiResearchTests/SubmissionFuzzCorpusTests.swift); minimized
# findings are copied there too as crash-*/timeout-*/oom-*. Exit status 1 when anything was found.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-300}"
jobs="${FUZZ_JOBS:-1}"
work="${FUZZ_WORK:-fuzz-work-submissions}"
nice_level="${FUZZ_NICE:-10}"
corpus=Tests/Fixtures/fuzz-corpus-submissions
max_input=256
bin=.build-fuzz/release/AnkiSubmissionFuzz

mkdir -p "$work/corpus" "$work/artifacts" "$work/minimized" "$corpus"

echo "== building AnkiSubmissionFuzz (libFuzzer + ASan, scratch path .build-fuzz; log: $work/build.log)"
if ! nice -n "$nice_level" swift build --scratch-path .build-fuzz -c release --product AnkiSubmissionFuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DANKI_FUZZING -Xswiftc -use-ld=lld \
  > "$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log"
  exit 2
fi
tail -n 1 "$work/build.log"

cli="${FUZZ_CLI:-}"
if [ -z "$cli" ]; then
  for c in .build/release/anki-submit .build/debug/anki-submit; do [ -x "$c" ] && { cli="$c"; break; }; done
fi
[ -n "$cli" ] || { echo "no anki-submit binary: run 'make build' or set FUZZ_CLI" >&2; exit 2; }

scratch_parent=/dev/shm
[ -d "$scratch_parent" ] && [ -w "$scratch_parent" ] || scratch_parent="${TMPDIR:-/tmp}"
scratch="$(mktemp -d "$scratch_parent/anki-submission-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
export TMPDIR="$scratch"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:handle_abort=1:symbolize=1"

echo "== a valid submission to mutate (with $cli)"
"$cli" prepare Tests/Fixtures/generated/berlin-latest.apkg --review none --out "$scratch/base" \
  --timezone Europe/Berlin --language de --consent-public yes --confirm-special-categories > /dev/null
export ANKI_FUZZ_SUBMISSION="$scratch/base/anki-submission.sqlite"
"$cli" audit "$ANKI_FUZZ_SUBMISSION" --timezone Europe/Berlin

find "$corpus" -maxdepth 1 -type f ! -name 'crash-*' ! -name 'timeout-*' ! -name 'oom-*' ! -name 'README*' \
  -exec cp -n {} "$work/corpus/" \;
echo "$(ls "$work/corpus" | wc -l) corpus inputs"

echo "== fuzzing for ${seconds}s with $jobs job(s) (log: $work/fuzz.log)"
set +e
nice -n "$nice_level" "$bin" "$work/corpus" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -max_total_time="$seconds" -max_len="$max_input" -timeout=30 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 > "$work/fuzz.log" 2>&1
status=$?
set -e
last="$(grep -E '^#[0-9]+: cov:' "$work/fuzz.log" | tail -n 1 || true)"
echo "libFuzzer exit status $status; last stats: ${last:-none (see $work/fuzz.log)}"
echo "$(date -u +%FT%TZ) seconds=$seconds jobs=$jobs status=$status $last" >> "$work/campaign.log"

echo "== findings"
found=0
for a in "$work"/artifacts/crash-* "$work"/artifacts/timeout-* "$work"/artifacts/oom-*; do
  [ -f "$a" ] || continue
  name="$(basename "$a")"
  [ -f "$work/minimized/$name" ] && continue
  found=$((found + 1))
  echo "-- $name ($(stat -c %s "$a") bytes)"
  nice -n "$nice_level" "$bin" -runs=1 -timeout=120 "$a" > "$work/minimized/$name.stack" 2>&1 || true
  grep -E '^(==[0-9]+==ERROR|SUMMARY|    #[0-9]+ )|Fatal error|deadly signal|timeout|out-of-memory' \
    "$work/minimized/$name.stack" | head -n 25 || true
  case "$name" in
    crash-*) nice -n "$nice_level" "$bin" -minimize_crash=1 -max_total_time=120 -timeout=30 \
               -exact_artifact_path="$work/minimized/$name" "$a" > "$work/minimized/$name.minimize.log" 2>&1 || true ;;
  esac
  [ -f "$work/minimized/$name" ] || cp "$a" "$work/minimized/$name"
  cp -n "$work/minimized/$name" "$corpus/$name"
done
echo "$found new finding(s)"

echo "== merging new coverage into $corpus"
nice -n "$nice_level" "$bin" -merge=1 -max_len="$max_input" -timeout=30 "$corpus" "$work/corpus" \
  > "$work/merge.log" 2>&1 || echo "warning: merge exited non-zero (see $work/merge.log)"
grep -E '^MERGE-OUTER: [0-9]+ new files' "$work/merge.log" || true
echo "$(ls "$corpus" | wc -l) inputs, $(du -sk "$corpus" | cut -f1) KB in $corpus"

if [ "$found" -gt 0 ]; then echo "FINDINGS: see $work/minimized/*.stack"; exit 1; fi
