#!/usr/bin/env bash
# Fuzzes the package reader (Sources/AnkiReaderFuzz) with libFuzzer for $1 seconds (default 300).
#
#   bash Tests/Fuzz/run.sh [SECONDS]          # `make fuzz FUZZ_SECONDS=...` calls this
#
# Environment: FUZZ_JOBS (parallel fuzzing processes, default 1), FUZZ_WORK (work folder, default
# fuzz-work/, git-ignored, kept between runs so campaigns add up), FUZZ_NICE (default 10).
#
# Seeds: the committed regression corpus, the committed fixtures under 64 KiB (hostile and generated,
# minus the decompression bombs, which take seconds per execution), and tiny packages and bare
# collection databases from Tests/Fuzz/make_seeds.py, including small versions of every hostile case
# (the fixtures' zip entries are CRC-checked, so mutations of them rarely reach SQLite, JSON or
# protobuf; the bare databases always do). Inputs are capped at 64 KiB, like the committed corpus.
# libFuzzer runs in fork mode with crashes, timeouts and OOMs ignored, so a finding does not end the
# campaign: every finding is kept in $FUZZ_WORK/artifacts, reproduced for its stack and minimized.
# The harness swallows all errors, so afterwards every new input is also replayed through
# `anki-submit inspect` (FUZZ_CLI, default the release build) to catch errors that are not a
# ReaderError (undocumented exit status, raw database text in the message).
# At the end, inputs that add coverage to the committed corpus are merged into
# Tests/Fixtures/fuzz-corpus (each < 64 KiB, the folder < 1 MB), which `make test` replays
# (Tests/AnkiReaderTests/FuzzCorpusTests.swift). Minimized findings are copied there too, named
# crash-*/timeout-*/oom-*, so they stay as regression inputs. Exit status 1 when anything was found.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-300}"
jobs="${FUZZ_JOBS:-1}"
work="${FUZZ_WORK:-fuzz-work}"
nice_level="${FUZZ_NICE:-10}"
corpus=Tests/Fixtures/fuzz-corpus
max_input=65536          # bytes, per committed corpus file
max_corpus=1000000       # bytes, the whole committed corpus
bin=.build-fuzz/release/AnkiReaderFuzz

mkdir -p "$work/corpus" "$work/seeds" "$work/artifacts" "$work/minimized" "$corpus"

echo "== building AnkiReaderFuzz (libFuzzer + ASan, scratch path .build-fuzz; log: $work/build.log)"
if ! nice -n "$nice_level" swift build --scratch-path .build-fuzz -c release --product AnkiReaderFuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DANKI_FUZZING -Xswiftc -use-ld=lld \
  > "$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log"
  exit 2
fi
tail -n 1 "$work/build.log"

# The reader's temporary files go to a RAM disk when there is one: the harness writes the input and the
# reader unpacks and fsyncs a working copy per execution, which on a busy disk is most of the time.
scratch_parent=/dev/shm
[ -d "$scratch_parent" ] && [ -w "$scratch_parent" ] || scratch_parent="${TMPDIR:-/tmp}"
scratch="$(mktemp -d "$scratch_parent/anki-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
export TMPDIR="$scratch"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:handle_abort=1:symbolize=1"

