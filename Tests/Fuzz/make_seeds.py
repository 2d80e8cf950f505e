#!/usr/bin/env python3
"""Small, structurally valid seeds for the package-reader fuzzer (Tests/Fuzz/run.sh).

The committed fixtures are 50-180 KB zips whose entries are CRC-checked, so byte mutations of a
fixture almost never get past the zip layer into the SQLite, JSON and protobuf parsing behind it.
This script writes tiny inputs that do:

  seed-legacy2.anki2 / seed-latest.anki2   bare collection databases (schema 11 and 18), a handful of
                                           notes, 512-byte pages: every mutation reaches SQLite and
                                           the schema loader (no CRC in the way)
  seed-legacy1.apkg, seed-legacy2.apkg,     the same collections packaged as Anki does (Legacy 1:
  seed-latest.apkg                          collection.anki2 without meta; Legacy 2: collection.anki21
                                           + meta + JSON media map; Latest: zstd collection.anki21b +
                                           protobuf meta and zstd media map), with one media file
  seed-latest-stored.apkg                  the Latest package with stored (uncompressed) entries
  seed-schema-12.anki2, seed-zip-slip.apkg, small versions of the hostile cases (Tests/Fixtures/hostile,
  seed-zstd-bomb.apkg, ...                  each ~65 KB there), so mutations start next to every refusal

Only the Python standard library and the `zstd` command-line tool are needed.
Usage: make_seeds.py OUT_DIR [--from Tests/Fixtures/generated]
"""
import argparse
import io
import shutil
import sqlite3
import subprocess
import tempfile
import warnings
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEEP_NOTES_PER_TYPE = 1
KEEP_REVIEWS_PER_CARD = 3


def unicase(a: str, b: str) -> int:
    a, b = a.casefold(), b.casefold()
    return (a > b) - (a < b)


def shrink(db_path: Path) -> None:
    """Keeps one note per note type (with its cards and a few reviews) and rewrites with 512-byte pages."""
    con = sqlite3.connect(db_path)
    con.create_collation("unicase", unicase)
    con.executescript(f"""
        CREATE TEMP TABLE keep AS
          SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY mid ORDER BY id) AS k FROM notes)
          WHERE k <= {KEEP_NOTES_PER_TYPE};
        DELETE FROM notes WHERE id NOT IN (SELECT id FROM temp.keep);
        DELETE FROM cards WHERE nid NOT IN (SELECT id FROM notes);
        DELETE FROM revlog WHERE id NOT IN (
          SELECT id FROM (SELECT id, cid, row_number() OVER (PARTITION BY cid ORDER BY id) AS k FROM revlog)
          WHERE k <= {KEEP_REVIEWS_PER_CARD} AND cid IN (SELECT id FROM cards));
        DELETE FROM graves WHERE oid NOT IN (SELECT oid FROM graves ORDER BY oid LIMIT 2);
    """)
    con.commit()
    con.execute("PRAGMA journal_mode = DELETE")
    con.execute("PRAGMA page_size = 512")
    con.execute("VACUUM")
    con.close()


def zstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-19", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout


def unzstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-d", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout


def write_zip(path: Path, entries, method=zipfile.ZIP_DEFLATED) -> None:
    warnings.filterwarnings("ignore", "Duplicate name")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as z:
        for name, data in entries:
            z.writestr(name, data)
    path.write_bytes(buffer.getvalue())


