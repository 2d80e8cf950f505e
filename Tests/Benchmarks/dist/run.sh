#!/usr/bin/env bash
# make bench-dist: the release build and the participants' archive (make dist), then bench_dist.py:
# archive size and start-up (inspect, scanner) of both, into the `## Download` section of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../../.."
SWIFT=${SWIFT:-swift}
"$SWIFT" build -c release --product anki-submit
SWIFT=$SWIFT bash Packaging/dist.sh release
archive=$(ls -t dist/anki-submit-*-linux-"$(uname -m)".tar.gz | head -1)
python3 Tests/Benchmarks/dist/bench_dist.py --dev .build/release/anki-submit --archive "$archive" \
    --deck "${BENCH_DECK:-Tests/Fixtures/generated/berlin-latest.apkg}" --data-dir "$PWD" --reps "${BENCH_REPS:-21}"
