#!/usr/bin/env python3
"""Reference 2 of the `prepare` benchmark: the data policy applied by a plain Python script.

This is deliberately the straightforward version a researcher would write in an afternoon (standard
library plus `zstandard`, whole tables fetched into lists, one Python loop per table), not a tuned
one: it is the yardstick issue 3 compares `anki-submit prepare --review none` against. It implements
the same policy for a Latest (schema 18) or Legacy 2 (schema 11) .apkg:

  decompress the collection; drop every excluded column/table (only kept columns are written);
  one random time offset (1-10 years, ms resolution) for revlog.id, note/card creation, col.crt,
  learning cards' due, odue timestamps, lrt in cards.data, ignoreRevlogsBeforeDate;
  review days in the learner's time zone (zoneinfo, DST-aware) minus the rollover hour, relative to
  the first day; dense ids in ascending order of the original ids; deck names deck-N::deck-M;
  note types reduced to kind + field names; cards.data reduced to s, d, dr, decay, lrt;
  media references replaced by neutral placeholders of their kind.

Usage: reference_policy.py PACKAGE OUT.sqlite [--timezone Europe/Berlin] [--rollover 4]
It is not part of the product and makes no privacy claims; `anki-submit audit` is the real check.
"""
import argparse
import json
import os
import re
import secrets
import sqlite3
import sys
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

try:
    import zstandard
except ImportError:  # pragma: no cover - the benchmark installs it
    zstandard = None

DAY_MS = 86_400_000
KEEP_DATA_KEYS = ("s", "d", "dr", "decay")
IMG = re.compile(r"""(<img[^>]*?\bsrc\s*=\s*)(["']?)([^"'>\s]+)\2""", re.I)
SOUND = re.compile(r"\[sound:[^\]]*\]")
VIDEO_EXT = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".ogv", ".mpg", ".mpeg")


