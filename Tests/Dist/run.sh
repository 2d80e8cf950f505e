#!/usr/bin/env bash
# The participant's download, tested (`make test` runs this after the Swift tests):
# builds the dist archive from the debug build that `make test` has just made (Packaging/dist.sh
# debug: the same link as the release archive, no second build; DIST_SKIP_BUILD=0 runs swift build
# first when calling this script alone), checks its SHA-256, unpacks it into an empty temporary
# folder, and runs it where nothing of the build is visible:
#   - `env -i` (no PATH, no LD_LIBRARY_PATH, no ANKI_SUBMIT_DATA), another working folder;
#   - in a private mount namespace (unshare, when the kernel allows it) with an empty folder mounted
#     over the toolchain's Swift libraries and over this source tree, so that neither those libraries nor
#     Config/ and Wordlists/ can be reached; otherwise (no namespaces) `ldd` showing only glibc
#     libraries is the check, and the script says so;
# and compares `inspect`, `scan`, `prepare --review none` (counts) and `audit --source` with the
# development build (.build/debug/anki-submit reading the source tree's data with --data-dir).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
DECK=${DIST_TEST_DECK:-Tests/Fixtures/generated/berlin-latest.apkg}
DEV=$REPO/.build/debug/anki-submit
SWIFT=${SWIFT:-swift}
# The toolchain's Swift libraries (…/usr/lib/swift, holding linux/libswiftCore.so and the rest): hidden
# below, whether the toolchain lives in /opt/swift or in /usr.
SWIFT_LIBS=$(dirname "$(dirname "$(readlink -f "$(command -v "$SWIFT")")")")/lib/swift
[ -d "$SWIFT_LIBS/linux" ] || { echo "dist test: no Swift libraries at $SWIFT_LIBS" >&2; exit 1; }

fail() { echo "dist test: FAIL: $*" >&2; exit 1; }

DIST_SKIP_BUILD=${DIST_SKIP_BUILD:-1} bash Packaging/dist.sh debug >/tmp/dist-test-build.$$.log 2>&1 || { cat /tmp/dist-test-build.$$.log >&2; fail "make dist CONFIG=debug failed"; }
rm -f /tmp/dist-test-build.$$.log
ARCHIVE=$(ls -t dist/anki-submit-*-linux-"$(uname -m)"-debug.tar.gz | head -1)
NAME=$(basename "$ARCHIVE" .tar.gz)

WORK=$(mktemp -d /tmp/anki-dist-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/download" "$WORK/unpacked" "$WORK/participant" "$WORK/dev"
cp "$ARCHIVE" "$ARCHIVE.sha256" "$WORK/download/"
(cd "$WORK/download" && sha256sum -c --quiet "$NAME.tar.gz.sha256") || fail "checksum"
tar -C "$WORK/unpacked" -xzf "$WORK/download/$NAME.tar.gz"
BIN=$WORK/unpacked/$NAME/anki-submit
[ -x "$BIN" ] || fail "no executable in the archive"

echo "dist test: $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1)); shared libraries it needs:"
ldd "$BIN" | sed 's/^/    /'
if ldd "$BIN" | grep -v -E '^\s*(linux-vdso\.so|/lib64/ld-linux|lib(c|m|pthread|dl|rt|gcc_s)\.so)' | grep -q .; then
    fail "the executable needs shared libraries beyond glibc"
fi
if readelf -d "$BIN" | grep -q -E 'RPATH|RUNPATH'; then fail "the executable has a library search path"; fi

cp "$DECK" "$WORK/participant/deck.apkg"
cp "$DECK" "$WORK/dev/deck.apkg"
PREPARE_ARGS=(--review none --out out --timezone Europe/Berlin --language de --consent-public no
              --confirm-special-categories)

# The commands, run by `runner <binary> <folder> <data-dir args...>`.
commands() {
    local bin=$1; shift
    cd "$1"; shift
    "$bin" --version > version.txt
    "$bin" inspect deck.apkg > inspect.txt
    "$bin" inspect deck.apkg --json > inspect.json
    "$bin" scan deck.apkg "$@" > scan.txt
    "$bin" prepare deck.apkg "${PREPARE_ARGS[@]}" "$@" > prepare.txt 2> prepare.err
    "$bin" audit out/anki-submission.sqlite --source deck.apkg --timezone Europe/Berlin > audit.txt
}

# Development build: the source tree's data, the toolchain's libraries.
(commands "$DEV" "$WORK/dev" --data-dir "$REPO") || fail "the development build failed"

# The download: nothing but the unpacked folder and glibc.
declare -f commands > "$WORK/commands.sh"
cat >> "$WORK/commands.sh" <<SH
PREPARE_ARGS=(${PREPARE_ARGS[*]})
commands "$BIN" "$WORK/participant"
SH
if /usr/bin/unshare -rm /bin/true 2>/dev/null; then
    HIDE="/bin/mount -t tmpfs none '$SWIFT_LIBS' && /bin/mount -t tmpfs none '$REPO' && "
    HIDE+="! test -e '$REPO/Config' && ! test -e '$SWIFT_LIBS/linux' && "
    echo "dist test: running in a mount namespace with $SWIFT_LIBS and $REPO hidden, env -i, from $WORK/participant"
    env -i /usr/bin/unshare -rm /bin/bash -c "cd / && $HIDE /bin/bash '$WORK/commands.sh'" \
        || fail "the unpacked executable failed (output in the lines above)"
else
    echo "dist test: no mount namespaces here: env -i and ldd only (toolchain and source tree not hidden)"
    env -i /bin/bash "$WORK/commands.sh" || fail "the unpacked executable failed"
fi

P=$WORK/participant D=$WORK/dev
grep -q "^anki-submit " "$P/version.txt" && grep -q "^commit [0-9a-f]\{40\}\|^commit unknown" "$P/version.txt" \
    && grep -q "^data policy version [0-9]" "$P/version.txt" || fail "--version: $(cat "$P/version.txt")"
cmp -s "$P/version.txt" "$D/version.txt" || fail "--version differs from the development build"
for f in inspect.txt inspect.json scan.txt audit.txt; do
    cmp -s "$P/$f" "$D/$f" || { diff "$D/$f" "$P/$f" | head -20 >&2; fail "$f differs from the development build"; }
done
grep -q "^Clean" "$P/audit.txt" || fail "audit --source is not clean: $(head -3 "$P/audit.txt")"
# The submission itself differs by its random shift and token: compare what it holds.
counts() {
    sqlite3 "$1/out/anki-submission.sqlite" "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name" |
        while read -r table; do echo "$table $(sqlite3 "$1/out/anki-submission.sqlite" "SELECT count(*) FROM \"$table\"")"; done
}
[ "$(counts "$P")" = "$(counts "$D")" ] || fail "the submissions' row counts differ"
echo "dist test: ok ($(counts "$P" | tr '\n' ' '))"
