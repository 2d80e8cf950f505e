#!/usr/bin/env bash
# Fuzzes the package reader with libFuzzer for $1 seconds (default 300).
# Seeds: the committed corpus plus every small fixture; new crash-free inputs that add coverage are
# merged back into Tests/Fixtures/fuzz-corpus (kept small), which the test suite replays.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-300}"
swift build --scratch-path .build-fuzz -c release --product AnkiReaderFuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DANKI_FUZZING -Xswiftc -use-ld=lld
work=fuzz-work
mkdir -p "$work/corpus" "$work/artifacts" Tests/Fixtures/fuzz-corpus
cp -n Tests/Fixtures/fuzz-corpus/* "$work/corpus/" 2>/dev/null || true
for f in Tests/Fixtures/hostile/* Tests/Fixtures/generated/*.apkg; do
  [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 200000 ] && cp -n "$f" "$work/corpus/" || true
done
ASAN_OPTIONS=detect_leaks=0 .build-fuzz/release/AnkiReaderFuzz "$work/corpus" \
  -max_total_time="$seconds" -max_len=300000 -timeout=20 -rss_limit_mb=4096 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 2>&1 | tail -n 25
# Keep a minimal coverage-preserving subset of small inputs as the regression corpus.
mkdir -p "$work/min"
ASAN_OPTIONS=detect_leaks=0 .build-fuzz/release/AnkiReaderFuzz -merge=1 -max_len=65536 "$work/min" "$work/corpus" 2>&1 | tail -n 2
find "$work/min" -type f -size -64k -exec cp -n {} Tests/Fixtures/fuzz-corpus/ \;
echo "corpus: $(ls Tests/Fixtures/fuzz-corpus | wc -l) files, $(du -sh Tests/Fixtures/fuzz-corpus | cut -f1)"
if ls "$work/artifacts"/crash-* >/dev/null 2>&1; then echo "CRASHES FOUND in $work/artifacts"; exit 1; fi
