"""Reads a `research release` folder the way the FSRS field's tools do and compares it with the source
collections' own review history.

Usage: check_release.py RELEASE SOURCE.json
SOURCE.json: [{"name", "apkg", "zone", "rollover"}] for the consenting participants' source collections.

1. srs-benchmark's loading: pandas `read_parquet` of `revlogs/user_id=N`, of `cards` and `decks` with
   `filters=[("user_id", "=", uid)]`, merged on card_id and deck_id: every review finds its preset.
2. DuckDB `read_parquet(..., hive_partitioning = true)` and polars `scan_parquet` over the whole folder
   give the same rows.
3. Each source collection, read here from its .apkg with the learner's wall-clock days (time zone and
   rollover hour), turned into the builder's rows by an independent implementation of its rules, equals
   exactly one participant's `revlogs`; FSRS parameters fitted with fsrs-rs-python on both agree to 1e-4.
Prints one line per problem; exit status 1 if there is any.
"""
import datetime
import json
import pathlib
import sqlite3
import sys
import tempfile
import zipfile
import zoneinfo

import duckdb
import pandas as pd
import polars as pl
import zstandard
from fsrs_rs_python import DEFAULT_PARAMETERS, FSRS, FSRSItem, FSRSReview

REVLOG_COLUMNS = ["card_id", "day_offset", "rating", "state", "duration", "elapsed_days", "elapsed_seconds"]
problems = []


def problem(text):
    problems.append(text)


def user_ids(release):
    return sorted(int(p.name.split("=", 1)[1]) for p in (release / "revlogs").iterdir() if p.name.startswith("user_id="))


def srs_benchmark_load(release, uid):
    """srs-benchmark's way: revlogs of one user, cards and decks filtered by user_id, merged."""
    df = pd.read_parquet(release / "revlogs" / f"user_id={uid}")
    cards = pd.read_parquet(release / "cards", filters=[("user_id", "=", uid)]).drop(columns=["user_id"])
    decks = pd.read_parquet(release / "decks", filters=[("user_id", "=", uid)]).drop(columns=["user_id"])
    merged = df.merge(cards, on="card_id", how="left").merge(decks, on="deck_id", how="left")
    return df, cards, decks, merged


def check_layout(release):
    uids = user_ids(release)
    participants = pd.read_parquet(release / "participants.parquet")
    if sorted(participants["user_id"].tolist()) != uids:
        problem(f"participants.parquet has user_ids {participants['user_id'].tolist()}, folders {uids}")
    frames = {}
    for uid in uids:
        df, cards, decks, merged = srs_benchmark_load(release, uid)
        for name, frame, columns in (("revlogs", df, REVLOG_COLUMNS), ("cards", cards, ["card_id", "note_id", "deck_id"]),
                                     ("decks", decks, ["deck_id", "parent_id", "preset_id"])):
            if list(frame.columns) != columns:
                problem(f"user {uid}: {name} columns {list(frame.columns)}, expected {columns}")
            bad = [f"{c}:{t}" for c, t in frame.dtypes.items() if str(t) != "int64"]
            if bad:
                problem(f"user {uid}: {name} columns not int64: {bad}")
        if len(merged) != len(df):
            problem(f"user {uid}: the merge changed the number of reviews ({len(df)} -> {len(merged)})")
        if merged["deck_id"].isna().any() or merged["preset_id"].isna().any():
            problem(f"user {uid}: {int(merged['preset_id'].isna().sum())} reviews without a deck or preset after the merge")
        if (df["card_id"].isin(cards["card_id"]) == False).any():  # noqa: E712
            problem(f"user {uid}: reviews of cards missing from cards")
        if len(df) and int(df["day_offset"].min()) < 0:
            problem(f"user {uid}: negative day_offset")
        if not df["day_offset"].is_monotonic_increasing:
            problem(f"user {uid}: revlogs not in chronological order")
        count = participants.loc[participants["user_id"] == uid, "revlogs"]
        if len(count) != 1 or int(count.iloc[0]) != len(df):
            problem(f"user {uid}: participants.revlogs does not match the rows")
        frames[uid] = df

    # DuckDB and polars over the whole folder, hive-partitioned.
    con = duckdb.connect()
    glob = str(release / "revlogs" / "*" / "*.parquet")
    described = [(r[0], r[1]) for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = true)", [glob]).fetchall()]
    if described[:7] != [(c, "BIGINT") for c in REVLOG_COLUMNS] or described[7][0] != "user_id":
        problem(f"duckdb schema {described}")
    scanned = pl.scan_parquet(release / "revlogs", hive_partitioning=True)
    for uid, df in frames.items():
        expected = [tuple(int(v) for v in row) for row in df[REVLOG_COLUMNS].itertuples(index=False)]
        got = con.execute(f"SELECT {', '.join(REVLOG_COLUMNS)} FROM read_parquet(?, hive_partitioning = true) "
                          "WHERE user_id = ?", [glob, uid]).fetchall()
        if got != expected:
            problem(f"user {uid}: duckdb reads {len(got)} rows that differ from pandas' {len(expected)}")
        polars_rows = scanned.filter(pl.col("user_id") == uid).select(REVLOG_COLUMNS).collect().rows()
        if polars_rows != expected:
            problem(f"user {uid}: polars reads {len(polars_rows)} rows that differ from pandas' {len(expected)}")
    totals = dict(con.execute("SELECT user_id, count(*) FROM read_parquet(?, hive_partitioning = true) GROUP BY user_id",
                              [glob]).fetchall())
    if {u: n for u, n in totals.items() if n} != {u: len(f) for u, f in frames.items() if len(f)}:
        problem(f"duckdb counts per user {totals}")
    cards_all = pl.scan_parquet(release / "cards", hive_partitioning=True).collect()
    if cards_all.height != sum(len(pd.read_parquet(release / "cards" / f"user_id={u}")) for u in frames):
        problem("polars reads a different number of cards")
    con.close()
    return frames