echo "== seeds"
for f in Tests/Fixtures/hostile/* Tests/Fixtures/generated/*.apkg Tests/Fixtures/generated/*.colpkg; do
  case "$f" in *bomb*|*.md) continue ;; esac
  [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt "$max_input" ] && cp -n "$f" "$work/seeds/" || true
done
if command -v zstd >/dev/null && python3 Tests/Fuzz/make_seeds.py "$work/seeds" >/dev/null; then
  echo "tiny packages and bare databases from Tests/Fuzz/make_seeds.py added"
else
  echo "warning: Tests/Fuzz/make_seeds.py failed (needs python3 and zstd); fuzzing from the fixtures only" >&2
fi
# The committed corpus seeds the run (crash reproducers excluded: they would stop the initial pass).
find "$corpus" -maxdepth 1 -type f ! -name 'crash-*' ! -name 'timeout-*' ! -name 'oom-*' \
  ! -name 'README*' -exec cp -n {} "$work/corpus/" \;
echo "$(ls "$work/corpus" | wc -l) corpus + $(ls "$work/seeds" | wc -l) seed inputs"

echo "== fuzzing for ${seconds}s with $jobs job(s) (log: $work/fuzz.log)"
before_artifacts="$(ls "$work/artifacts" | wc -l)"
set +e
nice -n "$nice_level" "$bin" "$work/corpus" "$work/seeds" \
  -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -max_total_time="$seconds" -max_len="$((max_input - 1))" -timeout=15 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
  -dict=Tests/Fuzz/anki.dict -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
  > "$work/fuzz.log" 2>&1
status=$?
set -e
last="$(grep -E '^#[0-9]+: cov:' "$work/fuzz.log" | tail -n 1 || true)"
echo "libFuzzer exit status $status; last stats: ${last:-none (see $work/fuzz.log)}"
# cumulative numbers for the report: every run of this script appends one line
echo "$(date -u +%FT%TZ) seconds=$seconds jobs=$jobs status=$status $last" >> "$work/campaign.log"

echo "== findings"
found=0
for a in "$work"/artifacts/crash-* "$work"/artifacts/timeout-* "$work"/artifacts/oom-* "$work"/artifacts/leak-*; do
  [ -f "$a" ] || continue
  name="$(basename "$a")"
  [ -f "$work/minimized/$name" ] && continue   # handled in an earlier run
  found=$((found + 1))
  echo "-- $name ($(stat -c %s "$a") bytes)"
  nice -n "$nice_level" "$bin" -runs=1 -timeout=60 -rss_limit_mb=4096 "$a" > "$work/minimized/$name.stack" 2>&1 || true
  grep -E '^(==[0-9]+==ERROR|SUMMARY|    #[0-9]+ )|Fatal error|deadly signal|timeout|out-of-memory' \
    "$work/minimized/$name.stack" | head -n 25 || true
  case "$name" in
    crash-*) nice -n "$nice_level" "$bin" -minimize_crash=1 -max_total_time=120 -timeout=15 \
               -exact_artifact_path="$work/minimized/$name" "$a" > "$work/minimized/$name.minimize.log" 2>&1 || true ;;
  esac
  [ -f "$work/minimized/$name" ] || cp "$a" "$work/minimized/$name"
  size="$(stat -c %s "$work/minimized/$name")"
  echo "   minimized to $size bytes: $work/minimized/$name (stack in $name.stack)"
  [ "$size" -lt "$max_input" ] && cp -n "$work/minimized/$name" "$corpus/$name"
done
echo "$found new finding(s); $(ls "$work"/artifacts | grep -cE '^(crash|timeout|oom|leak)-' || true) in $work/artifacts in all"

# The harness swallows every error, so libFuzzer only sees crashes, hangs and memory blow-ups. An error
# that is not a ReaderError (say GRDB's RowDecodingError escaping the reader) is a bug too: the CLI
# then exits 1 with a raw database message instead of its documented code. So every new input is
# replayed through `anki-submit inspect` (release build) and any exit status other than 0 and 10-34
# is reported, grouped by message, with one reproducer each in $work/findings.
cli="${FUZZ_CLI:-}"
if [ -z "$cli" ]; then
  for c in .build/release/anki-submit .build-bench/release/anki-submit; do [ -x "$c" ] && { cli="$c"; break; }; done
fi
if [ -n "$cli" ] && [ -x "$cli" ]; then
  echo "== replaying new inputs through $cli inspect (other errors than ReaderError)"
  mkdir -p "$work/findings"
  touch "$work/triaged.txt"
  probe="$scratch/probe.bin"
  other=0
  for f in "$work"/corpus/* "$work"/seeds/*; do
    name="$(basename "$f")"
    grep -qxF "$name" "$work/triaged.txt" && continue
    echo "$name" >> "$work/triaged.txt"
    cp "$f" "$probe"
    set +e
    timeout 60 nice -n "$nice_level" "$cli" inspect "$probe" --max-unpacked-size 64M > /dev/null 2> "$scratch/err"
    rc=$?
    set -e
    if [ "$rc" -ne 0 ] && { [ "$rc" -lt 10 ] || [ "$rc" -gt 34 ]; }; then
      signature="$(head -n 1 "$scratch/err" | sed -E 's/database value .* - column/database value ... - column/; s/, row: .*//' | cut -c1-150)"
      echo "exit $rc: $signature" | tee -a "$work/findings/list.txt" >> "$scratch/found.txt"
      key="$(printf '%s' "$rc $signature" | sha1sum | cut -c1-12)"
      [ -f "$work/findings/other-$key" ] || { cp "$f" "$work/findings/other-$key"; other=$((other + 1)); }
    fi
  done
  rm -f "$probe"
  if [ -s "$scratch/found.txt" ]; then   # this run's inputs only ($work/findings/list.txt has all runs)
    sort "$scratch/found.txt" | uniq -c | sort -rn | head -n 20
  fi
  echo "$other new kind(s) of non-ReaderError failure (reproducers: $work/findings/other-*)"
  found=$((found + other))
else
  echo "(no release anki-submit found: skipped the replay through the CLI; set FUZZ_CLI)"
fi

echo "== merging new coverage into $corpus"
# libFuzzer records every input's features in the control file; select_corpus.py then keeps the
# committed inputs and adds, greedily, the inputs with the most new features per byte within budget.
merged="$work/merged"
rm -rf "$merged" "$work/merge.ctl" && mkdir -p "$merged"
find "$corpus" -maxdepth 1 -type f ! -name 'crash-*' ! -name 'timeout-*' ! -name 'oom-*' ! -name 'README*' \
  -exec cp {} "$merged/" \;
nice -n "$nice_level" "$bin" -merge=1 -merge_control_file="$work/merge.ctl" -max_len="$((max_input - 1))" \
  -timeout=15 -rss_limit_mb=2048 "$merged" "$work/corpus" "$work/seeds" > "$work/merge.log" 2>&1 \
  || echo "warning: merge exited non-zero (see $work/merge.log)"
grep -E '^MERGE-OUTER: [0-9]+ new files' "$work/merge.log" || true
# Committed inputs stay put unless the budget is used up (or FUZZ_REBUILD_CORPUS=1): then the corpus is
# chosen afresh, findings pinned, so new coverage can displace inputs that add less per byte.
rebuild=()
used="$(find "$corpus" -maxdepth 1 -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
if [ "${FUZZ_REBUILD_CORPUS:-0}" = 1 ] || [ "$used" -ge $((max_corpus * 95 / 100)) ]; then rebuild=(--rebuild); fi
python3 Tests/Fuzz/select_corpus.py --control "$work/merge.ctl" --corpus "$corpus" \
  --budget "$max_corpus" --max-input "$max_input" "${rebuild[@]}"

if [ "$found" -gt 0 ]; then echo "FINDINGS: see $work/minimized/*.stack and $work/findings/"; exit 1; fi