def media_proto(name: str, size: int) -> bytes:
    """MediaEntries { repeated MediaEntry entries = 1 } with MediaEntry { name = 1, size = 2 }."""
    encoded = name.encode()
    entry = bytes([0x0A, len(encoded)]) + encoded + bytes([0x10, size])
    return bytes([0x0A, len(entry)]) + entry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--from", dest="src", type=Path, default=ROOT / "Tests/Fixtures/generated")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    image = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    with tempfile.TemporaryDirectory(prefix="anki-fuzz-seeds-") as tmp:
        tmp = Path(tmp)
        with zipfile.ZipFile(args.src / "berlin-legacy2.apkg") as z:
            (tmp / "legacy2.db").write_bytes(z.read("collection.anki21"))
        with zipfile.ZipFile(args.src / "berlin-latest.apkg") as z:
            (tmp / "latest.db").write_bytes(unzstd(z.read("collection.anki21b")))
        for name in ("legacy2.db", "latest.db"):
            shrink(tmp / name)
        legacy = (tmp / "legacy2.db").read_bytes()
        latest = (tmp / "latest.db").read_bytes()

    (args.out / "seed-legacy2.anki2").write_bytes(legacy)
    (args.out / "seed-latest.anki2").write_bytes(latest)
    write_zip(args.out / "seed-legacy1.apkg",
              [("collection.anki2", legacy), ("0", image), ("media", b'{"0": "pic.gif"}')])
    write_zip(args.out / "seed-legacy2.apkg",
              [("collection.anki2", b""), ("collection.anki21", legacy), ("0", image),
               ("media", b'{"0": "pic.gif"}'), ("meta", b"\x08\x02")])
    latest_entries = [("meta", b"\x08\x03"), ("collection.anki21b", zstd(latest)), ("0", zstd(image)),
                      ("media", zstd(media_proto("pic.gif", len(image))))]
    write_zip(args.out / "seed-latest.apkg", latest_entries)
    write_zip(args.out / "seed-latest-stored.apkg", latest_entries, method=zipfile.ZIP_STORED)

    # Small versions of the hostile cases (the committed hostile fixtures are ~65 KB, too big to mutate
    # cheaply), so the fuzzer starts next to every refusal path.
    def variant(db: bytes, sql: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="anki-fuzz-variant-") as tmp:
            path = Path(tmp) / "v.db"
            path.write_bytes(db)
            con = sqlite3.connect(path)
            con.create_collation("unicase", unicase)
            con.executescript(sql)
            con.commit()
            con.close()
            return path.read_bytes()

    hostile = {
        "seed-schema-12.anki2": variant(legacy, "UPDATE col SET ver = 12"),
        "seed-schema-19.anki2": variant(latest, "UPDATE col SET ver = 19"),
        "seed-big-id.anki2": variant(legacy, "UPDATE notes SET id = 9007199254740993 WHERE id = (SELECT min(id) FROM notes)"),
        "seed-bad-utf8.anki2": variant(legacy, "UPDATE notes SET flds = CAST(x'48c328ff1f6869' AS TEXT) "
                                               "WHERE id = (SELECT min(id) FROM notes)"),
        "seed-bad-json.anki2": variant(legacy, "UPDATE col SET models = '{\"1\": {\"id\": 1, \"flds\": 7}}', "
                                               "decks = '[]', dconf = '{\"1\": null}', conf = 'x'"),
        "seed-no-notes.anki2": variant(legacy, "DELETE FROM notes; DELETE FROM cards; DELETE FROM revlog"),
        # Columns holding a value of the wrong SQLite type (what the fuzzer's first campaign found
        # escaping as GRDB's RowDecodingError instead of a ReaderError).
        "seed-col-models-blob.anki2": variant(legacy, "UPDATE col SET models = CAST(x'ff' || models AS BLOB)"),
        "seed-fields-ord-text.anki2": variant(latest, "UPDATE fields SET ord = 'x' || ord WHERE ord = 0"),
        "seed-templates-config-int.anki2": variant(latest, "UPDATE templates SET config = 0"),
        "seed-latest-bad-proto.anki2": variant(latest, "UPDATE notetypes SET config = x'0aff'; "
                                                       "UPDATE deck_config SET config = x'1a05000000'; "
                                                       "UPDATE config SET val = x'7b'"),
    }
    for name, data in hostile.items():
        (args.out / name).write_bytes(data)
    write_zip(args.out / "seed-zip-slip.apkg", [("../collection.anki21", legacy), ("meta", b"\x08\x02")])
    write_zip(args.out / "seed-meta-too-new.apkg", [("collection.anki21", legacy), ("meta", b"\x08\x04")])
    write_zip(args.out / "seed-media-missing.apkg",
              [("collection.anki21", legacy), ("media", b'{"0": "a.jpg", "7": "b.mp3"}'), ("0", image)])
    write_zip(args.out / "seed-duplicate.apkg", [("collection.anki21", legacy), ("collection.anki21", legacy)])
    write_zip(args.out / "seed-truncated-zstd.apkg",
              [("meta", b"\x08\x03"), ("collection.anki21b", zstd(latest)[:2000])], method=zipfile.ZIP_STORED)
    # a zstd bomb small enough to mutate: 64 MiB of zeros (the fuzz limit) in a few KB
    write_zip(args.out / "seed-zstd-bomb.apkg",
              [("meta", b"\x08\x03"), ("collection.anki21b", zstd(b"\0" * (65 << 20)))], method=zipfile.ZIP_STORED)
    (args.out / "seed-truncated.apkg").write_bytes((args.out / "seed-legacy2.apkg").read_bytes()[:3000])

    for f in sorted(args.out.glob("seed-*")):
        print(f"{f.stat().st_size:>8}  {f}")


if __name__ == "__main__":
    main()