def source_history(spec):
    """The source collection's reviews, with days on the learner's wall clock."""
    with zipfile.ZipFile(spec["apkg"]) as archive, tempfile.TemporaryDirectory() as tmp:
        names = archive.namelist()
        path = pathlib.Path(tmp) / "collection.sqlite"
        if "collection.anki21b" in names:
            path.write_bytes(zstandard.ZstdDecompressor().decompressobj().decompress(archive.read("collection.anki21b")))
        elif "collection.anki21" in names:
            path.write_bytes(archive.read("collection.anki21"))
        else:
            path.write_bytes(archive.read("collection.anki2"))
        db = sqlite3.connect(path)
        rows = db.execute("SELECT id, cid, ease, type, factor, time FROM revlog ORDER BY id").fetchall()
        db.close()
    zone = zoneinfo.ZoneInfo(spec["zone"])
    rollover = datetime.timedelta(hours=spec["rollover"])

    def day(ms):
        return (datetime.datetime.fromtimestamp(ms / 1000, zone) - rollover).date()

    first = day(rows[0][0]) if rows else None
    return [(ms, cid, ease, kind, factor, duration, (day(ms) - first).days) for ms, cid, ease, kind, factor, duration in rows]


def builder_rows(history):
    """anki-revlogs-10k's row semantics, written from its description: ratings 1-4 without filtered-deck
    previews; each card from the first of its last run of learning entries; cards without one dropped."""
    kept = [r for r in history if 1 <= r[2] <= 4 and not (r[3] == 3 and r[4] == 0)]
    by_card = {}
    for r in kept:
        by_card.setdefault(r[1], []).append(r)
    out = []
    for cid, entries in by_card.items():
        start = None
        for i in range(len(entries) - 1, -1, -1):
            if entries[i][3] == 0:
                start = i
            elif start is not None:
                break
        if start is None:
            continue
        previous = None
        for r in entries[start:]:
            ms, _, ease, kind, _, duration, day = r
            if previous is None:
                out.append((ms, cid, day, ease, 0, duration, -1, -1))
            else:
                out.append((ms, cid, day, ease, kind + 1, duration, day - previous[6], (ms - previous[0]) // 1000))
            previous = r
    out.sort()
    return [row[1:] for row in out]


def fsrs_items(rows):
    """FSRS training items: every prefix of a card's history ending in a review on a later day."""
    by_card = {}
    for card, _, rating, state, _, elapsed_days, _ in rows:
        by_card.setdefault(card, []).append((rating, 0 if state == 0 else elapsed_days))
    items = []
    for card in by_card:  # in order of first review: the same in both, whatever the ids
        reviews = [FSRSReview(rating, delta) for rating, delta in by_card[card]]
        for i in range(1, len(reviews)):
            if by_card[card][i][1] > 0:
                items.append(FSRSItem(reviews[:i + 1]))
    return items


def check_sources(frames, sources):
    taken = set()  # two sources may hold the same history (one collection in two export formats)
    for spec in sources:
        expected = builder_rows(source_history(spec))
        matches = []
        for uid, df in frames.items():
            got = [tuple(int(v) for v in row) for row in df[REVLOG_COLUMNS].itertuples(index=False)]
            if len(got) != len(expected):
                continue
            if [g[1:] for g in got] != [e[1:] for e in expected]:
                continue
            # The card ids differ (dense from 0 in the release) but must name the same cards.
            pairs = {(e[0], g[0]) for e, g in zip(expected, got)}
            if len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs}) and uid not in taken:
                matches.append(uid)
        if not matches:
            near = {uid: len(df) for uid, df in frames.items()}
            problem(f"{spec['name']}: {len(expected)} builder rows from the source match users {matches} (rows per user: {near})")
            continue
        taken.add(matches[0])
        release_rows = [tuple(int(v) for v in row) for row in frames[matches[0]][REVLOG_COLUMNS].itertuples(index=False)]
        fsrs = FSRS(DEFAULT_PARAMETERS)
        from_source = fsrs.compute_parameters(fsrs_items(expected))
        from_release = fsrs.compute_parameters(fsrs_items(release_rows))
        if max(abs(a - b) for a, b in zip(from_release, DEFAULT_PARAMETERS)) < 1e-3:
            problem(f"{spec['name']}: the fit returned the default parameters (too little data to compare)")
        worst = max(abs(a - b) for a, b in zip(from_source, from_release))
        if len(from_source) != len(from_release) or worst > 1e-4:
            problem(f"{spec['name']}: FSRS parameters differ by {worst}")
        print(f"{spec['name']}: user {matches[0]}, {len(expected)} reviews, FSRS parameters differ by {worst:.6f}")


def main():
    release = pathlib.Path(sys.argv[1])
    sources = json.loads(pathlib.Path(sys.argv[2]).read_text()) if len(sys.argv) > 2 else []
    try:
        frames = check_layout(release)
        check_sources(frames, sources)
    except Exception as error:  # a reader refusing the release is a finding
        problem(f"{type(error).__name__}: {error}")
    for line in problems[:50]:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


main()
