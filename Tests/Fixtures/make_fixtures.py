#!/usr/bin/env python3
"""Test-fixture generator for anki-submit.

Builds Anki exports with the REAL Anki backend (the `anki` package from PyPI,
version 26.9.3) for a simulated learner, plus a ground-truth JSON file that the
Swift tests compare against, plus hostile/broken packages.

Requirements: Python 3.11, the standard library and `anki==26.9.3`.
`zstandard` is NOT required: zstd data is decompressed with the `zstd` command
line tool (Debian package `zstd`) when `zstandard` is not importable; the zstd
bomb frame is written by hand.

Usage (run from the repository root):
    python3 Tests/Fixtures/make_fixtures.py --out Tests/Fixtures/generated
        default: three sets (berlin: all generations; newyork and auckland:
        Latest .apkg + Legacy 2 .apkg only), then re-import verification.
    python3 Tests/Fixtures/make_fixtures.py --tz Asia/Tokyo --rollover 5 --name tokyo --out DIR
        one set with the given learner time zone / rollover hour (all generations).
    python3 Tests/Fixtures/make_fixtures.py --hostile --out Tests/Fixtures/hostile
        hostile inputs, derived from the berlin outputs in --from (default: the
        `generated` folder next to this script).
    python3 Tests/Fixtures/make_fixtures.py --large --out /tmp/large
        benchmark collection (40,000 notes, ~80,000 cards, ~1.2M revlog rows); not committed.
    python3 Tests/Fixtures/make_fixtures.py --verify --out Tests/Fixtures/generated
        only re-import and count the packages in DIR.

How time is simulated (small sets)
----------------------------------
Anki's backend reads the wall clock for "today" and for learning-step due times,
but `CardAnswer.answered_at_millis` decides the revlog id and the card's `lrt`.
The generator walks through a fixed 120-day window (default ending 2026-11-20, so
it crosses a DST change in each of the three zones) and, for every simulated day,
  * rewrites `col.crt` so that the backend's `today` equals the simulated day
    (the backend caches the day, so the collection is closed and re-opened);
  * answers every card with `get_scheduling_states` + `answer_card` and an
    `answered_at_millis` in the simulated past, chosen by a seeded RNG;
  * right before an answer, temporarily moves the card's wall-clock-relative
    values (learning `due` in seconds, and `lrt` when FSRS is on) into the real
    present so that the backend sees the same elapsed seconds/days as the
    simulated learner, then moves the new learning `due` back to simulated time.
Operations that stamp the revlog with the wall clock (set due date, forget) get
their revlog rows moved to the simulated time afterwards. Note and card ids and
guids are rewritten (SQL) to simulated creation times / seeded values before
any review, so that notes exist before their cards' first review.
Days 0-59 use SM-2; on day 60 the learner enables FSRS with parameters computed
by Anki (`compute_fsrs_params` on the history so far, then
`update_deck_configs(fsrs=True)` which also computes memory states); on day 105
the parameters are re-optimized.

Truth days
----------
`card_day_sequences` is computed from the final revlog rows only: for each
revlog `cid` (as a string), the list of `[day - first_day, ease]` of ALL its
revlog rows in id order, including manual rows with ease 0 (type 4: set due
date, forget) and filtered-deck preview rows (type 3); day = Anki's review day:
the local wall-clock date (in the set's time zone, via zoneinfo) of revlog.id,
the date before when the wall-clock hour is before the rollover, as a
proper-Gregorian ordinal; first_day = the day of the card's first row (of any
type). Rows of deleted cards (present only in .colpkg files) are included; their
card ids are listed in `orphan_revlog_cids`.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

SCRIPT_DIR = Path(__file__).resolve().parent
ANKI_VERSION = "26.9.3"

# --------------------------------------------------------------------------
# Set definitions
# --------------------------------------------------------------------------

DEFAULT_SETS = [
    # name, tz, rollover, notes, generations
    ("berlin", "Europe/Berlin", 4, 120, "all"),
    ("newyork", "America/New_York", 0, 80, "apkg"),
    ("auckland", "Pacific/Auckland", 4, 80, "apkg"),
]
HISTORY_DAYS = 120
DEFAULT_END_DATE = date(2026, 11, 20)  # last simulated study day
FSRS_SWITCH_DAY = 60
FSRS_REOPTIMIZE_DAY = 105
IGNORE_BEFORE_DAY = 3  # ignoreRevlogsBeforeDate = day0 + 3

# --------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------

CUSTOM_NT_NAME = "Vokabel + Audio (Lena)"
CUSTOM_CSS = (
    '.card { font-family: "Atkinson Hyperlegible", sans-serif; font-size: 22px; '
    "background: #fdf6e3; color: #073642; }\n"
    "/* colours copied from lena-lernt-deutsch.blogspot.com, do not share */\n"
    ".word { font-size: 34px; color: #268bd2; }\n"
    ".example { font-style: italic; color: #586e75; }\n"
)
CUSTOM_QFMT = (
    "<!-- Vorlage von Lena H., Kurs B1 dienstags - bitte nicht teilen -->\n"
    '<div class="word">{{Word}}</div>\n'
    '{{#Picture}}<div class="pic">{{Picture}}</div>{{/Picture}}\n'
    '{{#Audio}}<div class="audio">{{Audio}}</div>{{/Audio}}'
)
CUSTOM_AFMT = (
    "{{FrontSide}}\n<hr id=answer>\n"
    '<div class="meaning">{{Meaning}}</div>\n'
    '{{#Example}}<div class="example">{{Example}}</div>{{/Example}}'
)
CUSTOM_QFMT2 = "<!-- Rückrichtung -->\n<div class=\"meaning\">{{Meaning}}</div>"
CUSTOM_AFMT2 = (
    "{{FrontSide}}\n<hr id=answer>\n"
    '<div class="word">{{Word}}</div>\n{{#Audio}}{{Audio}}{{/Audio}}'
)
CUSTOM_FIELDS = ["Word", "Meaning", "Audio", "Picture", "Example"]

DECK_FOOD = "German::Nouns::Food"
DECK_NOUNS = "German::Nouns"
DECK_VERBS = "German::Verbs"
DECK_GRAMMAR = "German::Grammatik"
DECK_ES = "Spanish"
DECK_ES_CLASS = "Spanish::Clase con Prof. Ruiz"
DECK_JA = "Japanese"
DECK_JA_N5 = "Japanese::JLPT N5"
FILTERED_DECK = "Cram for Friday test"
JA_PRESET = "Japanisch (langsam)"

MEDIA_PNG = "flag_de.png"
MEDIA_MP3 = "hund.mp3"
MEDIA_VIDEO = "lena_geburtstag_2026.webm"

GERMAN_FOOD = [
    ("der Apfel", "the apple"), ("das Brot", "the bread"), ("die Butter", "the butter"),
    ("der Käse", "the cheese"), ("die Milch", "the milk"), ("das Ei", "the egg"),
    ("die Kartoffel", "the potato"), ("die Suppe", "the soup"), ("der Kuchen", "the cake"),
    ("das Wasser", "the water"), ("die Birne", "the pear"), ("der Reis", "the rice"),
    ("die Nudeln", "the noodles"), ("der Zucker", "the sugar"), ("das Salz", "the salt"),
    ("die Wurst", "the sausage"), ("der Fisch", "the fish"), ("die Tomate", "the tomato"),
    ("die Zwiebel", "the onion"), ("die Erdbeere", "the strawberry"), ("der Honig", "the honey"),
    ("die Gurke", "the cucumber"), ("der Senf", "the mustard"), ("die Kirsche", "the cherry"),
]
GERMAN_NOUNS = [
    ("der Hund", "the dog"), ("die Katze", "the cat"), ("das Haus", "the house"),
    ("der Baum", "the tree"), ("die Stadt", "the city"), ("das Fahrrad", "the bicycle"),
    ("der Zug", "the train"), ("die Schule", "the school"), ("das Buch", "the book"),
    ("der Tisch", "the table"), ("die Rose", "the rose"), ("der Wolf", "the wolf"),
    ("das Fenster", "the window"), ("die Brücke", "the bridge"), ("der Mond", "the moon"),
    ("die Wolke", "the cloud"),
]
GERMAN_VERBS = [
    ("gehen – ging – gegangen", "to go"), ("sehen – sah – gesehen", "to see"),
    ("essen – aß – gegessen", "to eat"), ("trinken – trank – getrunken", "to drink"),
    ("schlafen – schlief – geschlafen", "to sleep"), ("sprechen – sprach – gesprochen", "to speak"),
    ("nehmen – nahm – genommen", "to take"), ("fahren – fuhr – gefahren", "to drive"),
    ("lesen – las – gelesen", "to read"), ("schreiben – schrieb – geschrieben", "to write"),
    ("finden – fand – gefunden", "to find"), ("helfen – half – geholfen", "to help"),
    ("singen – sang – gesungen", "to sing"), ("werfen – warf – geworfen", "to throw"),
]
SPANISH = [
    ("el perro", "der Hund"), ("la casa", "das Haus"), ("el libro", "das Buch"),
    ("la manzana", "der Apfel"), ("el agua", "das Wasser"), ("la ciudad", "die Stadt"),
    ("el tren", "der Zug"), ("la escuela", "die Schule"), ("el árbol", "der Baum"),
    ("la ventana", "das Fenster"), ("hablar", "sprechen"), ("comer", "essen"),
    ("beber", "trinken"), ("dormir", "schlafen"), ("la luz del sol", "das Sonnenlicht"),
    ("el puente", "die Brücke"), ("la fresa", "die Erdbeere"), ("el queso", "der Käse"),
    ("la luna", "der Mond"), ("la nube", "die Wolke"), ("cantar", "singen"),
    ("el pan", "das Brot"), ("la leche", "die Milch"), ("el huevo", "das Ei"),
    ("la cereza", "die Kirsche"), ("el pescado", "der Fisch"),
]
JAPANESE = [
    ("水", "みず – water"), ("火", "ひ – fire"), ("山", "やま – mountain"), ("川", "かわ – river"),
    ("日本語", "にほんご – Japanese language"), ("食べる", "たべる – to eat"),
    ("飲む", "のむ – to drink"), ("見る", "みる – to see"), ("行く", "いく – to go"),
    ("来る", "くる – to come"), ("先生", "せんせい – teacher"), ("学生", "がくせい – student"),
    ("電車", "でんしゃ – train"), ("本", "ほん – book"), ("猫", "ねこ – cat"), ("犬", "いぬ – dog"),
    ("月", "つき – moon"), ("雨", "あめ – rain"), ("友達", "ともだち – friend"),
    ("駅", "えき – station"), ("魚", "さかな – fish"), ("肉", "にく – meat"),
    ("お茶", "おちゃ – green tea"), ("朝ご飯", "あさごはん – breakfast"),
]
CLOZE_DE = [
    "{{c1::Der}} Hund {{c2::bellt}} laut.", "Ich {{c1::habe}} gestern Brot {{c2::gekauft}}.",
    "Wir {{c1::fahren}} morgen nach Leipzig.", "{{c1::Die}} Katze schläft auf {{c2::dem}} Sofa.",
    "Er {{c1::ist}} nach Hause {{c2::gegangen}}.", "Das Buch liegt {{c1::auf}} dem Tisch.",
    "Ich gebe {{c1::dem}} Kind {{c2::einen}} Apfel.", "Trotz {{c1::des}} Regens gehen wir spazieren.",
    "Sie {{c1::hat}} den Brief {{c2::geschrieben}}.", "Wegen {{c1::der}} Hitze bleiben wir drinnen.",
]
CLOZE_ES = [
    "{{c1::El}} perro {{c2::come}} mucho.", "Mañana {{c1::vamos}} a la playa.",
    "Ayer {{c1::comí}} una manzana.", "{{c1::Hace}} frío en {{c2::invierno}}.",
    "Si {{c1::tuviera}} tiempo, {{c2::viajaría}} más.",
]
CLOZE_JA = [
    "私は{{c1::学生}}です。", "{{c1::水}}を{{c2::飲む}}。", "電車で{{c1::行く}}。",
    "{{c1::猫}}が好きです。", "駅まで{{c1::歩きます}}。",
]

# Planted personal data: (kind, subkind, text). `kind` follows the scanner's
# categories (email, phone, digits, url, name); `subkind` is informative.
PII = [
    ("email", "email", "Schick mir die Liste an lena.hoffmann93@web.de"),
    ("email", "email_plus_tag", "Contacto: pablo.ruiz+vocab@correo.es"),
    ("phone", "de_mobile_intl", "Handy: +49 151 23456789"),
    ("phone", "de_landline", "Festnetz 030 98765432 (abends)"),
    ("phone", "es_mobile", "Mi móvil: +34 699 123 456"),
    ("phone", "us", "call me at (212) 555-0187 tonight"),
    ("phone", "jp_mobile", "携帯 090-1234-5678"),
    ("phone", "uk", "ring +44 20 7946 0958 about the flat"),
    ("url", "url", "Notizen: https://drive.google.com/file/d/1xYzAbC/view?usp=sharing"),
    ("url", "url_bare", "mein Blog: lena-lernt-deutsch.blogspot.com"),
    ("digits", "iban", "IBAN ES91 2100 0418 4502 0005 1332 für die Miete"),
    ("digits", "credit_card", "Karte 4012 8888 8888 1881, gültig bis 09/28"),
    ("digits", "date_of_birth", "geboren am 07.11.1994 in Leipzig"),
    ("digits", "id_number", "Matrikelnummer 40213377"),
    ("name", "person", "Lena Hoffmann hat am Samstag Geburtstag"),
    ("name", "person", "pregúntale a Pablo Ruiz García"),
    ("name", "person", "佐藤健さんと話す"),
]
SPECIAL = [
    ("health", "Ich nehme seit März Antidepressiva"),
    ("health", "diagnóstico: diabetes tipo 1, insulina antes de comer"),
    ("health", "私は喘息があります"),
    ("religion", "Wir beten jeden Freitag in der Moschee"),
    ("religion", "voy a misa todos los domingos"),
    ("politics", "Ich bin Mitglied der SPD und gehe zur Demo"),
    ("politics", "I voted for the Green Party"),
]
NEAR_MISS = [
    "Die Rose blüht im Mai",
    "Seite 123, Übung 4b",
    "Das kostet 19,99 €",
    "el billete cuesta 2,40 €",
    "a coffee is $4.50",
    "Zimmer 12, 3. Stock",
    "im Jahr 1989 fiel die Mauer",
    "der Zug fährt um 10:45 Uhr von Gleis 7",
    "三時に会いましょう",
    "Die Summe von 17 und 25 ist 42",
]

GUID_CHARS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "!#$%&()*+,-./:;<=>?@[]^_`{|}~"
)


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, dgt in enumerate(reversed(digits)):
        if i % 2 == 1:
            dgt *= 2
            if dgt > 9:
                dgt -= 9
        total += dgt
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "")
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


assert luhn_ok("4012 8888 8888 1881")
assert iban_ok("ES91 2100 0418 4502 0005 1332")

# --------------------------------------------------------------------------
# Tiny media files
# --------------------------------------------------------------------------


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)  # 2x2 RGB
    raw = b"".join(b"\x00" + bytes([0, 0, 0, 221, 0, 0]) for _ in range(2))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def tiny_mp3() -> bytes:
    # ID3v2.3 header without frames + one MPEG-1 Layer III frame header and silence (fake).
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 60


def tiny_webm() -> bytes:
    # EBML header with DocType "webm" followed by an empty Segment (fake, not playable).
    ebml = bytes.fromhex("1A45DFA3") + bytes([0x80 | 0x1F]) + bytes.fromhex(
        "4286810142F7810142F2810442F381084282847765626D4287810442858102"
    )
    return ebml + bytes.fromhex("18538067") + b"\x80"


# --------------------------------------------------------------------------
# Time helpers
# --------------------------------------------------------------------------


def anki_day(ms: int, tz: ZoneInfo, rollover: int) -> int:
    """Truth day, Anki's rule (rslib sched_timing_today_v2_new): the local wall-clock date (zoneinfo),
    the date before when the wall-clock hour is before the rollover; as an ordinal."""
    local = datetime.fromtimestamp(ms / 1000.0, tz)
    return local.date().toordinal() - (1 if local.hour < rollover else 0)


def shifted_instant_day(ms: int, tz: ZoneInfo, rollover: int) -> int:
    """NOT Anki's rule: the local date of the instant (ms - rollover hours). Differs from anki_day()
    next to the rollover on the days the clock changes; used to plant and report those reviews."""
    return datetime.fromtimestamp((ms - rollover * 3_600_000) / 1000.0, tz).date().toordinal()


def local_ts(d: date, hours: float, tz: ZoneInfo, fold: int = 0) -> int:
    """Unix seconds of wall-clock time `hours` after local midnight of `d` (may exceed 24)."""
    extra_days, rem = divmod(hours, 24.0)
    dd = d + timedelta(days=int(extra_days))
    secs = int(round(rem * 3600))
    dt = datetime(dd.year, dd.month, dd.day, secs // 3600, (secs % 3600) // 60, secs % 60, tzinfo=tz, fold=fold)
    return int(dt.timestamp())


def dst_transitions(tz: ZoneInfo, start: date, end: date) -> list[int]:
    """UTC seconds at which the zone's UTC offset changes within [start, end+1)."""
    t = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp()) - 86400
    stop = int(datetime(end.year, end.month, end.day, tzinfo=timezone.utc).timestamp()) + 2 * 86400
    out = []
    prev = datetime.fromtimestamp(t, tz).utcoffset()
    while t < stop:
        t2 = t + 900
        off = datetime.fromtimestamp(t2, tz).utcoffset()
        if off != prev:
            out.append(t2)
            prev = off
        t = t2
    return out