def decompress(data: bytes) -> bytes:
    if zstandard is not None:
        # Anki's frames do not always declare their size: stream them.
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    import subprocess
    return subprocess.run(["zstd", "-q", "-d", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout


# --- minimal protobuf reading (schema 18 keeps note types, decks and presets as protobuf blobs) ---
def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def proto_fields(buf):
    """Yields (field number, wire type, value) for every field of a message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type")
        yield field, wire, value


def floats(wire, value):
    import struct
    if wire == 2:
        return list(struct.unpack(f"<{len(value) // 4}f", value))
    return [struct.unpack("<f", value)[0]]


def unicase(a, b):
    a, b = a.casefold(), b.casefold()
    return (a > b) - (a < b)


def neutral_media(text, counter):
    def img(m):
        counter[0] += 1
        return f"{m.group(1)}{m.group(2)}image{m.group(2)}"

    def sound(m):
        counter[0] += 1
        name = m.group(0)[7:-1].lower()
        return "[sound:video]" if name.endswith(VIDEO_EXT) else "[sound:audio]"

    return SOUND.sub(sound, IMG.sub(img, text))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("package")
    ap.add_argument("out")
    ap.add_argument("--timezone", default="Europe/Berlin")
    ap.add_argument("--rollover", type=int)
    args = ap.parse_args()
    tz = ZoneInfo(args.timezone)

    # 1. decompress the collection into a temporary file
    work = tempfile.mkdtemp(prefix="refpolicy-")
    src_path = os.path.join(work, "collection.db")
    with zipfile.ZipFile(args.package) as z:
        names = set(z.namelist())
        if "collection.anki21b" in names:
            data = decompress(z.read("collection.anki21b"))
        elif "collection.anki21" in names:
            data = z.read("collection.anki21")
        else:
            data = z.read("collection.anki2")
    with open(src_path, "wb") as f:
        f.write(data)
    del data
    src = sqlite3.connect(src_path)
    src.create_collation("unicase", unicase)
    ver = src.execute("select ver from col").fetchone()[0]
    modern = ver >= 15

    # 2. collection settings
    crt = src.execute("select crt from col").fetchone()[0]
    if modern:
        conf = {k: json.loads(v) for k, v in src.execute("select KEY, val from config")}
    else:
        conf = json.loads(src.execute("select conf from col").fetchone()[0])
    rollover = args.rollover if args.rollover is not None else conf.get("rollover", 4)
    sched_ver = conf.get("schedVer", 2)

    # 3. the secret offset: 1-10 years into the past, never a whole number of days
    while True:
        shift_ms = -(365 * DAY_MS + secrets.randbelow(9 * 365 * DAY_MS))
        if shift_ms % DAY_MS and (shift_ms // 1000) % 86400:
            break
    shift_s = shift_ms // 1000

    # 4. note types, decks, presets (small)
    if modern:
        note_types = []
        for ntid, cfg in src.execute("select id, config from notetypes order by id"):
            kind, sort_idx = 0, 0
            for field, _, value in proto_fields(cfg):
                if field == 1:
                    kind = value
                elif field == 2:
                    sort_idx = value
            names_ = [n for (n,) in src.execute("select name from fields where ntid=? order by ord", (ntid,))]
            note_types.append((ntid, kind, sort_idx, names_))
        decks = []
        for did, name, kind in src.execute("select id, name, kind from decks order by id"):
            conf_id, filtered = None, True
            for field, _, value in proto_fields(kind):
                if field == 1:
                    filtered = False
                    for f2, _, v2 in proto_fields(value):
                        if f2 == 1:
                            conf_id = v2
            decks.append((did, name.split("\x1f"), conf_id, filtered))
        presets = []
        for pid, cfg in src.execute("select id, config from deck_config order by id"):
            p = {"params": {}, "dr": None, "ignore": None, "new": None, "max_ivl": None}
            for field, wire, value in proto_fields(cfg):
                if field in (3, 5, 6):
                    key = {3: "fsrsWeights", 5: "fsrsParams5", 6: "fsrsParams6"}[field]
                    p["params"].setdefault(key, []).extend(floats(wire, value))
                elif field == 9:
                    p["new"] = value
                elif field == 16:
                    p["max_ivl"] = value
                elif field == 37:
                    p["dr"] = floats(wire, value)[0]
                elif field == 46:
                    p["ignore"] = value.decode()
            presets.append((pid, p))
    else:
        models = json.loads(src.execute("select models from col").fetchone()[0])
        note_types = [(int(m["id"]), m.get("type", 0), m.get("sortf", 0), [f["name"] for f in m["flds"]])
                      for m in sorted(models.values(), key=lambda m: int(m["id"]))]
        decks = [(int(d["id"]), d["name"].split("::"), d.get("conf"), bool(d.get("dyn")))
                 for d in sorted(json.loads(src.execute("select decks from col").fetchone()[0]).values(),
                                 key=lambda d: int(d["id"]))]
        presets = []
        for c in sorted(json.loads(src.execute("select dconf from col").fetchone()[0]).values(),
                        key=lambda c: int(c["id"])):
            params = {k: c[k] for k in ("fsrsWeights", "fsrsParams5", "fsrsParams6") if c.get(k)}
            presets.append((int(c["id"]), {"params": params, "dr": c.get("desiredRetention"),
                                            "ignore": c.get("ignoreRevlogsBeforeDate") or None,
                                            "new": c.get("new", {}).get("perDay"),
                                            "max_ivl": c.get("rev", {}).get("maxIvl")}))

    nt_map = {old: i + 1 for i, (old, *_rest) in enumerate(note_types)}
    deck_map = {old: i + 1 for i, (old, *_rest) in enumerate(decks)}
    preset_map = {old: i + 1 for i, (old, _) in enumerate(presets)}
    path_to_id = {tuple(parts): did for did, parts, _, _ in decks}

    # 5. the big tables, fetched whole
    notes = src.execute("select id, mid, tags, flds from notes order by id").fetchall()
    cards = src.execute("select id, nid, did, ord, type, queue, due, ivl, factor, reps, lapses, left, "
                        "odue, odid, data from cards order by id").fetchall()
    revlog = src.execute("select id, cid, ease, ivl, lastIvl, factor, time, type from revlog "
                         "order by id").fetchall()
    note_map = {n[0]: i + 1 for i, n in enumerate(notes)}
    card_map = {c[0]: i + 1 for i, c in enumerate(cards) if c[1] in note_map}

    # 6. review days, before any time moves
    def day_of(ms):
        local = datetime.fromtimestamp(ms / 1000, tz) - timedelta(hours=rollover)
        return local.date().toordinal()

    days = [day_of(r[0]) for r in revlog if r[1] in card_map]
    first_day = min(days) if days else 0

    # 7. write the submission
    out = sqlite3.connect(args.out)
    out.execute("pragma secure_delete = on")
    schema = (Path(__file__).resolve().parents[2] / "Schemas" / "submission.sql").read_text()
    out.executescript(schema)
    out.execute("insert into col values (1, ?, ?, ?, ?, NULL)", (crt + shift_s, ver, sched_ver, rollover))
    for i, (old, kind, sort_idx, field_names) in enumerate(note_types):
        out.execute("insert into note_types values (?, ?, ?)", (i + 1, "cloze" if kind == 1 else "normal", sort_idx))
        out.executemany("insert into fields values (?, ?, ?)",
                        [(i + 1, o, n) for o, n in enumerate(field_names)])
    for old, p in presets:
        ignore_ms = ignore_date = None
        if p["ignore"]:
            t = datetime.fromisoformat(p["ignore"]).replace(tzinfo=ZoneInfo("UTC"))
            ignore_ms = int(t.timestamp() * 1000) + shift_ms
            ignore_date = datetime.fromtimestamp(ignore_ms / 1000, ZoneInfo("UTC")).date().isoformat()
        out.execute("insert into deck_config values (?, ?, ?, ?, ?, ?, ?)",
                    (preset_map[old], json.dumps(p["params"]), p["dr"], ignore_date, ignore_ms,
                     p["new"], p["max_ivl"]))
    for did, parts, conf_id, filtered in decks:
        name = "::".join(f"deck-{deck_map.get(path_to_id.get(tuple(parts[:k + 1])), 0)}"
                         for k in range(len(parts)))
        parent = deck_map.get(path_to_id.get(tuple(parts[:-1]))) if len(parts) > 1 else None
        out.execute("insert into decks values (?, ?, ?, ?, ?)",
                    (deck_map[did], name, parent, None if filtered else preset_map.get(conf_id),
                     1 if filtered else 0))

    media_refs = [0]
    sort_field = {old: idx for old, _, idx, _ in note_types}
    rows = []
    for nid, mid, tags, flds in notes:
        flds = neutral_media(flds, media_refs)
        fields = flds.split("\x1f")
        idx = sort_field.get(mid, 0)
        sfld = re.sub(r"<[^>]*>", "", fields[idx] if idx < len(fields) else "")
        rows.append((note_map[nid], nt_map[mid], tags.strip(), flds, sfld, nid + shift_ms))
    out.executemany("insert into notes values (?, ?, ?, ?, ?, ?)", rows)
    del rows, notes

    rows = []
    for (cid, nid, did, ord_, ctype, queue, due, ivl, factor, reps, lapses, left, odue, odid, data) in cards:
        if cid not in card_map:
            continue
        if queue in (1, 4) or (queue < 0 and ctype in (1, 3) and due > 1_000_000_000):
            due += shift_s
        if odid and ctype in (1, 3) and odue > 1_000_000_000:
            odue += shift_s
        kept = {}
        if data:
            try:
                d = json.loads(data)
            except ValueError:
                d = {}
            if isinstance(d, dict):
                kept = {k: d[k] for k in KEEP_DATA_KEYS if isinstance(d.get(k), (int, float))}
                if isinstance(d.get("lrt"), (int, float)):
                    kept["lrt"] = d["lrt"] + shift_s
        rows.append((card_map[cid], note_map[nid], deck_map.get(did, 1), ord_, ctype, queue, due, ivl,
                     factor, reps, lapses, left, odue, deck_map.get(odid, 0) if odid else 0,
                     json.dumps(kept, separators=(",", ":")) if kept else "", cid + shift_ms))
    out.executemany("insert into cards values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    del rows, cards

    rows = []
    k = 0
    for (rid, cid, ease, ivl, last_ivl, factor, rtime, rtype) in revlog:
        if cid not in card_map:
            continue
        rows.append((rid + shift_ms, card_map[cid], ease, ivl, last_ivl, factor, rtime, rtype, days[k] - first_day))
        k += 1
    out.executemany("insert into revlog values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    out.executemany("insert into manifest values (?, ?)", [
        ("schema_version", "2"), ("tool_version", "reference_policy.py"),
        ("source_format", "latest" if modern else "legacy2"), ("count_notes", str(len(note_map))),
        ("count_cards", str(len(card_map))), ("count_revlog", str(len(rows)))])
    out.commit()
    out.close()
    src.close()
    os.remove(src_path)
    os.rmdir(work)
    print(f"notes {len(note_map)}, cards {len(card_map)}, revlog {len(rows)}, "
          f"media references {media_refs[0]}", file=sys.stderr)


if __name__ == "__main__":
    main()
