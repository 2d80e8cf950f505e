#!/usr/bin/env bash
# make bench-scanner: builds the release binary, installs the Python tools the benchmark compares
# against (Faker for the corpus, Presidio for the side-by-side figures, Anki for the large
# collection), then runs bench.py, which fills the "## Scanner" section of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../../.."
DATA="${1:-bench-data}"
SWIFT="${SWIFT:-swift}"
SCRATCH="${SCRATCH:-.build}"
mkdir -p "$DATA"
$SWIFT build -c release --scratch-path "$SCRATCH" --product anki-submit
python3 -m pip install -q faker==40.54.0 presidio-analyzer==2.2.366 \
  || echo "note: Presidio could not be installed; the table will say so and the pii-eval README figures apply"
if [ ! -f "$DATA/large-latest.apkg" ]; then
  python3 -m pip install -q anki==26.9.3 zstandard
  python3 Tests/Fixtures/make_fixtures.py --large --out "$DATA"
fi
python3 Tests/Benchmarks/scanner/bench.py --binary "$SCRATCH/release/anki-submit" --data "$DATA"