def mins_west(ts: int, tz: ZoneInfo) -> int:
    return -int(datetime.fromtimestamp(ts, tz).utcoffset().total_seconds() // 60)


# --------------------------------------------------------------------------
# zstd / package inspection helpers
# --------------------------------------------------------------------------


def zstd_decompress(data: bytes) -> bytes:
    try:
        import zstandard  # type: ignore

        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except ImportError:
        res = subprocess.run(["zstd", "-d", "-c", "-q"], input=data, capture_output=True, check=True)
        return res.stdout


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def protobuf_top_fields(buf: bytes) -> list[tuple[int, int, object]]:
    out = []
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        field, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = read_varint(buf, pos)
        elif wt == 2:
            ln, pos = read_varint(buf, pos)
            val = buf[pos:pos + ln]
            pos += ln
        elif wt == 5:
            val = buf[pos:pos + 4]
            pos += 4
        elif wt == 1:
            val = buf[pos:pos + 8]
            pos += 8
        else:
            raise ValueError(f"unsupported wire type {wt}")
        out.append((field, wt, val))
    return out


def unicase(a: str, b: str) -> int:
    a2, b2 = a.casefold(), b.casefold()
    return (a2 > b2) - (a2 < b2)


def open_sqlite(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.create_collation("unicase", unicase)
    return conn


def package_counts(pkg: Path) -> dict:
    """Counts measured from the package itself (no Anki involved)."""
    with zipfile.ZipFile(pkg) as z:
        names = z.namelist()
        meta = z.read("meta") if "meta" in names else None
        version = None
        if meta is not None:
            version = 0
            for field, _wt, val in protobuf_top_fields(meta):
                if field == 1:
                    version = val
        if "collection.anki21b" in names and (version in (None, 3)):
            db_bytes = zstd_decompress(z.read("collection.anki21b"))
            media_raw = zstd_decompress(z.read("media")) if "media" in names else b""
            media_n = sum(1 for f, _w, _v in protobuf_top_fields(media_raw) if f == 1)
        else:
            entry = "collection.anki21" if "collection.anki21" in names else "collection.anki2"
            db_bytes = z.read(entry)
            media_n = len(json.loads(z.read("media"))) if "media" in names else 0
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "c.db")
        Path(p).write_bytes(db_bytes)
        conn = open_sqlite(p)
        ver = conn.execute("select ver from col").fetchone()[0]
        res = {
            "notes": conn.execute("select count(*) from notes").fetchone()[0],
            "cards": conn.execute("select count(*) from cards").fetchone()[0],
            "revlog": conn.execute("select count(*) from revlog").fetchone()[0],
        }
        if ver >= 15:
            res["decks"] = conn.execute("select count(*) from decks").fetchone()[0]
            res["note_types"] = conn.execute("select count(*) from notetypes").fetchone()[0]
        else:
            res["decks"] = len(json.loads(conn.execute("select decks from col").fetchone()[0]))
            res["note_types"] = len(json.loads(conn.execute("select models from col").fetchone()[0]))
        res["media"] = media_n
        res["schema"] = ver
        res["_revlog_rows"] = conn.execute("select id, cid, ease from revlog order by id").fetchall()
        conn.close()
    return res


# --------------------------------------------------------------------------
# Anki import (lazy, after TZ is set)
# --------------------------------------------------------------------------


def set_process_tz(tz_name: str) -> None:
    os.environ["TZ"] = tz_name
    time.tzset()


def anki_modules():
    import anki  # noqa: F401
    from anki import collection as ac
    from anki.scheduler_pb2 import CardAnswer

    return ac, CardAnswer


# --------------------------------------------------------------------------
# Collection setup shared by small and large sets
# --------------------------------------------------------------------------


def setup_collection(col, rollover: int) -> dict:
    """Note types, decks, presets, media. Returns a dict of ids."""
    col.set_config("rollover", rollover)
    mm = col.models
    ids: dict = {}
    ids["basic_rev"] = mm.by_name("Basic (and reversed card)")["id"]
    ids["cloze"] = mm.by_name("Cloze")["id"]
    m = mm.new(CUSTOM_NT_NAME)
    for f in CUSTOM_FIELDS:
        mm.add_field(m, mm.new_field(f))
    t = mm.new_template("Erkennen")
    t["qfmt"], t["afmt"] = CUSTOM_QFMT, CUSTOM_AFMT
    mm.add_template(m, t)
    t = mm.new_template("Produzieren")
    t["qfmt"], t["afmt"] = CUSTOM_QFMT2, CUSTOM_AFMT2
    mm.add_template(m, t)
    m["css"] = CUSTOM_CSS
    mm.add(m)
    ids["custom"] = mm.by_name(CUSTOM_NT_NAME)["id"]

    decks = {}
    for name in [DECK_FOOD, DECK_NOUNS, DECK_VERBS, DECK_GRAMMAR, DECK_ES, DECK_ES_CLASS, DECK_JA, DECK_JA_N5]:
        decks[name] = col.decks.id(name)
    ids["decks"] = decks

    # Presets. Default (id 1): used by German and Spanish decks.
    conf = col.decks.get_config(1)
    conf["new"]["perDay"] = 8
    conf["new"]["delays"] = [1.0, 10.0]
    conf["lapse"]["delays"] = [10.0]
    conf["lapse"]["leechAction"] = 1  # tag only
    conf["rev"]["maxIvl"] = 3650
    col.decks.update_config(conf)
    ja_id = col.decks.add_config_returning_id(JA_PRESET, clone_from=conf)
    ja = col.decks.get_config(ja_id)
    ja["new"]["perDay"] = 5
    ja["new"]["delays"] = [1.0, 10.0, 1440.0]  # last step is a day: interday learning (queue 3)
    ja["rev"]["maxIvl"] = 365
    col.decks.update_config(ja)
    for name in (DECK_JA, DECK_JA_N5):
        d = col.decks.get(decks[name])
        d["conf"] = ja_id
        col.decks.save(d)
    ids["ja_preset"] = ja_id

    col.media.write_data(MEDIA_PNG, tiny_png())
    col.media.write_data(MEDIA_MP3, tiny_mp3())
    col.media.write_data(MEDIA_VIDEO, tiny_webm())
    return ids


def build_note_specs(n_notes: int) -> tuple[list[dict], dict]:
    """Deterministic list of note specs; planted texts at spread-out indices."""
    pools = {
        "food": list(GERMAN_FOOD), "nouns": list(GERMAN_NOUNS), "verbs": list(GERMAN_VERBS),
        "es": list(SPANISH), "ja": list(JAPANESE),
        "cde": list(CLOZE_DE), "ces": list(CLOZE_ES), "cja": list(CLOZE_JA),
    }
    used = {k: 0 for k in pools}
    pattern = ["food", "nouns", "verbs", "es", "ja", "cde", "food", "es", "ja", "ces", "nouns", "verbs", "es", "ja", "cja", "food"]

    def take(kind):
        pool = pools[kind]
        i = used[kind]
        used[kind] += 1
        item = pool[i % len(pool)]
        rnd = i // len(pool)
        if rnd:  # pool exhausted: vary the text
            if isinstance(item, tuple):
                item = (f"{item[0]} ({rnd + 1})", item[1])
            else:
                item = item.replace("。", f"（{rnd + 1}）。").replace(".", f" ({rnd + 1}).")
        return item

    specs = []
    for i in range(n_notes):
        kind = pattern[i % len(pattern)]
        item = take(kind)
        if kind in ("food", "nouns", "verbs"):
            deck = {"food": DECK_FOOD, "nouns": DECK_NOUNS, "verbs": DECK_VERBS}[kind]
            tags = {"food": ["noun", "food"], "nouns": ["noun"], "verbs": ["verb", "irregular_verb"]}[kind]
            spec = {"type": "custom", "deck": deck, "tags": list(tags),
                    "fields": {"Word": item[0], "Meaning": item[1], "Audio": "", "Picture": "", "Example": ""}}
        elif kind == "es":
            deck = DECK_ES_CLASS if i % 3 == 0 else DECK_ES
            spec = {"type": "basic_rev", "deck": deck, "tags": ["spanish"],
                    "fields": {"Front": item[0], "Back": item[1]}}
        elif kind == "ja":
            spec = {"type": "basic_rev", "deck": DECK_JA_N5, "tags": ["jlpt::n5"],
                    "fields": {"Front": item[0], "Back": item[1]}}
        else:
            deck = {"cde": DECK_GRAMMAR, "ces": DECK_ES, "cja": DECK_JA}[kind]
            tags = {"cde": ["grammar::cases"], "ces": ["grammar"], "cja": ["grammar", "jlpt::n5"]}[kind]
            spec = {"type": "cloze", "deck": deck, "tags": list(tags),
                    "fields": {"Text": item, "Back Extra": ""}}
        specs.append(spec)

    # Media references on the first notes (present in every set).
    specs[0]["fields"]["Picture"] = f'<img src="{MEDIA_PNG}">'
    specs[1]["fields"]["Audio"] = f"[sound:{MEDIA_MP3}]"
    specs[1]["fields"]["Picture"] = f'<img src="{MEDIA_PNG}">'

    planted = []
    for k, s, t in PII:
        planted.append(("pii", k, s, t))
    for k, t in SPECIAL:
        planted.append(("special", k, k, t))
    for t in NEAR_MISS:
        planted.append(("near_miss", "clean", "clean", t))
    # interleave categories so each is spread over the whole set
    order = []
    cats = {"pii": [p for p in planted if p[0] == "pii"], "special": [p for p in planted if p[0] == "special"],
            "near_miss": [p for p in planted if p[0] == "near_miss"]}
    while any(cats.values()):
        for c in ("pii", "near_miss", "pii", "special"):
            if cats[c]:
                order.append(cats[c].pop(0))
    n_pl = len(order)
    assert n_notes >= n_pl + 6, "too few notes for the planted texts"
    positions = [3 + (k * (n_notes - 5)) // n_pl for k in range(n_pl)]
    assert len(set(positions)) == n_pl
    truth_plants = []
    rng = random.Random(4242)
    for pos, (cat, kind, sub, text) in zip(positions, order):
        spec = specs[pos]
        if spec["type"] == "custom":
            spec["fields"]["Example"] = text
        elif spec["type"] == "cloze":
            spec["fields"]["Back Extra"] = text
        else:
            spec["fields"]["Back"] = spec["fields"]["Back"] + "<br>" + text
        if cat == "pii" and rng.random() < 0.5:
            spec["tags"].append("anna_private")
        if text.startswith("Lena Hoffmann hat"):
            # the personal video goes with the birthday note
            if spec["type"] == "custom":
                spec["fields"]["Audio"] = f"[sound:{MEDIA_VIDEO}]"
            elif spec["type"] == "cloze":
                spec["fields"]["Back Extra"] += f" [sound:{MEDIA_VIDEO}]"
            else:
                spec["fields"]["Back"] += f" [sound:{MEDIA_VIDEO}]"
        entry = {"cat": cat, "kind": kind, "text": text, "spec_index": pos}
        if cat == "pii":
            entry["subkind"] = sub
        truth_plants.append(entry)
    # for_friday_test on a few notes
    for i in range(4, n_notes, 9):
        if "for_friday_test" not in specs[i]["tags"]:
            specs[i]["tags"].append("for_friday_test")
    return specs, {"plants": truth_plants}


def make_note(col, ids, spec):
    mid = ids[spec["type"]]
    note = col.new_note(col.models.get(mid))
    for k, v in spec["fields"].items():
        note[k] = v
    note.tags = list(spec["tags"])
    return note


# --------------------------------------------------------------------------
# Small set simulation
# --------------------------------------------------------------------------


class Simulator:
    def __init__(self, col, CardAnswer, tz_name: str, rollover: int, day0: date, days: int, seed: int):
        self.col = col
        self.CardAnswer = CardAnswer
        self.tz = ZoneInfo(tz_name)
        self.rollover = rollover
        self.day0 = day0
        self.days = days
        self.rng = random.Random(seed)
        self.fsrs_on = False
        self.difficulty: dict[int, float] = {}
        self.current_day = None
        self.creation_mins_west = mins_west(local_ts(day0, rollover, self.tz), self.tz)
        self.new_today = 0
        self.stats = {"answers": 0, "retries": 0}

    # -- day handling ------------------------------------------------------
    def vday(self, secs: int) -> int:
        return anki_day(secs * 1000, self.tz, self.rollover) - self.day0.toordinal()

    def _crt_for_today(self, d: int) -> int:
        """crt that makes the backend's `today` (real clock) equal d."""
        now = time.time()
        local = datetime.fromtimestamp(now, timezone(timedelta(minutes=-self._local_mins_west_now())))
        eff = local.date() if local.hour >= self.rollover else local.date() - timedelta(days=1)
        created = eff - timedelta(days=d)
        fixed = timezone(timedelta(minutes=-self.creation_mins_west))
        return int(datetime(created.year, created.month, created.day, self.rollover, tzinfo=fixed).timestamp())

    def _local_mins_west_now(self) -> int:
        return -int(datetime.now().astimezone().utcoffset().total_seconds() // 60)

    def set_today(self, d: int) -> None:
        if self.current_day == d:
            return
        col = self.col
        crt = self._crt_for_today(d)
        for _attempt in range(4):
            col.db.execute("update col set crt = ?", crt)
            col.close()  # the backend caches "today" until the real next rollover
            col.reopen()
            today = col.sched.today
            if today == d:
                break
            crt += (today - d) * 86400
        else:
            raise RuntimeError(f"could not make today == {d}")
        self.current_day = d
        self.new_today = 0

    # -- answering -----------------------------------------------------------
    def answer(self, cid: int, rating: int, v_ms: int, taken_ms: int) -> None:
        """rating: 0 again, 1 hard, 2 good, 3 easy. Answered at simulated v_ms."""
        col = self.col
        v_s = v_ms // 1000
        for attempt in range(6):
            # The backend reads the wall clock (whole seconds) for learning due times; make
            # sure that everything below happens within one wall-clock second so that the
            # translation back to simulated time is exact (and runs are reproducible).
            frac = time.time() % 1.0
            if frac > 0.95:
                time.sleep(1.0 - frac + 0.002)
            queue, due, data = col.db.first("select queue, due, data from cards where id = ?", cid)
            now_s = int(time.time())
            new_due, new_data = due, data
            orig_lrt = tmp_lrt = None
            if queue in (1, 4):
                new_due = now_s - (v_s - due)
            if self.fsrs_on and data:
                dd = json.loads(data)
                if "lrt" in dd:
                    e = self.vday(v_s) - self.vday(dd["lrt"])
                    nda = col.sched.day_cutoff
                    cand = now_s - (v_s - dd["lrt"])
                    lo = nda - (e + 1) * 86400 + 1
                    hi = min(nda - e * 86400, now_s)
                    orig_lrt = dd["lrt"]
                    dd["lrt"] = tmp_lrt = max(min(cand, hi), lo)
                    new_data = json.dumps(dd, separators=(",", ":"))
            if (new_due, new_data) != (due, data):
                col.db.execute("update cards set due = ?, data = ? where id = ?", new_due, new_data, cid)
            states = col._backend.get_scheduling_states(cid)
            new_state = (states.again, states.hard, states.good, states.easy)[rating]
            try:
                col._backend.answer_card(self.CardAnswer(
                    card_id=cid, current_state=states.current, new_state=new_state, rating=rating,
                    answered_at_millis=v_ms, milliseconds_taken=taken_ms))
            except Exception as e:  # noqa: BLE001 - state raced with the clock: undo and retry
                col.db.execute("update cards set due = ?, data = ? where id = ?", due, data, cid)
                if "modified" in str(e) and attempt < 5:
                    self.stats["retries"] += 1
                    time.sleep(0.05)
                    continue
                raise
            if int(time.time()) != now_s:
                self.stats["second_crossings"] = self.stats.get("second_crossings", 0) + 1
            q2, due2, data2 = col.db.first("select queue, due, data from cards where id = ?", cid)
            if q2 in (1, 4):
                col.db.execute("update cards set due = ? where id = ?", v_s + (due2 - now_s), cid)
            if tmp_lrt is not None and tmp_lrt != orig_lrt:
                dd2 = json.loads(data2)
                if dd2.get("lrt") == tmp_lrt:  # not a real review (e.g. preview): put the old lrt back
                    dd2["lrt"] = orig_lrt
                    col.db.execute("update cards set data = ? where id = ?", json.dumps(dd2, separators=(",", ":")), cid)
            self.stats["answers"] += 1
            return

    def relocate_new_revlog(self, since_real_ms: int, v_ms: int) -> list[int]:
        """Move revlog rows the backend stamped with the wall clock to simulated time."""
        ids = self.col.db.list("select id from revlog where id >= ? order by id", since_real_ms)
        out = []
        for i, rid in enumerate(ids):
            nid = v_ms + i
            while self.col.db.scalar("select count() from revlog where id = ?", nid):
                nid += 1
            self.col.db.execute("update revlog set id = ? where id = ?", nid, rid)
            out.append(nid)
        return out

    # -- learner model -------------------------------------------------------
    def pick_rating(self, cid: int, ctype: int, queue: int, due: int, ivl: int) -> int:
        r = self.rng
        delta = self.difficulty.setdefault(cid, r.random())
        x = r.random()
        if ctype in (0, 1, 3) or queue in (0, 1, 3):
            p_again, p_hard, p_easy = 0.16 + 0.22 * delta, 0.08, 0.07 * (1 - delta)
        else:
            overdue = max(0, self.current_day - due) / max(1, ivl)
            p_again = min(0.5, 0.04 + 0.16 * delta + 0.12 * overdue)
            p_hard, p_easy = 0.10, 0.10 * (1 - delta)
        if x < p_again:
            return 0
        if x < p_again + p_hard:
            return 1
        if x < p_again + p_hard + p_easy:
            return 3
        return 2

    def taken(self) -> int:
        return int(min(60_000, max(1_500, self.rng.lognormvariate(8.7, 0.55))))

    # -- sessions ------------------------------------------------------------
    def run_session(self, start_s: int, max_cards: int | None, new_limit: int) -> int:
        """Simulated study session starting at start_s. Returns end time (s)."""
        col = self.col
        d = self.current_day
        v_ms = start_s * 1000 + self.rng.randrange(1000)
        main = col.db.all(
            "select id, type, queue, due, ivl from cards where odid = 0 and queue in (2, 3) and due <= ? "
            "order by queue desc, due, id", d)
        self.rng.shuffle(main)
        main.sort(key=lambda r: (r[3] < d - 3, ))  # mild preference for recently-due
        new_cards = col.db.all(
            "select c.id, c.type, c.queue, c.due, c.ivl from cards c join notes n on n.id = c.nid "
            "where c.odid = 0 and c.queue = 0 and n.id <= ? order by c.due, c.ord limit ?",
            v_ms - 60_000, max(0, new_limit - self.new_today))
        answered = 0
        rev_since_new = 0
        while True:
            if max_cards is not None and answered >= max_cards:
                break
            v_s = v_ms // 1000
            lrn = col.db.first(
                "select id, type, queue, due, ivl from cards where odid = 0 and queue = 1 order by due limit 1")
            pick = None
            if lrn and lrn[3] <= v_s:
                pick = lrn
            elif new_cards and (rev_since_new >= 3 or not main):
                pick = new_cards.pop(0)
                self.new_today += 1
                rev_since_new = 0
            elif main:
                pick = main.pop(0)
                rev_since_new += 1
            elif lrn and lrn[3] <= v_s + 1200:  # learn-ahead limit (collapseTime)
                pick = lrn
            if pick is None:
                break
            cid, ctype, queue, due, ivl = pick
            rating = self.pick_rating(cid, ctype, queue, due, ivl)
            taken = self.taken()
            self.answer(cid, rating, v_ms, taken)
            answered += 1
            v_ms += taken + self.rng.randrange(800, 4000)
        return v_ms // 1000 + 1

    # -- FSRS ------------------------------------------------------------------
    def optimize_and_enable_fsrs(self, ids: dict, desired_retention: float, ignore_date: date) -> list[float]:
        col = self.col
        ignore_ms = int(datetime(ignore_date.year, ignore_date.month, ignore_date.day, tzinfo=timezone.utc).timestamp()) * 1000
        upd = col._backend.get_deck_configs_for_update(1)
        configs = {c.config.id: c.config for c in upd.all_config}
        default = configs[1]
        current = list(default.config.fsrs_params_6)
        res = col._backend.compute_fsrs_params(
            search='preset:"Default"', current_params=current, ignore_revlogs_before_ms=ignore_ms,
            num_of_relearning_steps=1, health_check=False)
        params = list(res.params)
        if not params:
            raise RuntimeError("Anki returned no FSRS parameters")
        default.config.fsrs_params_6[:] = params
        default.config.desired_retention = desired_retention
        default.config.ignore_revlogs_before_date = ignore_date.isoformat()
        ja = configs[ids["ja_preset"]]
        ja.config.desired_retention = 0.85
        col._backend.update_deck_configs(
            target_deck_id=1, configs=[ja, default], removed_config_ids=[], mode=0,
            card_state_customizer=upd.card_state_customizer, limits=upd.current_deck.limits,
            new_cards_ignore_review_limit=upd.new_cards_ignore_review_limit, fsrs=True,
            apply_all_parent_limits=upd.apply_all_parent_limits, fsrs_reschedule=False,
            fsrs_health_check=False)
        self.fsrs_on = True
        return params


def plan_sessions(sim: Simulator, special_days: set[int]) -> list[tuple[int, int | None, str]]:
    """List of (start_s, max_cards, label), chronological."""
    r = sim.rng
    tz, ro = sim.tz, sim.rollover
    sessions = []
    vacation = set(range(70, 75))
    for d in range(sim.days):
        day = sim.day0 + timedelta(days=d)
        forced = d in special_days or d == sim.days - 1 or d == 0
        if not forced and (d in vacation or r.random() < 0.10):
            continue
        n = 1 if r.random() < 0.68 else (2 if r.random() < 0.85 else 3)
        slots = [("morning", 7.0, 8.6), ("midday", 12.2, 13.4), ("evening", 19.0, 22.0)]
        if d == sim.days - 1:
            pass  # the last day ends with the final mini session at 22:45
        elif ro >= 3:
            slots.append(("late", 24.25, 24 + ro - 0.4))  # after midnight, before rollover
        else:
            slots.append(("late", 23.0, 23.8))
        weights = [0.3, 0.15, 0.35, 0.2][: len(slots)]
        chosen = []
        while len(chosen) < n:
            s = r.choices(slots, weights)[0]
            if s not in chosen:
                chosen.append(s)
        chosen.sort(key=lambda s: s[1])
        for i, (label, lo, hi) in enumerate(chosen):
            h = r.uniform(lo, hi)
            max_cards = r.randint(12, 35) if i < len(chosen) - 1 else None
            sessions.append((local_ts(day, h, tz), max_cards, label))
    # Sessions right before and right after each DST transition in the window; ordinary
    # sessions close to the transition are dropped so that nothing overlaps them.
    start = sim.day0
    end = sim.day0 + timedelta(days=sim.days - 1)
    for t in dst_transitions(tz, start, end):
        # where Anki's rule (wall-clock hour against the rollover) and the local date of the
        # instant minus the rollover hours disagree, add a session too
        edge = next((x for x in range(t - 6 * 3600, t + 6 * 3600, 300)
                     if anki_day(x * 1000, tz, ro) != shifted_instant_day(x * 1000, tz, ro)), None)
        dst = [(t - 1800, 3, "dst-before"), (t + 1800, 3 if edge else None, "dst-after")]
        if edge is not None:
            dst.append((edge + 600, None, "dst-edge"))
        # the DST sessions get their days (and the day before) to themselves, so that
        # enough cards are due for each of them
        days = {sim.vday(x[0]) for x in dst}
        days.add(min(days) - 1)
        sessions = [x for x in sessions if sim.vday(x[0]) not in days] + dst
    sessions.sort()
    return sessions


def make_small_set(name: str, tz_name: str, rollover: int, n_notes: int, generations: str,
                   out_dir: Path, end_date: date, seed: int | None = None) -> dict:
    set_process_tz(tz_name)
    ac, CardAnswer = anki_modules()
    Collection = ac.Collection
    tz = ZoneInfo(tz_name)
    seed = seed if seed is not None else zlib.crc32(name.encode())
    day0 = end_date - timedelta(days=HISTORY_DAYS - 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"ankifix-{name}-"))
    col_path = str(work / "collection.anki2")
    col = Collection(col_path)
    ids = setup_collection(col, rollover)
    sim = Simulator(col, CardAnswer, tz_name, rollover, day0, HISTORY_DAYS, seed)
    col.set_config("creationOffset", sim.creation_mins_west)

    # --- notes ------------------------------------------------------------
    specs, plant_info = build_note_specs(n_notes)
    rng = random.Random(seed + 1)
    # two extra notes that are studied and then deleted (their revlog rows stay in .colpkg)
    extra = [
        {"type": "basic_rev", "deck": DECK_ES, "tags": ["duplicate"], "fields": {"Front": "el perro (duplicado)", "Back": "der Hund"}},
        {"type": "basic_rev", "deck": DECK_ES, "tags": ["duplicate"], "fields": {"Front": "la casa (duplicado)", "Back": "das Haus"}},
    ]
    all_specs = specs[:2] + extra + specs[2:]  # extras are created early (day 0)
    note_ids = []
    for spec in all_specs:
        note = make_note(col, ids, spec)
        col.add_note(note, ids["decks"][spec["deck"]])
        note_ids.append(note.id)
    # creation times: 35% on day 0, 57% spread over days 1..104, the last 8% are added on the
    # last day at 22:40 (a few are studied once at 22:45 -> learning, the rest stay new)
    n_all = len(all_specs)
    first_batch = int(n_all * 0.35)
    last_batch = n_all - max(6, int(n_all * 0.08))
    creation = []
    for i in range(n_all):
        if i < first_batch:
            cd = 0
        elif i < last_batch:
            cd = 1 + int((i - first_batch) * 103 / (last_batch - first_batch))
        else:
            cd = HISTORY_DAYS - 1
        creation.append(cd)
    rows = []
    t_prev = 0
    guids = []
    for i, old in enumerate(note_ids):
        day = day0 + timedelta(days=creation[i])
        hour = 22.0 + 2 / 3 if i >= last_batch else 20.0 + rng.random() * 1.5
        t_ms = local_ts(day, hour, tz) * 1000 + rng.randrange(1000)
        t_ms = max(t_ms, t_prev + 5_000 + rng.randrange(10_000))
        t_prev = t_ms
        guid = "".join(rng.choice(GUID_CHARS) for _ in range(10))
        guids.append(guid)
        rows.append((old, t_ms, guid))
    for old, new, guid in rows:
        cards = col.db.list("select id from cards where nid = ? order by ord", old)
        col.db.execute("update notes set id = ?, guid = ?, mod = ? where id = ?", new, guid, new // 1000, old)
        for k, cid in enumerate(cards):
            col.db.execute("update cards set id = ?, nid = ?, mod = ? where id = ?", new + 1 + k, new, new // 1000, cid)
    note_ids = [r[1] for r in rows]
    extra_nids = note_ids[2:4]

    # --- simulate ------------------------------------------------------------
    special = {40: "delete", 50: "set_due", FSRS_SWITCH_DAY: "fsrs", 80: "forget", 100: "preview",
               FSRS_REOPTIMIZE_DAY: "reoptimize"}
    sessions = plan_sessions(sim, set(special))
    done_special = set()
    fsrs_params: list[float] = []
    ignore_date = day0 + timedelta(days=IGNORE_BEFORE_DAY)
    dr = 0.87
    info = {"dst_sessions": [], "ease0_revlog_ids": [], "preview_revlog_ids": []}
    last_day = HISTORY_DAYS - 1
    last_end = 0
    for start_s, max_cards, label in sessions:
        if start_s < last_end + 60:  # never overlap the previous session
            start_s = last_end + 60
        d = sim.vday(start_s)
        if d < 0 or d > last_day:
            continue
        sim.set_today(d)
        # special operations at the start of their day's first session
        for sd, op in sorted(special.items()):
            if label.startswith("dst"):
                break  # keep the DST sessions at their exact times
            if sd <= d and sd not in done_special:
                done_special.add(sd)
                v_ms = start_s * 1000
                start_s += 120
                if op == "fsrs":
                    fsrs_params = sim.optimize_and_enable_fsrs(ids, dr, ignore_date)
                elif op == "reoptimize":
                    fsrs_params = sim.optimize_and_enable_fsrs(ids, dr, ignore_date)
                elif op == "delete":
                    col.remove_notes(extra_nids)
                elif op == "set_due":
                    cids = col.db.list("select id from cards where queue = 2 and odid = 0 order by ivl desc, id limit 2")
                    before = int(time.time() * 1000) - 5
                    col.sched.set_due_date(cids, "3")
                    info["ease0_revlog_ids"] += sim.relocate_new_revlog(before, v_ms)
                elif op == "forget":
                    cids = col.db.list("select id from cards where queue = 2 and odid = 0 order by lapses desc, id limit 1")
                    before = int(time.time() * 1000) - 5
                    col.sched.schedule_cards_as_new(cids, restore_position=True, reset_counts=False)
                    info["ease0_revlog_ids"] += sim.relocate_new_revlog(before, v_ms + 1000)
                elif op == "preview":
                    pv = preview_session(col, sim, v_ms)
                    info["preview_revlog_ids"] += pv
                    if pv:
                        start_s = max(start_s, pv[-1] // 1000 + 120)
        last_end = sim.run_session(start_s, max_cards, new_limit=8 if n_notes >= 100 else 6)
        if label.startswith("dst"):
            info["dst_sessions"].append({"label": label, "start_s": start_s,
                                         "local": datetime.fromtimestamp(start_s, tz).isoformat()})
    # --- final state on the last day: learning cards, set due date, suspend, bury, filtered deck
    sim.set_today(last_day)
    last = day0 + timedelta(days=last_day)
    v_s = max(local_ts(last, 22.75, tz), last_end + 60)
    v_ms = v_s * 1000
    new_c = col.db.list("select id from cards where queue = 0 and odid = 0 order by due, id limit 4")
    rev_c = col.db.list("select id from cards where queue = 2 and odid = 0 order by due, id limit 2")
    for k, cid in enumerate(new_c):
        sim.answer(cid, 0 if k == 0 else 2, v_ms, 4000)  # Again -> 1 min step; Good -> 10 min step
        v_ms += 9000
    for cid in rev_c:
        sim.answer(cid, 0, v_ms, 7000)  # lapse -> relearning
        v_ms += 9000
    sd_cid = col.db.list("select id from cards where queue = 2 and odid = 0 order by due desc, id limit 1")
    before = int(time.time() * 1000) - 5
    col.sched.set_due_date(sd_cid, "5")
    info["ease0_revlog_ids"] += sim.relocate_new_revlog(before, v_ms)
    v_ms += 5000
    susp = col.db.list("select id from cards where queue = 2 and odid = 0 order by ivl, id limit 1")
    col.sched.suspend_cards(susp)
    bury = col.db.list("select id from cards where queue = 2 and odid = 0 order by ivl desc, id limit 1")
    col.sched.bury_cards(bury, manual=True)
    fdid = build_filtered(col, f'"deck:{DECK_ES_CLASS}" is:review -is:suspended -is:buried', 100, reschedule=True)

    # --- finalize collection time settings ------------------------------------
    crt_final = local_ts(day0, rollover, tz)
    col.db.execute("update col set crt = ?", crt_final)
    col.set_config("creationOffset", mins_west(crt_final, tz))
    col.set_config("localOffset", mins_west(v_s, tz))
    col.set_config("rollover", rollover)
    col.close()
    col.reopen()
    integrity = col.db.scalar("pragma integrity_check")
    assert integrity == "ok", integrity
    info["learning_card_ids"] = col.db.list("select id from cards where queue in (1, 3) order by id")
    info["suspended_card_ids"] = col.db.list("select id from cards where queue = -1 order by id")
    info["buried_card_ids"] = col.db.list("select id from cards where queue in (-2, -3) order by id")
    info["filtered_card_ids"] = col.db.list("select id from cards where odid != 0 order by id")
    info["filtered_deck_id"] = fdid

    # --- exports ---------------------------------------------------------------
    files = {}
    opts = lambda legacy: ac.ExportAnkiPackageOptions(  # noqa: E731
        with_scheduling=True, with_deck_configs=True, with_media=True, legacy=legacy)
    p = out_dir / f"{name}-latest.apkg"
    col.export_anki_package(out_path=str(p), options=opts(False), limit=None)
    files[p.name] = p
    p = out_dir / f"{name}-legacy2.apkg"
    col.export_anki_package(out_path=str(p), options=opts(True), limit=None)
    files[p.name] = p

    truth = collect_truth(col, name, tz_name, rollover, plant_info)
    truth.update({
        "seed": seed, "day0": day0.isoformat(), "end_date": end_date.isoformat(),
        "history_days": HISTORY_DAYS, "creation_offset": mins_west(crt_final, tz),
        "dst_transitions_utc": [datetime.fromtimestamp(t, timezone.utc).isoformat()
                                for t in dst_transitions(tz, day0, end_date)],
        "fsrs_enabled_day": FSRS_SWITCH_DAY, "fsrs_reoptimized_day": FSRS_REOPTIMIZE_DAY,
    })
    truth.update({k: v for k, v in info.items() if k != "dst_sessions"})
    truth["dst_sessions"] = info["dst_sessions"]

    if generations == "all":
        p = out_dir / f"{name}-latest.colpkg"
        col.export_collection_package(str(p), include_media=True, legacy=False)
        col.reopen()
        files[p.name] = p
        p = out_dir / f"{name}-legacy2.colpkg"
        col.export_collection_package(str(p), include_media=True, legacy=True)
        col.reopen()
        files[p.name] = p
        p = out_dir / f"{name}-legacy1.apkg"
        make_legacy1(out_dir / f"{name}-legacy2.apkg", p)
        files[p.name] = p
    col.close()

    # per-file counts measured from the files themselves
    seqs = truth["card_day_sequences"]
    ftable = {}
    for fname in sorted(files):
        c = package_counts(files[fname])
        rows = c.pop("_revlog_rows")
        # self-check: each file's revlog rows are a subset of the truth sequences
        for rid, cid, ease in rows:
            assert str(cid) in seqs, (fname, cid)
        ftable[fname] = c
    truth["files"] = ftable
    truth["media_count"] = ftable[f"{name}-latest.apkg"]["media"]
    (out_dir / f"{name}-truth.json").write_text(dump_truth(truth), encoding="utf-8")
    for p in list(files.values()) + [out_dir / f"{name}-truth.json"]:
        os.chmod(p, 0o644)  # Anki writes exports as 0600
    shutil.rmtree(work, ignore_errors=True)
    print(f"[{name}] answers={sim.stats['answers']} retries={sim.stats['retries']} "
          f"second_crossings={sim.stats.get('second_crossings', 0)} "
          f"revlog={truth['revlog_count']} cards={truth['card_count']} notes={truth['note_count']}")
    return truth


def dump_truth(truth: dict) -> str:
    """JSON with one line per key, per list entry of objects, and per card sequence."""
    def c(v):
        return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))

    parts = []
    for k, v in truth.items():
        if isinstance(v, dict) and v:
            inner = ",\n".join(f"  {c(kk)}: {c(vv)}" for kk, vv in v.items())
            parts.append(f" {c(k)}: {{\n{inner}\n }}")
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            inner = ",\n".join(f"  {c(x)}" for x in v)
            parts.append(f" {c(k)}: [\n{inner}\n ]")
        else:
            parts.append(f" {c(k)}: {c(v)}")
    text = "{\n" + ",\n".join(parts) + "\n}\n"
    assert json.loads(text) == truth
    return text


def preview_session(col, sim: Simulator, v_ms: int) -> list[int]:
    """Filtered deck without rescheduling (preview): revlog rows of type 3, then emptied."""
    # limit above the number of matches: no tie-breaking by the backend, reproducible runs
    did = build_filtered(col, "tag:for_friday_test is:review", 100, reschedule=False)
    out = []
    for _round in range(3):
        cids = col.db.list("select id from cards where did = ? order by id", did)
        if not cids:
            break
        for cid in cids:
            q, due = col.db.first("select queue, due from cards where id = ?", cid)
            if q == 4 and due > v_ms // 1000 + 1200:
                continue
            rating = 0 if sim.rng.random() < 0.3 else 2
            sim.answer(cid, rating, v_ms, 3000)
            out.append(v_ms)
            v_ms += 6000
    col.sched.empty_filtered_deck(did)
    return out


def build_filtered(col, search: str, limit: int, reschedule: bool) -> int:
    existing = col.decks.id_for_name(FILTERED_DECK)
    fd = col.sched.get_or_create_filtered_deck(existing or 0)
    fd.name = FILTERED_DECK
    while len(fd.config.search_terms) > 1:
        del fd.config.search_terms[-1]
    fd.config.search_terms[0].search = search
    fd.config.search_terms[0].limit = limit
    fd.config.search_terms[0].order = 6  # DUE (the default, RANDOM, would make runs differ)
    fd.config.reschedule = reschedule
    return col.sched.add_or_update_filtered_deck(fd).id


def make_legacy1(legacy2: Path, out: Path) -> None:
    """Legacy 1 layout: the schema-11 db is named collection.anki2 (replacing the placeholder), no meta."""
    with zipfile.ZipFile(legacy2) as src, zipfile.ZipFile(out, "w") as dst:
        db = src.read("collection.anki21")
        for info in src.infolist():
            if info.filename in ("meta", "collection.anki2"):
                continue
            if info.filename == "collection.anki21":
                zi = zipfile.ZipInfo("collection.anki2", date_time=info.date_time)
                zi.compress_type = zipfile.ZIP_DEFLATED
                zi.external_attr = info.external_attr
                dst.writestr(zi, db)
            else:
                dst.writestr(info, src.read(info))


def collect_truth(col, name, tz_name, rollover, plant_info) -> dict:
    tz = ZoneInfo(tz_name)
    notes = col.db.all("select id, guid, flds from notes order by id")
    guid_index = {g: i for i, (_nid, g, _f) in enumerate(notes)}
    # map spec_index -> final guid: specs were created in order, extras at 2..3 were deleted
    plants = plant_info["plants"]
    out = {"pii": [], "special": [], "near_miss": []}
    for p in plants:
        idx = p["spec_index"]  # index among surviving notes == creation order
        nid, guid, flds = notes[idx]
        assert p["text"] in flds, (p, flds)
        e = {"note_index": idx, "kind": p["kind"], "text": p["text"], "guid": guid}
        if "subkind" in p:
            e["subkind"] = p["subkind"]
        out[p["cat"]].append(e)
    for k in out:
        out[k].sort(key=lambda e: e["note_index"])
    custom = col.models.by_name(CUSTOM_NT_NAME)
    revlog = col.db.all("select id, cid, ease, type from revlog order by id")
    seqs: dict[str, list] = {}
    first: dict[int, int] = {}
    for rid, cid, ease, _type in revlog:
        day = anki_day(rid, tz, rollover)
        if cid not in first:
            first[cid] = day
        seqs.setdefault(str(cid), []).append([day - first[cid], ease])
    card_ids = set(col.db.list("select id from cards"))
    orphans = sorted({cid for _r, cid, _e, _t in revlog if cid not in card_ids})
    pre_rollover = 0
    dst_edge = []
    for rid, *_ in revlog:
        lt = datetime.fromtimestamp(rid / 1000, tz)
        if lt.hour < rollover:
            pre_rollover += 1
        if anki_day(rid, tz, rollover) != shifted_instant_day(rid, tz, rollover):
            dst_edge.append(rid)
    decks = sorted(n for (n,) in [(d.name,) for d in col.decks.all_names_and_ids()] if n != "Default")
    presets = []
    for c in col.decks.all_config():
        presets.append({k: c.get(k) for k in ("id", "name", "fsrsWeights", "fsrsParams5", "fsrsParams6",
                                                 "desiredRetention", "ignoreRevlogsBeforeDate")}
                       | {"newPerDay": c["new"]["perDay"], "maxIvl": c["rev"]["maxIvl"]})
    upd = col._backend.get_deck_configs_for_update(1)
    default_params = []
    for c in upd.all_config:
        if c.config.id == 1:
            default_params = list(c.config.config.fsrs_params_6)
    truth = {
        "pii": out["pii"],
        "special": out["special"],
        "near_miss": out["near_miss"],
        "decks": decks,
        "tz": tz_name,
        "rollover": rollover,
        "css": custom["css"],
        "qfmt": custom["tmpls"][0]["qfmt"],
        "tags": sorted(col.tags.all()),
        "media_names": [MEDIA_PNG, MEDIA_MP3, MEDIA_VIDEO],
        "fsrs_params": default_params,
        "revlog_count": len(revlog),
        "card_count": col.db.scalar("select count() from cards"),
        "note_count": len(notes),
        "time_range_ms": [revlog[0][0], revlog[-1][0]],
        "crt": col.crt,
        "card_day_sequences": seqs,
        "guids": [g for _n, g, _f in notes],
        "note_type_count": col.db.scalar("select count() from notetypes"),
        "deck_count": col.db.scalar("select count() from decks"),
        "media_count": 3,
        "orphan_revlog_cids": [str(c) for c in orphans],
        "pre_rollover_revlog_count": pre_rollover,
        "dst_edge_revlog_ids": dst_edge,
        "presets": presets,
        "fsrs_params_key": "fsrsParams6",
        "anki_version": ANKI_VERSION,
        "name": name,
    }
    return truth


# --------------------------------------------------------------------------
# Verification: re-import with Anki's own importers
# --------------------------------------------------------------------------


def verify_dir(out_dir: Path) -> list[dict]:
    ac, _ = anki_modules()
    Collection = ac.Collection
    results = []
    pkgs = sorted(p for p in out_dir.iterdir() if p.suffix in (".apkg", ".colpkg"))
    truths = {}
    for t in out_dir.glob("*-truth.json"):
        truths[t.name[: -len("-truth.json")]] = json.loads(t.read_text(encoding="utf-8"))
    for pkg in pkgs:
        with tempfile.TemporaryDirectory() as td:
            col = Collection(os.path.join(td, "collection.anki2"))
            base_decks = col.db.scalar("select count() from decks")
            if pkg.suffix == ".apkg":
                req = ac.ImportAnkiPackageRequest(
                    package_path=str(pkg),
                    options=ac.ImportAnkiPackageOptions(with_scheduling=True, with_deck_configs=True))
                col.import_anki_package(req)
            else:
                path = col.path
                col.close()
                col._backend.import_collection_package(
                    col_path=path, backup_path=str(pkg), media_folder=path[:-6] + ".media",
                    media_db=path[:-6] + ".mdb")
                col.reopen()
            media = os.listdir(col.media.dir())
            r = {
                "file": pkg.name,
                "notes": col.db.scalar("select count() from notes"),
                "cards": col.db.scalar("select count() from cards"),
                "revlog": col.db.scalar("select count() from revlog"),
                "decks": col.db.scalar("select count() from decks"),
                "media_files": len(media),
                "integrity": col.db.scalar("pragma integrity_check"),
            }
            col.close()
        setname = pkg.name.split("-")[0]
        exp = truths.get(setname, {}).get("files", {}).get(pkg.name)
        ok = r["integrity"] == "ok"
        if exp:
            ok = ok and r["notes"] == exp["notes"] and r["cards"] == exp["cards"] and r["revlog"] == exp["revlog"]
            ok = ok and r["media_files"] == exp["media"]
        r["ok"] = ok
        results.append(r)
    return results


def print_table(out_dir: Path) -> None:
    print("\nPer-file counts (measured from the files):")
    print(f"{'file':32} {'schema':>6} {'notes':>6} {'cards':>6} {'revlog':>7} {'decks':>6} {'ntypes':>6} {'media':>6} {'bytes':>8}")
    for t in sorted(out_dir.glob("*-truth.json")):
        truth = json.loads(t.read_text(encoding="utf-8"))
        for fname, c in sorted(truth["files"].items()):
            size = (out_dir / fname).stat().st_size
            print(f"{fname:32} {c['schema']:>6} {c['notes']:>6} {c['cards']:>6} {c['revlog']:>7} {c['decks']:>6} "
                  f"{c['note_types']:>6} {c['media']:>6} {size:>8}")


# --------------------------------------------------------------------------
# Hostile fixtures
# --------------------------------------------------------------------------


def zip_copy(src: Path, dst: Path, *, replace: dict | None = None, drop: set | None = None,
             add: list | None = None) -> None:
    """Copy a zip entry by entry keeping each entry's compression; replace/drop/add entries."""
    replace = replace or {}
    drop = drop or set()
    with zipfile.ZipFile(src) as zs, zipfile.ZipFile(dst, "w") as zd:
        for info in zs.infolist():
            if info.filename in drop:
                continue
            data = replace.get(info.filename, None)
            if data is None:
                data = zs.read(info)
            zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            zi.compress_type = info.compress_type
            zi.external_attr = info.external_attr
            zd.writestr(zi, data)
        for name, data, ctype in add or []:
            zi = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = ctype
            zd.writestr(zi, data)


def zstd_rle_zero_frame(total: int, declare_size: bool = False) -> bytes:
    """A valid zstd frame that decompresses to `total` zero bytes, built from RLE blocks.

    Like Anki's own frames it has a 2 MiB window (descriptor 0x58) and, by default, no
    content size in the header, so a reader can only stop it by limiting the output while
    streaming. With declare_size the header also declares the 1 GiB content size.
    (A single-segment frame would need a 1 GiB window, which decoders refuse up front.)
    """
    out = bytearray(struct.pack("<I", 0xFD2FB528))
    if declare_size:
        out.append(0xC0)  # FCS field 8 bytes, not single segment, no checksum, no dict
        out.append(0x58)  # window 2 MiB
        out += struct.pack("<Q", total)
    else:
        out.append(0x00)  # no FCS, not single segment
        out.append(0x58)  # window 2 MiB
    block = 128 * 1024
    remaining = total
    while remaining > 0:
        n = min(block, remaining)
        remaining -= n
        last = 1 if remaining == 0 else 0
        header = last | (1 << 1) | (n << 3)  # block type 1 = RLE
        out += struct.pack("<I", header)[:3]
        out.append(0)
    return bytes(out)


def sqlite_edit(db_bytes: bytes, statements: list[tuple]) -> bytes:
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "c.db")
        Path(p).write_bytes(db_bytes)
        conn = open_sqlite(p)
        for st in statements:
            conn.execute(*st) if isinstance(st, tuple) else conn.execute(st)
        conn.commit()
        conn.execute("vacuum")
        conn.close()
        return Path(p).read_bytes()


def make_mini_bases(src_dir: Path, work: Path) -> tuple[Path, Path]:
    """Reduced berlin packages (8 notes) exported by Anki, as bases for the hostile files."""
    set_process_tz("Europe/Berlin")
    ac, _ = anki_modules()
    col = ac.Collection(str(work / "mini.anki2"))
    col.import_anki_package(ac.ImportAnkiPackageRequest(
        package_path=str(src_dir / "berlin-legacy2.apkg"),
        options=ac.ImportAnkiPackageOptions(with_scheduling=True, with_deck_configs=True)))
    nids = col.db.list("select id from notes order by id")
    keep = set(nids[:8])
    col.remove_notes([n for n in nids if n not in keep])
    col.db.execute("delete from graves")
    latest = work / "mini-latest.apkg"
    legacy2 = work / "mini-legacy2.apkg"
    for path, legacy in ((latest, False), (legacy2, True)):
        col.export_anki_package(out_path=str(path), options=ac.ExportAnkiPackageOptions(
            with_scheduling=True, with_deck_configs=True, with_media=True, legacy=legacy), limit=None)
    col.close()
    # vacuum the Legacy 2 base (the exporter leaves free pages with old data behind)
    with zipfile.ZipFile(legacy2) as z:
        db = z.read("collection.anki21")
    vac = work / "mini-legacy2-vacuumed.apkg"
    zip_copy(legacy2, vac, replace={"collection.anki21": sqlite_edit(db, [])})
    return latest, vac


def make_hostile(src_dir: Path, out_dir: Path) -> None:
    if not (src_dir / "berlin-legacy2.apkg").exists():
        sys.exit(f"{src_dir}/berlin-legacy2.apkg missing: run the default generation first")
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ankifix-hostile-"))
    latest, legacy2 = make_mini_bases(src_dir, work)
    ST, DF = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(legacy2) as z:
        l2_db = z.read("collection.anki21")
        l2_media = json.loads(z.read("media"))
    with zipfile.ZipFile(latest) as z:
        placeholder = z.read("collection.anki2")
        latest_db_z = z.read("collection.anki21b")
    evil = b"this file must never be written outside the work directory\n"
    made = {}

    def out(name):
        p = out_dir / name
        made[name] = p
        return p

    # zip slip variants (Latest layout, otherwise valid)
    zip_copy(latest, out("zip-slip-dotdot.apkg"), add=[("../evil.txt", evil, ST)])
    zip_copy(latest, out("zip-slip-absolute.apkg"), add=[("/tmp/evil.txt", evil, ST)])
    zip_copy(latest, out("zip-slip-subdir.apkg"), add=[("sub/evil.txt", evil, ST)])
    zip_copy(latest, out("zip-slip-backslash.apkg"), add=[("..\\evil.txt", evil, ST)])
    # bombs
    zip_copy(latest, out("zstd-bomb.apkg"), replace={"collection.anki21b": zstd_rle_zero_frame(1 << 30)})
    zip_copy(latest, out("zstd-bomb-declared.apkg"),
             replace={"collection.anki21b": zstd_rle_zero_frame(1 << 30, declare_size=True)})
    zip_copy(legacy2, out("deflate-bomb.apkg"), replace={"collection.anki21": bytes(50 * 1000 * 1000)})
    # truncation
    data = latest.read_bytes()
    out("truncated.apkg").write_bytes(data[: len(data) // 2])
    zip_copy(latest, out("truncated-zstd.apkg"), replace={"collection.anki21b": latest_db_z[: len(latest_db_z) // 2]})
    # meta versions
    zip_copy(latest, out("meta-too-new.apkg"), replace={"meta": b"\x08\x04"})
    zip_copy(latest, out("meta-unknown.apkg"), replace={"meta": b"\x08\x00"})
    # schema versions (Legacy 2 layout)
    for fname, ver in (("schema-too-old.apkg", 10), ("schema-too-new.apkg", 19), ("schema-12.apkg", 12)):
        zip_copy(legacy2, out(fname), replace={"collection.anki21": sqlite_edit(l2_db, [("update col set ver = ?", (ver,))])})
    # missing collection
    first_media_key = sorted(l2_media, key=int)[0]
    with zipfile.ZipFile(legacy2) as z:
        media_file = z.read(first_media_key)
    with zipfile.ZipFile(out("no-collection.apkg"), "w") as z:
        z.writestr(zipfile.ZipInfo("media", date_time=(2026, 1, 1, 0, 0, 0)), json.dumps({"0": l2_media[first_media_key]}))
        z.writestr(zipfile.ZipInfo("0", date_time=(2026, 1, 1, 0, 0, 0)), media_file)
    with zipfile.ZipFile(out("placeholder-only.apkg"), "w") as z:
        z.writestr(zipfile.ZipInfo("meta", date_time=(2026, 1, 1, 0, 0, 0)), b"\x08\x03")
        z.writestr(zipfile.ZipInfo("collection.anki2", date_time=(2026, 1, 1, 0, 0, 0)), placeholder)
    # not Anki at all
    p = out("not-anki.sqlite")
    if p.exists():
        p.unlink()
    conn = sqlite3.connect(p)
    conn.execute("create table recipes (id integer primary key, name text not null, minutes integer)")
    conn.executemany("insert into recipes (name, minutes) values (?, ?)",
                     [("Kartoffelsuppe", 40), ("Tortilla de patatas", 35), ("Onigiri", 15)])
    conn.commit()
    conn.close()
    not_anki = p.read_bytes()
    with zipfile.ZipFile(out("not-anki.apkg"), "w") as z:
        z.writestr(zipfile.ZipInfo("meta", date_time=(2026, 1, 1, 0, 0, 0)), b"\x08\x02")
        zi = zipfile.ZipInfo("collection.anki21", date_time=(2026, 1, 1, 0, 0, 0))
        zi.compress_type = DF
        z.writestr(zi, not_anki)
        z.writestr(zipfile.ZipInfo("collection.anki2", date_time=(2026, 1, 1, 0, 0, 0)), placeholder)
        z.writestr(zipfile.ZipInfo("media", date_time=(2026, 1, 1, 0, 0, 0)), b"{}")
    # corrupt bare collection: garbage over the middle pages (of a vacuumed copy, so that
    # the pages hold live b-tree data rather than free pages)
    buf = bytearray(sqlite_edit(l2_db, []))
    page = 4096
    npages = len(buf) // page
    rnd = random.Random(99)
    for pg in range(npages // 3, npages // 3 + max(2, npages // 3)):
        for i in range(pg * page + 8, (pg + 1) * page - 8):
            buf[i] = rnd.randrange(256)
    out("corrupt.anki2").write_bytes(bytes(buf))
    check_corrupt(out_dir / "corrupt.anki2")
    out("not-a-zip.apkg").write_text(
        "Dies ist keine Anki-Datei, sondern nur ein Einkaufszettel: Milch, Brot, Käse.\n" * 3, encoding="utf-8")
    # big id (2^53 + 1) in col.models
    big = 9007199254740993
    conn_db = sqlite_bigid(l2_db, big)
    zip_copy(legacy2, out("big-id.apkg"), replace={"collection.anki21": conn_db})
    # invalid UTF-8 in a note's fields
    with tempfile.TemporaryDirectory() as td:
        pth = os.path.join(td, "c.db")
        Path(pth).write_bytes(l2_db)
        conn = open_sqlite(pth)
        nid, flds = conn.execute("select id, flds from notes order by id limit 1").fetchone()
        parts = flds.split("\x1f")
        bad = "Hallo ".encode() + b"\xc3\x28\xff" + " Welt".encode()
        new_flds = b"\x1f".join([bad] + [p.encode("utf-8") for p in parts[1:]])
        conn.execute(f"update notes set flds = cast(X'{new_flds.hex()}' as text) where id = ?", (nid,))
        conn.commit()
        conn.close()
        bad_db = Path(pth).read_bytes()
    zip_copy(legacy2, out("bad-utf8.apkg"), replace={"collection.anki21": bad_db})
    # text where Anki writes a number (a card's interval): it would be copied verbatim into a submission
    with tempfile.TemporaryDirectory() as td:
        pth = os.path.join(td, "c.db")
        Path(pth).write_bytes(l2_db)
        conn = open_sqlite(pth)
        conn.execute("update cards set ivl = 'sieben Tage bei Anna' where id = (select min(id) from cards)")
        conn.commit()
        conn.close()
        text_db = Path(pth).read_bytes()
    zip_copy(legacy2, out("text-in-number.apkg"), replace={"collection.anki21": text_db})
    # media map names an entry that is not in the zip
    m2 = dict(l2_media)
    m2["7"] = "lost_voice_memo.mp3"
    zip_copy(legacy2, out("media-missing.apkg"), replace={"media": json.dumps(m2).encode()})
    out("empty.apkg").write_bytes(b"")
    shutil.rmtree(work, ignore_errors=True)
    write_hostile_readme(out_dir)
    for p in made.values():
        os.chmod(p, 0o644)
    total = sum(p.stat().st_size for p in made.values())
    print(f"hostile: {len(made)} files, {total} bytes in {out_dir}")


def sqlite_bigid(db_bytes: bytes, big: int) -> bytes:
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "c.db")
        Path(p).write_bytes(db_bytes)
        conn = open_sqlite(p)
        models_txt, conf_txt, decks_txt = conn.execute("select models, conf, decks from col").fetchone()
        models = json.loads(models_txt)
        old = int(next(k for k, m in models.items() if m["name"] == CUSTOM_NT_NAME))
        m = models.pop(str(old))
        m["id"] = big
        models[str(big)] = m
        conn.execute("update col set models = ?, conf = ?, decks = ?",
                     (json.dumps(models, ensure_ascii=False), conf_txt.replace(str(old), str(big)),
                      decks_txt.replace(str(old), str(big))))
        conn.execute("update notes set mid = ? where mid = ?", (big, old))
        conn.commit()
        conn.execute("vacuum")
        conn.close()
        raw = Path(p).read_bytes()
    assert b'"id": 9007199254740993' in raw or b'"id":9007199254740993' in raw
    return raw


def check_corrupt(path: Path) -> None:
    conn = sqlite3.connect(path)
    failed = False
    try:
        r = conn.execute("pragma integrity_check").fetchall()
        failed = r != [("ok",)]
        for t in ("notes", "cards", "revlog"):
            try:
                conn.execute(f"select * from {t}").fetchall()
            except sqlite3.DatabaseError:
                failed = True
    except sqlite3.DatabaseError:
        failed = True
    finally:
        conn.close()
    assert failed, "corrupt.anki2 is not detected as corrupt"


HOSTILE_TABLE = [
    # file, built from, what is wrong, expected outcome for anki-submit
    ("zip-slip-dotdot.apkg", "mini Latest", "extra entry `../evil.txt`",
     "refused (unsafe entry name); nothing written outside the work dir"),
    ("zip-slip-absolute.apkg", "mini Latest", "extra entry `/tmp/evil.txt`",
     "refused (absolute entry name); nothing written"),
    ("zip-slip-subdir.apkg", "mini Latest", "extra entry `sub/evil.txt`",
     "refused (all entries sit at the root in real packages); nothing written"),
    ("zip-slip-backslash.apkg", "mini Latest", "extra entry `..\\evil.txt` (backslash)",
     "refused (unsafe entry name)"),
    ("zstd-bomb.apkg", "mini Latest",
     "`collection.anki21b` is a valid zstd frame (2 MiB window like Anki's, no content size in the header) "
     "that produces 1 GiB of zeros; stored, ~32 KiB",
     "refused by a decompressed-size limit enforced while streaming, without writing/allocating 1 GiB"),
    ("zstd-bomb-declared.apkg", "mini Latest", "same, but the frame header also declares the content size (1 GiB)",
     "refused (possibly up front, from the declared size)"),
    ("deflate-bomb.apkg", "mini Legacy 2", "`collection.anki21` is 50 MB of zeros, deflated (~50 KB)",
     "refused by a size limit, or as not an SQLite database; never unbounded"),
    ("truncated.apkg", "mini Latest", "file cut at half its length (no central directory)",
     "refused: not a readable ZIP / truncated"),
    ("truncated-zstd.apkg", "mini Latest", "`collection.anki21b` zstd stream cut in half (the ZIP itself is valid)",
     "refused: corrupt/truncated zstd data"),
    ("meta-too-new.apkg", "mini Latest", "`meta` = field 1 varint 4 (bytes `08 04`)",
     "refused: made by a newer Anki (too new)"),
    ("meta-unknown.apkg", "mini Latest", "`meta` = field 1 varint 0 (bytes `08 00`, version UNKNOWN)",
     "refused: unknown (too new) package version"),
    ("schema-too-old.apkg", "mini Legacy 2", "`col.ver` = 10", "refused: schema too old"),
    ("schema-too-new.apkg", "mini Legacy 2", "`col.ver` = 19", "refused: schema too new"),
    ("schema-12.apkg", "mini Legacy 2", "`col.ver` = 12 (Anki accepts only 11 and 14-18)",
     "refused: unsupported schema version"),
    ("no-collection.apkg", "-", "only `media` (`{\"0\": \"flag_de.png\"}`) and media entry `0`; no collection, no meta",
     "refused: no collection in package"),
    ("placeholder-only.apkg", "mini Latest",
     "only `meta` (3) and the placeholder `collection.anki2` (\"please update Anki\"); no `collection.anki21b`",
     "refused: missing collection (the placeholder must not be read as the collection)"),
    ("not-anki.sqlite", "-", "SQLite database with one unrelated table `recipes`",
     "refused: not an Anki collection (and never modified)"),
    ("not-anki.apkg", "-", "Legacy 2 layout (meta 2, placeholder, media `{}`) whose `collection.anki21` is `not-anki.sqlite`",
     "refused: not an Anki collection"),
    ("corrupt.anki2", "mini Legacy 2 db", "bare collection whose middle pages are overwritten with random bytes",
     "refused: database corrupt (SQLite: malformed image / integrity_check fails)"),
    ("not-a-zip.apkg", "-", "plain text", "refused: not a ZIP file"),
    ("big-id.apkg", "mini Legacy 2",
     "the custom note type's id (its key and `\"id\"` in `col.models`, `notes.mid`, references in `col.conf`) "
     "is 9007199254740993 (2^53+1)",
     "read exactly as a 64-bit integer (not rounded to 9007199254740992 by a double-based JSON parser), or refused "
     "cleanly; never silently changed"),
    ("bad-utf8.apkg", "mini Legacy 2", "the first note's first field contains the bytes `C3 28 FF` (invalid UTF-8), stored as TEXT",
     "handled explicitly (clear error naming the note, or a documented lossless/replacement policy); no crash"),
    ("text-in-number.apkg", "mini Legacy 2", "the first card's `ivl` is the text `sieben Tage bei Anna`",
     "readable by inspect; refused by prepare (a submission copies that column as it is)"),
    ("media-missing.apkg", "mini Legacy 2", "media map has the entry `\"7\": \"lost_voice_memo.mp3\"` but there is no ZIP entry `7`",
     "the missing file is reported or ignored; the collection is still read"),
    ("empty.apkg", "-", "0 bytes", "refused: empty file / not a ZIP"),
]


def anki_reaction(path: Path) -> str:
    """What Anki's own importer (or Collection() for bare files, on a copy) does with a file."""
    ac, _ = anki_modules()
    with tempfile.TemporaryDirectory() as td:
        try:
            if path.suffix in (".anki2", ".sqlite"):
                shutil.copy(path, os.path.join(td, "x.anki2"))
                c2 = ac.Collection(os.path.join(td, "x.anki2"))
                try:
                    n = c2.db.scalar("select count() from notes")
                    ic = c2.db.scalar("pragma integrity_check")
                finally:
                    c2.close()
                return f"opens (a copy), notes={n}, integrity_check={ic[:40]}"
            col = ac.Collection(os.path.join(td, "c.anki2"))
            try:
                col.import_anki_package(ac.ImportAnkiPackageRequest(
                    package_path=str(path),
                    options=ac.ImportAnkiPackageOptions(with_scheduling=True, with_deck_configs=True)))
                return (f"imports: notes={col.db.scalar('select count() from notes')}, "
                        f"revlog={col.db.scalar('select count() from revlog')}")
            finally:
                col.close()
        except Exception as e:  # noqa: BLE001
            msg = str(e).replace("\n", " ").replace("|", "/").replace('\\"', '"')
            msg = msg.split("/tmp/")[0].rstrip(" '") if "/tmp/" in msg else msg
            return f"error {type(e).__name__}: {msg[:150]}"


# files that Anki itself imports (they test rules stricter than Anki's, or must be readable)
ANKI_ACCEPTS = {"zip-slip-dotdot.apkg", "zip-slip-absolute.apkg", "zip-slip-subdir.apkg", "zip-slip-backslash.apkg",
                "big-id.apkg", "media-missing.apkg", "not-anki.apkg", "not-anki.sqlite", "text-in-number.apkg"}


def write_hostile_readme(out_dir: Path) -> None:
    rows = []
    for fname, src, wrong, expected in HOSTILE_TABLE:
        reaction = anki_reaction(out_dir / fname)
        ok = reaction.startswith(("imports", "opens"))
        if (fname in ANKI_ACCEPTS) != ok:
            raise AssertionError(f"{fname}: unexpected Anki reaction: {reaction}")
        size = (out_dir / fname).stat().st_size
        rows.append(f"| {fname} | {size} | {src} | {wrong} | {expected} | {reaction} |")
    text = f"""# Hostile and broken inputs

Generated by `python3 Tests/Fixtures/make_fixtures.py --hostile --out Tests/Fixtures/hostile`
(after the default run) from the berlin outputs in `Tests/Fixtures/generated/`. To keep them
small, the bases are a reduced berlin collection (its first 8 notes with their cards and reviews,
imported and re-exported by Anki {ANKI_VERSION}): "mini Latest" (meta 3, zstd, schema 18) and
"mini Legacy 2" (meta 2, schema 11, vacuumed). Most of each file's size is the 51,200-byte
placeholder `collection.anki2` that Anki stores uncompressed. Each file is valid except for the
one thing named; the last column is what Anki {ANKI_VERSION}'s own importer does with it (checked
when the files are generated), which shows the base is otherwise sound.

| file | bytes | built from | what is wrong | expected outcome in anki-submit | Anki {ANKI_VERSION} import |
|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n"
    (out_dir / "README.md").write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------
# Large benchmark collection
# --------------------------------------------------------------------------


def make_large(out_dir: Path, tz_name: str, rollover: int, n_notes: int = 40_000,
               end_date: date | None = None, seed: int = 7) -> None:
    t_start = time.time()
    set_process_tz(tz_name)
    ac, _ = anki_modules()
    tz = ZoneInfo(tz_name)
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ankifix-large-"))
    col_path = str(work / "collection.anki2")
    col = ac.Collection(col_path)
    ids = setup_collection(col, rollover)
    end_date = end_date or (datetime.now(tz).date() - timedelta(days=1))
    history = 600  # days; with LARGE_MAX_IVL = 120 this gives ~1.2M revlog rows
    day0 = end_date - timedelta(days=history - 1)
    crt = local_ts(day0, rollover, tz)

    # --- notes via the backend, in batches ---------------------------------------
    words = [w for pool in (GERMAN_FOOD, GERMAN_NOUNS, GERMAN_VERBS, SPANISH, JAPANESE) for w in pool]
    deck_names = [DECK_FOOD, DECK_NOUNS, DECK_VERBS, DECK_GRAMMAR, DECK_ES, DECK_ES_CLASS, DECK_JA_N5]
    filler = ("Beispiel: Wir haben am Wochenende lange darüber gesprochen, und am Ende war "
              "klar, dass niemand die Antwort wusste. Ejemplo: nadie sabía la respuesta. ")
    batch = []
    t0 = time.time()
    for i in range(n_notes):
        w = words[i % len(words)]
        kind = i % 3
        if kind == 0:
            spec = {"type": "basic_rev", "deck": deck_names[i % len(deck_names)], "tags": ["bulk", f"batch{i // 1000}"],
                    "fields": {"Front": f"{w[0]} #{i}", "Back": f"{w[1]}<br>{filler[: 60 + i % 80]}"}}
        elif kind == 1:
            spec = {"type": "cloze", "deck": deck_names[i % len(deck_names)], "tags": ["bulk"],
                    "fields": {"Text": f"{{{{c1::{w[0]}}}}} bedeutet {{{{c2::{w[1]}}}}} ({i})", "Back Extra": filler[: i % 120]}}
        else:
            spec = {"type": "custom", "deck": deck_names[i % len(deck_names)], "tags": ["bulk"],
                    "fields": {"Word": f"{w[0]} [{i}]", "Meaning": w[1], "Audio": f"[sound:{MEDIA_MP3}]" if i % 500 == 2 else "",
                               "Picture": f'<img src="{MEDIA_PNG}">' if i % 700 == 5 else "", "Example": filler[: i % 150]}}
        note = make_note(col, ids, spec)
        batch.append(ac.AddNoteRequest(note=note, deck_id=ids["decks"][spec["deck"]]))
        if len(batch) == 2000:
            col.add_notes(batch)
            batch = []
    if batch:
        col.add_notes(batch)
    t_add = time.time() - t0
    col.close()

    # --- bulk rewrite with sqlite3: ids, card states and revlog -----------------------
    t0 = time.time()
    conn = open_sqlite(col_path)
    conn.execute("pragma journal_mode = delete")
    notes = conn.execute("select id from notes order by id").fetchall()
    cards = conn.execute("select id, nid, ord, did from cards order by nid, ord").fetchall()
    # note creation times spread over the first 80% of the history
    note_new = {}
    t_prev = 0
    base_ms = crt * 1000
    span_ms = int(history * 0.8) * 86_400_000
    for k, (nid,) in enumerate(notes):
        t_ms = base_ms + (span_ms * k) // len(notes) + rng.randrange(1000)
        t_ms = max(t_ms, t_prev + 10)
        t_prev = t_ms
        note_new[nid] = t_ms
    conn.execute("create temp table nmap (old integer primary key, new integer)")
    conn.executemany("insert into nmap values (?, ?)", note_new.items())
    conn.execute("update notes set id = -(select new from nmap where old = notes.id)")
    conn.execute("update notes set id = -id, mod = -id / 1000")
    # cards: id = note id + 1 + ord (notes are >= 10 ms apart, ord < 10)
    card_rows = []
    for cid, nid, ordn, did in cards:
        card_rows.append((cid, note_new[nid] + 1 + ordn, note_new[nid]))
    conn.execute("create temp table cmap (old integer primary key, new integer, nid integer)")
    conn.executemany("insert into cmap values (?, ?, ?)", card_rows)
    conn.execute("update cards set id = -(select new from cmap where old = cards.id), "
                 "nid = (select nid from cmap where old = cards.id)")
    conn.execute("update cards set id = -id")
    cards = conn.execute("select id, nid from cards order by id").fetchall()

    # review histories (simple SM-2-like learner): ~1.2M revlog rows with the default sizes
    max_ivl = LARGE_MAX_IVL
    end_ms = local_ts(end_date, 23.0, tz) * 1000
    revlog_rows = []
    card_updates = []
    used_ids = set()
    today = (end_date - day0).days + 1  # the export is made the day after the last study day
    for cid, nid in cards:
        if rng.random() < 0.06:
            continue  # stays new
        t = nid + rng.randrange(3600_000, 20 * 86_400_000)
        delta = rng.random()
        ivl, factor, reps, lapses = 0, 2500, 0, 0
        ctype = 0
        last_t = None
        # every card is studied until the end of the history; intervals are capped at
        # LARGE_MAX_IVL days (also the preset's maximum interval), which sets the revlog size
        while t <= end_ms:
            rid = t
            while rid in used_ids:
                rid += 1
            used_ids.add(rid)
            x = rng.random()
            if ctype == 0:  # learning: one Again or Good, then graduate
                ease = 1 if x < 0.2 + 0.2 * delta else 3
                if ease == 3:
                    revlog_rows.append((rid, cid, -1, 3, 1, -600, 0, rng.randrange(2000, 15000), 0))
                    ctype, ivl = 2, 1
                    t = rid + 86_400_000 + rng.randrange(-7200_000, 7200_000)
                else:
                    revlog_rows.append((rid, cid, -1, 1, -60, 0, 0, rng.randrange(2000, 15000), 0))
                    t = rid + 600_000
            elif ctype == 2:
                ease = 1 if x < 0.05 + 0.15 * delta else (2 if x < 0.2 else (4 if x > 0.93 else 3))
                last = ivl
                if ease == 1:
                    lapses += 1
                    factor = max(1300, factor - 200)
                    ivl = max(1, int(ivl * 0.2))
                    revlog_rows.append((rid, cid, -1, 1, -600, last, factor, rng.randrange(2000, 20000), 1))
                    ctype = 3
                    t = rid + 600_000
                else:
                    mult = {2: 1.2, 3: factor / 1000, 4: factor / 1000 * 1.3}[ease]
                    factor = {2: factor - 150, 3: factor, 4: factor + 150}[ease]
                    factor = max(1300, factor)
                    ivl = min(max_ivl, max(ivl + 1, int(ivl * mult * rng.uniform(0.95, 1.05))))
                    revlog_rows.append((rid, cid, -1, ease, ivl, last, factor, rng.randrange(2000, 20000), 1))
                    t = rid + ivl * 86_400_000 + rng.randrange(-10800_000, 10800_000)
            else:  # relearning
                revlog_rows.append((rid, cid, -1, 3, ivl, -600, factor, rng.randrange(2000, 15000), 2))
                ctype = 2
                t = rid + ivl * 86_400_000 + rng.randrange(-7200_000, 7200_000)
            reps += 1
            last_t = rid
        if last_t is None:
            continue
        if ctype == 2:
            due_day = anki_day(t, tz, rollover) - day0.toordinal()
            card_updates.append((2, 2, due_day, ivl, factor, reps, lapses, 0,
                                 json.dumps({"lrt": last_t // 1000}, separators=(",", ":")), cid))
        else:  # still in (re)learning: due in seconds
            card_updates.append((1 if ctype == 0 else 3, 1, t // 1000, ivl, factor, reps, lapses, 1001,
                                 json.dumps({"lrt": last_t // 1000}, separators=(",", ":")), cid))
    revlog_rows.sort()
    conn.executemany("insert into revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) values (?,?,?,?,?,?,?,?,?)",
                     revlog_rows)
    conn.executemany("update cards set type=?, queue=?, due=?, ivl=?, factor=?, reps=?, lapses=?, left=?, data=? where id=?",
                     card_updates)
    conn.execute("update col set crt = ?", (crt,))
    conn.commit()
    conn.close()
    t_bulk = time.time() - t0

    # --- back to Anki: FSRS preset, integrity, export ----------------------------------
    t0 = time.time()
    col.reopen()
    col.set_config("creationOffset", mins_west(crt, tz))
    col.set_config("rollover", rollover)
    col.close()
    col.reopen()
    upd = col._backend.get_deck_configs_for_update(1)
    configs = {c.config.id: c.config for c in upd.all_config}
    default = configs[1]
    default.config.fsrs_params_6[:] = LARGE_FSRS6_PARAMS
    default.config.desired_retention = 0.9
    default.config.maximum_review_interval = LARGE_MAX_IVL
    default.config.ignore_revlogs_before_date = (day0 + timedelta(days=30)).isoformat()
    col._backend.update_deck_configs(
        target_deck_id=1, configs=[configs[ids["ja_preset"]], default], removed_config_ids=[], mode=0,
        card_state_customizer=upd.card_state_customizer, limits=upd.current_deck.limits,
        new_cards_ignore_review_limit=upd.new_cards_ignore_review_limit, fsrs=True,
        apply_all_parent_limits=upd.apply_all_parent_limits, fsrs_reschedule=False, fsrs_health_check=False)
    t_fsrs = time.time() - t0
    integrity = col.db.scalar("pragma integrity_check")
    assert integrity == "ok", integrity
    counts = (col.db.scalar("select count() from notes"), col.db.scalar("select count() from cards"),
              col.db.scalar("select count() from revlog"))
    t0 = time.time()
    for fname, legacy in (("large-latest.apkg", False), ("large-legacy2.apkg", True)):
        col.export_anki_package(out_path=str(out_dir / fname), options=ac.ExportAnkiPackageOptions(
            with_scheduling=True, with_deck_configs=True, with_media=True, legacy=legacy), limit=None)
    t_export = time.time() - t0
    col.close()
    shutil.rmtree(work, ignore_errors=True)
    summary = {"notes": counts[0], "cards": counts[1], "revlog": counts[2], "integrity": integrity,
               "seconds": {"add_notes": round(t_add, 1), "bulk_sql": round(t_bulk, 1), "fsrs": round(t_fsrs, 1),
                           "export": round(t_export, 1), "total": round(time.time() - t_start, 1)},
               "files": {f: {"bytes": (out_dir / f).stat().st_size,
                             **{k: v for k, v in package_counts(out_dir / f).items() if not k.startswith("_")}}
                         for f in ("large-latest.apkg", "large-legacy2.apkg")},
               "tz": tz_name, "rollover": rollover, "day0": day0.isoformat(), "end_date": end_date.isoformat()}
    (out_dir / "large-summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


LARGE_MAX_IVL = 120

# FSRS-6 default parameters (as shipped by Anki/fsrs-rs), set explicitly for the large set
LARGE_FSRS6_PARAMS = [0.212, 1.2931, 2.3065, 8.2956, 6.4133, 0.8334, 3.0194, 0.001, 1.8722, 0.1666, 0.796,
                      1.4835, 0.0614, 0.2629, 1.6483, 0.6014, 1.8729, 0.5425, 0.0912, 0.0658, 0.1542]


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Review-page fixture: card HTML that must neither run nor fetch anything
# --------------------------------------------------------------------------

# The browser test listens on this loopback port; any request reaching it is a leak.
CANARY = "http://127.0.0.1:47999"

HOSTILE_FIELDS = [
    ("<b>Hund</b> <script>window.__pwned = 'script'; fetch('%s/script')</script>" % CANARY,
     "dog <img src=x onerror=\"window.__pwned='onerror'\">"),
    ("<a href=\"javascript:window.__pwned='href'\" data-testid=\"hostile-link\">Katze</a>",
     "cat <img src=\"%s/remote.png\">" % CANARY),
    ("<div style=\"background:url(%s/style.png)\">Maus</div>" % CANARY,
     "mouse <svg onload=\"window.__pwned='svg'\"></svg><iframe src=\"%s/frame\"></iframe>" % CANARY),
    ("<i>Haus</i>", "house <object data=\"%s/object\"></object><form action=\"%s/form\"><button>go</button></form>"
     % (CANARY, CANARY)),
    ("Schreib an anna.schmidt@example.org", "write to Anna [sound:anna_schmidt.mp3]"),
]


def make_review_html(out_dir: Path) -> None:
    """A small deck whose fields, template and CSS carry scripts, handlers and remote resources."""
    set_process_tz("Europe/Berlin")
    ac, _ = anki_modules()
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="anki-review-fixture-"))
    col = ac.Collection(str(work / "collection.anki2"))
    mm = col.models
    m = mm.new("Hostile template")
    for f in ("Front", "Back"):
        mm.add_field(m, mm.new_field(f))
    t = mm.new_template("Card 1")
    t["qfmt"] = "<script>window.__pwned='template'</script>{{Front}}<img src=\"%s/template.png\">" % CANARY
    t["afmt"] = "{{FrontSide}}<hr id=answer>{{Back}}"
    mm.add_template(m, t)
    m["css"] = ("@import url(%s/import.css);\n.card { font-family: serif; background: url(%s/bg.png); }\n"
                "@font-face { font-family: x; src: url(%s/font.woff); }\n" % (CANARY, CANARY, CANARY))
    mm.add(m)
    model = mm.by_name("Hostile template")
    did = col.decks.id("Hostile HTML")
    for i, (front, back) in enumerate(HOSTILE_FIELDS):
        note = col.new_note(model)
        note["Front"], note["Back"] = front, back
        note.tags = ["hostile", "tag%d" % (i % 2)]
        col.add_note(note, did)
    p = out_dir / "hostile-html.apkg"
    col.export_anki_package(out_path=str(p), options=ac.ExportAnkiPackageOptions(
        with_scheduling=True, with_deck_configs=True, with_media=True, legacy=False), limit=None)
    col.close()
    os.chmod(p, 0o644)
    shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {p} ({p.stat().st_size} bytes)")


def default_end_date() -> date:
    yesterday = date.today() - timedelta(days=1)
    return min(DEFAULT_END_DATE, yesterday)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=SCRIPT_DIR / "generated")
    ap.add_argument("--tz", help="IANA time zone of the simulated learner")
    ap.add_argument("--rollover", type=int, help="rollover hour (0-23)")
    ap.add_argument("--name", help="set name (file prefix)")
    ap.add_argument("--notes", type=int, help="number of notes for a single set (default 120)")
    ap.add_argument("--generations", choices=["all", "apkg"], default="all",
                    help="for a single set: all five packages, or Latest+Legacy2 .apkg only")
    ap.add_argument("--end-date", type=date.fromisoformat, help="last simulated study day (default 2026-11-20)")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--large", action="store_true", help="benchmark collection (not committed)")
    ap.add_argument("--hostile", action="store_true", help="hostile inputs derived from the berlin set")
    ap.add_argument("--review-html", action="store_true", help="deck with hostile card HTML for the review page")
    ap.add_argument("--from", dest="src", type=Path, default=SCRIPT_DIR / "generated",
                    help="where the berlin outputs are (for --hostile)")
    ap.add_argument("--verify", action="store_true", help="only re-import and count the packages in --out")
    ap.add_argument("--no-verify", action="store_true", help="skip re-import verification")
    args = ap.parse_args(argv)
    end_date = args.end_date or default_end_date()

    if args.large:
        make_large(args.out, args.tz or "Europe/Berlin", 4 if args.rollover is None else args.rollover,
                   end_date=args.end_date)
        return
    if args.hostile:
        make_hostile(args.src, args.out)
        return
    if args.review_html:
        make_review_html(args.out)
        return
    if args.verify:
        run_verify(args.out)
        return
    if args.name or args.tz or args.rollover is not None:
        if not args.tz:
            ap.error("--tz is required for a single set")
        name = args.name or args.tz.split("/")[-1].lower()
        make_small_set(name, args.tz, 4 if args.rollover is None else args.rollover, args.notes or 120,
                       args.generations, args.out, end_date, args.seed)
        if not args.no_verify:
            run_verify(args.out)
        return
    # default: three sets, each in its own process (the backend reads the local time zone from TZ)
    t0 = time.time()
    for name, tz, ro, n, gens in DEFAULT_SETS:
        for old in args.out.glob(f"{name}-*"):
            old.unlink()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--name", name, "--tz", tz, "--rollover", str(ro),
               "--notes", str(n), "--generations", gens, "--out", str(args.out), "--end-date", end_date.isoformat(),
               "--no-verify"]
        subprocess.run(cmd, check=True)
    print(f"generated in {time.time() - t0:.1f}s")
    if not args.no_verify:
        run_verify(args.out)


def run_verify(out_dir: Path) -> None:
    results = verify_dir(out_dir)
    print("\nRe-import with Anki's own importers (fresh collection each):")
    print(f"{'file':32} {'notes':>6} {'cards':>6} {'revlog':>7} {'decks':>6} {'media':>6} integrity  matches-truth")
    bad = 0
    for r in results:
        print(f"{r['file']:32} {r['notes']:>6} {r['cards']:>6} {r['revlog']:>7} {r['decks']:>6} {r['media_files']:>6} "
              f"{r['integrity']:>9}  {r['ok']}")
        bad += not r["ok"]
    print_table(out_dir)
    total = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    print(f"\ntotal size of {out_dir}: {total} bytes")
    if bad:
        sys.exit(f"{bad} package(s) failed verification")


if __name__ == "__main__":
    main()
