#!/usr/bin/env bash
# Regenerates Sources/AnkiSchemas/*.pb.swift from Schemas/*.proto.
#
# The generated Swift files are committed; builds never run this script.
# Run it only after editing a .proto file, then commit the .proto and .pb.swift together.
#
# Needs:
#   - protoc (Debian: apt-get install protobuf-compiler)
#   - PROTOC_GEN_SWIFT: path to a protoc-gen-swift built from the same swift-protobuf
#     version the package depends on (1.39.0), e.g.
#       git clone https://github.com/apple/swift-protobuf /tmp/swift-protobuf
#       cd /tmp/swift-protobuf && git checkout 1.39.0
#       swift build -c release --product protoc-gen-swift
#       export PROTOC_GEN_SWIFT=/tmp/swift-protobuf/.build/release/protoc-gen-swift
#
# Usage: PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift Schemas/generate-swift.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out="$root/Sources/AnkiSchemas"

: "${PROTOC_GEN_SWIFT:?set PROTOC_GEN_SWIFT to a built protoc-gen-swift (swift-protobuf 1.39.0)}"
[ -x "$PROTOC_GEN_SWIFT" ] || { echo "not executable: $PROTOC_GEN_SWIFT" >&2; exit 1; }
command -v protoc >/dev/null || { echo "protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

mkdir -p "$out"
protoc \
  --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
  --proto_path="$here" \
  --swift_out="$out" \
  --swift_opt=Visibility=Public \
  "$here"/anki_package.proto \
  "$here"/anki_collection.proto

echo "generated with $("$PROTOC_GEN_SWIFT" --version):"
ls -1 "$out"/*.pb.swift
