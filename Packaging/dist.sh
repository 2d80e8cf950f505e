#!/usr/bin/env bash
# make dist [CONFIG=debug]: one self-contained executable for participants,
#   dist/anki-submit-<version>-linux-<arch>.tar.gz and its .sha256
# (CONFIG=debug: ...-debug.tar.gz, the same link from the debug build, for `make test`).
#
# The executable is the package's own anki-submit, linked again from the objects `swift build` made,
# with the link flags `swift build --static-swift-stdlib` uses (-static-stdlib: the Swift runtime and
# Foundation inside) and with a folder of static archives searched first, so that sqlite3, zstd,
# pcre2-8, zlib and libstdc++ come from their .a archives instead of shared libraries. Everything it
# reads at run time (Config/, Wordlists/, the review page) is compiled in. Linking from the existing
# objects costs one link, not a second build, and leaves the development binary as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=${1:-release}
case "$CONFIG" in release|debug) ;; *) echo "dist: CONFIG is release or debug" >&2; exit 2 ;; esac
SWIFT=${SWIFT:-swift}
VERSION=$(sed -n 's/^ *static let current = "\([^"]*\)"$/\1/p' Sources/anki-submit/AnkiSubmit.swift)
[ -n "$VERSION" ] || { echo "dist: no version in Sources/anki-submit/AnkiSubmit.swift" >&2; exit 1; }
ARCH=$(uname -m)
NAME=anki-submit-$VERSION-linux-$ARCH
[ "$CONFIG" = debug ] && NAME=$NAME-debug

# DIST_SKIP_BUILD=1: the objects are known to be current (make test has just built them).
[ "${DIST_SKIP_BUILD:-0}" = 1 ] || "$SWIFT" build -c "$CONFIG" --product anki-submit

# The static archives, in a folder of their own searched before the system's library folders.
TOOLCHAIN_BIN=$(dirname "$(readlink -f "$(command -v "$SWIFT")")")
CLANG=$TOOLCHAIN_BIN/clang
STATIC=.build/dist-static-libs
rm -rf "$STATIC" && mkdir -p "$STATIC"
for lib in libsqlite3.a libzstd.a libpcre2-8.a libz.a libstdc++.a; do
    path=$("$CLANG" -print-file-name="$lib")
    if [ "$path" = "$lib" ] || [ ! -f "$path" ]; then
        echo "dist: $lib not found (install the -dev package: make deps)" >&2; exit 1
    fi
    ln -s "$path" "$STATIC/$lib"
done

# The link command swift build ran for anki-submit (from its llbuild manifest), run again with
# -static-stdlib, the static folder first, no rpath into the toolchain, and the output in dist/.
OUT=dist/$NAME
rm -rf "$OUT" && mkdir -p "$OUT"
python3 - "$CONFIG" "$PWD/$STATIC" "$PWD/$OUT/anki-submit" > .build/dist-link.args <<'PY'
import json, re, sys
config, static, output = sys.argv[1:4]
manifest = open(f".build/{config}.yaml", encoding="utf-8").read()
# The command that writes the anki-submit executable: its "args" are a JSON array on one line.
block = re.search(r'^  "C\.anki-submit-[^"]*-' + config + r'\.exe":\n((?:    .*\n)+)', manifest, re.M)
if not block:
    sys.exit("dist: no link command for anki-submit in .build/%s.yaml" % config)
args_line = next(l for l in block.group(1).splitlines() if l.strip().startswith("args:"))
args = json.loads(args_line.split("args:", 1)[1])
out, i = [args[0], "-L", static], 1
while i < len(args):
    a = args[i]
    if a == "-o":
        out += ["-o", output]; i += 2; continue
    # -Xlinker -rpath=...: where to find shared Swift libraries, of which there are none now.
    if a == "-Xlinker" and i + 1 < len(args) and args[i + 1].startswith("-rpath"):
        i += 2; continue
    out.append(a); i += 1
out.append("-static-stdlib")
# The objects were compiled against the shared Swift modules, whose autolink entries name only the
# libraries they export (-lFoundation): the static archives' own dependencies (_FoundationICU and the
# rest) come from the entries inside those archives, followed until nothing new appears.
import os, subprocess
swiftc = args[0]
extract = os.path.join(os.path.dirname(swiftc), "swift-autolink-extract")
static_dir = os.path.join(os.path.dirname(os.path.dirname(swiftc)), "lib", "swift_static", "linux")
file_list = next(a[1:] for a in args if a.startswith("@") and a.endswith("LinkFileList"))
objects = [l.strip().strip("'\"") for l in open(file_list, encoding="utf-8") if l.strip()]
def entries(paths):
    text = subprocess.run([extract, *paths, "-o", "-"], check=True, capture_output=True, text=True).stdout
    return {l.strip() for l in text.split() if l.startswith("-l")}
known = entries(objects)
# Foundation imports CoreFoundation implementation-only: no entry names it anywhere.
if "-lFoundation" in known:
    known.add("-lCoreFoundation")
pending = list(known)
while pending:
    archive = os.path.join(static_dir, "lib" + pending.pop()[2:] + ".a")
    if os.path.exists(archive):
        for entry in entries([archive]) - known:
            known.add(entry); pending.append(entry)
# ICU is C++: libstdc++ (static, from the folder above) goes in the same group.
known.add("-lstdc++")
out += ["-Xlinker", "--start-group", *sorted(known), "-Xlinker", "--end-group"]
for a in out:
    print(a)
PY
mapfile -t LINK < .build/dist-link.args
"${LINK[@]}"
strip_tool=$(command -v strip || true)
# The symbol table only makes the download bigger (debugging is done with the development build).
[ -n "$strip_tool" ] && "$strip_tool" "$OUT/anki-submit"

# Only glibc may remain (and libgcc_s, see README): anything else means a library was not found static.
unexpected=$(ldd "$OUT/anki-submit" | grep -v -E '^\s*(linux-vdso\.so|/lib64/ld-linux|lib(c|m|pthread|dl|rt|gcc_s)\.so)' || true)
if [ -n "$unexpected" ]; then
    echo "dist: the executable still needs shared libraries beyond glibc:" >&2
    echo "$unexpected" >&2
    exit 1
fi

cp README.md "$OUT/README.md"
cat > "$OUT/HOW-TO-RUN.txt" <<TXT
anki-submit $VERSION for Linux ($ARCH). Needs nothing but the C library every Linux system has
(glibc $(objdump -T "$OUT/anki-submit" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1 | sed 's/GLIBC_//') or newer).

  ./anki-submit inspect ~/Downloads/MyDeck.apkg
  ./anki-submit prepare ~/Downloads/MyDeck.apkg --out ~/anki-submission

The second command opens the review page in your browser. README.md has the details.
TXT
# The test archive is compressed fast (it is unpacked once, here); the participants' one well.
level=9; [ "$CONFIG" = debug ] && level=1
tar -C dist -cf - --owner=0 --group=0 --numeric-owner "$NAME" | gzip -n -"$level" > "dist/$NAME.tar.gz"
(cd dist && sha256sum "$NAME.tar.gz" > "$NAME.tar.gz.sha256")
echo "dist/$NAME.tar.gz ($(du -h "dist/$NAME.tar.gz" | cut -f1)), executable $(du -h "$OUT/anki-submit" | cut -f1)"
