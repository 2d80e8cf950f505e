#!/usr/bin/env bash
# Reference 3 of the `prepare` benchmark: the floor. Decompress the collection with the command-line
# tools and copy the tables a submission is made from (notes, cards, revlog, decks, col) into a new
# database with the sqlite3 shell (ATTACH + INSERT ... SELECT, one transaction). No policy at all.
# Usage: reference_sqlite_copy.sh PACKAGE WORK_DIR   (WORK_DIR is created; the caller removes it)
set -euo pipefail
package="$1"; work="$2"
mkdir -p "$work"
# Schema 18 keeps decks in their own table (its name column is COLLATE unicase, which the shell does
# not know, so the table is declared rather than copied with CREATE TABLE AS); Legacy keeps them in col.
decks_create=""; decks_insert=""
# The listing is read whole first: `grep -q` stopping early would leave unzip with a broken pipe,
# which pipefail turns into a failed test (a race that made this script fail now and then).
listing=$(unzip -Z1 "$package")
if grep -qx collection.anki21b <<< "$listing"; then
  decks_create="CREATE TABLE decks (id INTEGER PRIMARY KEY, name TEXT, mtime_secs INTEGER, usn INTEGER, common BLOB, kind BLOB);"
  decks_insert="INSERT INTO decks SELECT * FROM src.decks;"
  unzip -p "$package" collection.anki21b | zstd -q -d -o "$work/collection.db"
else
  unzip -p "$package" collection.anki21 > "$work/collection.db"
fi
sqlite3 "$work/copy.db" <<SQL
ATTACH '$work/collection.db' AS src;
BEGIN;
CREATE TABLE notes AS SELECT * FROM src.notes WHERE 0;
CREATE TABLE cards AS SELECT * FROM src.cards WHERE 0;
CREATE TABLE revlog AS SELECT * FROM src.revlog WHERE 0;
CREATE TABLE col AS SELECT * FROM src.col WHERE 0;
$decks_create
INSERT INTO notes SELECT * FROM src.notes;
INSERT INTO cards SELECT * FROM src.cards;
INSERT INTO revlog SELECT * FROM src.revlog;
$decks_insert
INSERT INTO col SELECT * FROM src.col;
COMMIT;
SQL
