#!/usr/bin/env bash
# Regenerates Sources/AnkiResearch/{Dataset,Release}Schema.swift from Schemas/{dataset,release}.sql.
# A test (SchemaFileTests) fails when the two drift apart.
set -euo pipefail
cd "$(dirname "$0")/../../.."
gen() {
  local name=$1 file=$2 doc=$3
  {
    echo "// The text of $file; a test keeps the two identical (regenerate: Tests/Benchmarks/research/gen-schemas.sh)."
    echo "public enum $name {"
    echo "    /// Bumped whenever a table or column changes."
    echo "    public static let version = 1"
    echo
    echo "    /// $doc"
    echo '    public static let sql = #"""'
    cat "$file"
    echo '"""#'
    echo "}"
  } > "Sources/AnkiResearch/$name.swift"
}
gen DatasetSchema Schemas/dataset.sql 'The working dataset'"'"'s tables (`research ingest` creates them).'
gen ReleaseSchema Schemas/release.sql 'The public release'"'"'s tables (`research release` writes them).'
