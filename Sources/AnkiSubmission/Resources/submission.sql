-- anki-submit submission, schema version 1.
-- One file per participant. Every column is one the data policy keeps; nothing it excludes.
-- Ids are dense counters from 1 (ascending order of the original id), consistent across tables.
-- Points in time are shifted by one secret random offset; review days are computed before shifting.

CREATE TABLE manifest (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE col (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    crt       INTEGER NOT NULL,   -- collection creation, Unix seconds, shifted
    ver       INTEGER NOT NULL,   -- schema version of the source collection
    sched_ver INTEGER NOT NULL,   -- 1, 2 or 3
    rollover  INTEGER NOT NULL,   -- hour at which review days start (used to compute revlog.day)
    utc_offset_hours INTEGER      -- the learner's UTC offset rounded to the hour, only if the policy allows
);

CREATE TABLE note_types (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('normal', 'cloze')),
    sort_field INTEGER NOT NULL   -- index of the sort field
);

CREATE TABLE fields (
    note_type_id INTEGER NOT NULL REFERENCES note_types(id),
    ord          INTEGER NOT NULL,
    name         TEXT NOT NULL,
    PRIMARY KEY (note_type_id, ord)
) WITHOUT ROWID;

CREATE TABLE deck_config (
    id                         INTEGER PRIMARY KEY,
    fsrs_params                TEXT NOT NULL,   -- JSON object: {"fsrsWeights"|"fsrsParams5"|"fsrsParams6": [..]}
    desired_retention          REAL,
    ignore_revlogs_before_date TEXT,            -- YYYY-MM-DD (UTC) of the shifted instant
    ignore_revlogs_before_ms   INTEGER,         -- the shifted instant, Unix ms
    new_per_day                INTEGER,
    max_ivl                    INTEGER
);

CREATE TABLE decks (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,       -- deck-N along the hierarchy, joined by ::
    parent_id INTEGER REFERENCES decks(id),
    conf_id   INTEGER REFERENCES deck_config(id),   -- NULL for filtered decks
    filtered  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE notes (
    id      INTEGER PRIMARY KEY,
    mid     INTEGER NOT NULL REFERENCES note_types(id),
    tags    TEXT NOT NULL,          -- space-separated, removed tags gone
    flds    TEXT NOT NULL,          -- fields joined by 0x1f, media references neutralized
    sfld    TEXT NOT NULL,          -- sort field text, recomputed from the neutralized fields
    created INTEGER NOT NULL        -- creation time, Unix ms, shifted
);

CREATE TABLE cards (
    id      INTEGER PRIMARY KEY,
    nid     INTEGER NOT NULL REFERENCES notes(id),
    did     INTEGER NOT NULL REFERENCES decks(id),
    ord     INTEGER NOT NULL,
    type    INTEGER NOT NULL,
    queue   INTEGER NOT NULL,
    due     INTEGER NOT NULL,       -- position or day number as-is; Unix seconds (shifted) when a timestamp
    ivl     INTEGER NOT NULL,
    factor  INTEGER NOT NULL,
    reps    INTEGER NOT NULL,
    lapses  INTEGER NOT NULL,
    left    INTEGER NOT NULL,
    odue    INTEGER NOT NULL,       -- as due
    odid    INTEGER NOT NULL,       -- 0, or a deck id
    data    TEXT NOT NULL,          -- JSON with only s, d, dr, decay and the shifted lrt
    created INTEGER NOT NULL        -- creation time, Unix ms, shifted
);

-- The review log has no key: its rows are stored in ascending order of `id` (the rowid is their
-- position, 1...n), which the audit proves, and `id` is unique because it is ascending. A key would
-- make SQLite search the table from its root for every row written: a third of the review log's write.
CREATE TABLE revlog (
    id      INTEGER NOT NULL,       -- review time, Unix ms, shifted; ascending in row order
    cid     INTEGER NOT NULL REFERENCES cards(id),
    ease    INTEGER NOT NULL,
    ivl     INTEGER NOT NULL,
    lastIvl INTEGER NOT NULL,
    factor  INTEGER NOT NULL,
    time    INTEGER NOT NULL,
    type    INTEGER NOT NULL,
    day     INTEGER NOT NULL        -- review day, 0 = the collection's first review day
);

-- No secondary indexes: a submission is a transfer file read once, in row order, by the audit and the
-- researcher's ingest. Indexes would make it a quarter larger and take a tenth of `prepare`'s time.
