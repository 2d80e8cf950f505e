-- anki-submit working dataset, schema version 1 (the researcher's side; never published as is).
-- One SQLite file holds every ingested participant. Data tables are keyed by (participant, id):
-- `participant` is the working number given at ingest (1, 2, 3, ... never reused), and every id is
-- a dense counter re-assigned at ingest, per participant, in ascending order of the submission's id.
-- STRICT tables: a value of the wrong type in a submission fails its ingest instead of slipping in.
-- Bookkeeping (dataset_meta, submissions, tombstones, withdrawals, journal_progress, releases) and
-- the keyed token hashes never leave this file; `release` copies only the data tables.

CREATE TABLE dataset_meta (
    key   TEXT PRIMARY KEY NOT NULL,   -- schema_version, created_at, key_check, next_participant, released_at
    value TEXT NOT NULL
) WITHOUT ROWID, STRICT;

CREATE TABLE participants (
    participant      INTEGER PRIMARY KEY,           -- working number, never reused
    token_hmac       TEXT NOT NULL UNIQUE,          -- HMAC-SHA256(researcher key, submission's token_hash)
    consent_public   INTEGER NOT NULL CHECK (consent_public IN (0, 1)),
    languages        TEXT NOT NULL,                 -- JSON array of ISO 639 codes (C1 or above)
    domain           TEXT NOT NULL,                 -- interests or domain, short free text
    schema_version   INTEGER NOT NULL,              -- submission schema version
    tool_version     TEXT NOT NULL,                 -- anki-submit version that prepared it
    policy_version   INTEGER NOT NULL,
    source_format    TEXT NOT NULL,                 -- export generation the participant had
    source_schema    INTEGER,                       -- Anki collection schema of the export
    collection_crt   INTEGER NOT NULL,              -- col.crt, Unix seconds, shifted
    collection_ver   INTEGER NOT NULL,              -- col.ver
    scheduler_version INTEGER NOT NULL,             -- col.sched_ver
    rollover_hour    INTEGER NOT NULL CHECK (rollover_hour BETWEEN 0 AND 23),
    utc_offset_hours INTEGER,                       -- only when the policy allowed it
    ingested_at      TEXT NOT NULL,                 -- UTC, ISO 8601
    revlog_first     INTEGER,                       -- rowid range of this participant's revlogs rows
    revlog_last      INTEGER,
    released_at      TEXT                           -- YYYY-MM-DD of the first public release with this participant
) STRICT;

CREATE TABLE note_types (
    participant  INTEGER NOT NULL,
    note_type_id INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('normal', 'cloze')),
    sort_field   INTEGER NOT NULL,
    PRIMARY KEY (participant, note_type_id)
) WITHOUT ROWID, STRICT;

CREATE TABLE fields (
    participant  INTEGER NOT NULL,
    note_type_id INTEGER NOT NULL,
    ord          INTEGER NOT NULL,
    name         TEXT NOT NULL,
    PRIMARY KEY (participant, note_type_id, ord)
) WITHOUT ROWID, STRICT;

CREATE TABLE presets (
    participant                INTEGER NOT NULL,
    preset_id                  INTEGER NOT NULL,
    fsrs_params                TEXT NOT NULL,   -- JSON object, as in the submission's deck_config
    desired_retention          REAL,
    ignore_revlogs_before_date TEXT,
    ignore_revlogs_before_ms   INTEGER,
    new_per_day                INTEGER,
    max_ivl                    INTEGER,
    PRIMARY KEY (participant, preset_id)
) WITHOUT ROWID, STRICT;

CREATE TABLE decks (
    participant INTEGER NOT NULL,
    deck_id     INTEGER NOT NULL,
    name        TEXT NOT NULL,      -- re-neutralized at ingest: deck-N along the hierarchy, joined by ::
    parent_id   INTEGER,
    preset_id   INTEGER,            -- NULL for filtered decks
    filtered    INTEGER NOT NULL,
    PRIMARY KEY (participant, deck_id)
) WITHOUT ROWID, STRICT;

-- Notes carry card text (kilobytes), so they live in an ordinary rowid table.
CREATE TABLE notes (
    participant  INTEGER NOT NULL,
    note_id      INTEGER NOT NULL,
    note_type_id INTEGER NOT NULL,
    tags         TEXT NOT NULL,
    flds         TEXT NOT NULL,     -- fields joined by 0x1f
    sfld         TEXT NOT NULL,
    created      INTEGER NOT NULL,  -- Unix ms, shifted
    UNIQUE (participant, note_id)
) STRICT;

CREATE TABLE cards (
    participant INTEGER NOT NULL,
    card_id     INTEGER NOT NULL,
    note_id     INTEGER NOT NULL,
    deck_id     INTEGER NOT NULL,
    ord         INTEGER NOT NULL,
    type        INTEGER NOT NULL,
    queue       INTEGER NOT NULL,
    due         INTEGER NOT NULL,
    ivl         INTEGER NOT NULL,
    factor      INTEGER NOT NULL,
    reps        INTEGER NOT NULL,
    lapses      INTEGER NOT NULL,
    left        INTEGER NOT NULL,
    odue        INTEGER NOT NULL,
    odid        INTEGER NOT NULL,   -- 0, or a deck_id
    data        TEXT NOT NULL,      -- JSON with only s, d, dr, decay and the shifted lrt
    created     INTEGER NOT NULL,   -- Unix ms, shifted
    PRIMARY KEY (participant, card_id)
) WITHOUT ROWID, STRICT;

-- Reviews are the bulk of the data, so they live in a plain rowid table: one participant's reviews
-- are added by one statement and so occupy one contiguous rowid range, recorded in `participants`
-- (revlog_first, revlog_last), which withdrawal deletes and counts use instead of an index.
CREATE TABLE revlogs (
    participant    INTEGER NOT NULL,
    reviewed_at_ms INTEGER NOT NULL,   -- revlog.id: review time, Unix ms, shifted (unique per participant)
    card_id        INTEGER NOT NULL,
    ease           INTEGER NOT NULL,
    ivl            INTEGER NOT NULL,
    last_ivl       INTEGER NOT NULL,
    factor         INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,   -- revlog.time
    type           INTEGER NOT NULL,
    day            INTEGER NOT NULL    -- review day, 0 = the participant's first review day
) STRICT;

-- Ingest bookkeeping: which submission files (by content) became which participant.
CREATE TABLE submissions (
    content_sha256 TEXT PRIMARY KEY NOT NULL,
    participant    INTEGER NOT NULL,
    ingested_at    TEXT NOT NULL
) WITHOUT ROWID, STRICT;

-- Withdrawn tokens. A submission whose keyed token hash or keyed content hash is here is refused
-- at ingest, also when the withdrawal arrived before the submission did.
CREATE TABLE tombstones (
    token_hmac   TEXT PRIMARY KEY NOT NULL,
    content_hmac TEXT,               -- HMAC-SHA256(key, file SHA-256) of the removed submission, if any
    withdrawn_at TEXT NOT NULL
) WITHOUT ROWID, STRICT;
CREATE INDEX tombstones_content ON tombstones(content_hmac);

-- One row per applied withdrawal request (a journal record, or a token given on the command line).
CREATE TABLE withdrawals (
    receipt       TEXT PRIMARY KEY NOT NULL,
    received_at   TEXT,
    applied_at    TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('removed', 'no-submission', 'already-withdrawn')),
    participant   INTEGER,           -- the working number that was removed
    rows_removed  INTEGER NOT NULL,
    was_released  TEXT               -- release date, when published copies already held this participant
) WITHOUT ROWID, STRICT;

-- How far each withdrawal journal has been applied (byte offset after the last applied record).
CREATE TABLE journal_progress (
    journal_id     TEXT PRIMARY KEY NOT NULL,
    applied_offset INTEGER NOT NULL,
    applied_count  INTEGER NOT NULL,
    updated_at     TEXT NOT NULL
) WITHOUT ROWID, STRICT;

CREATE TABLE releases (
    release      INTEGER PRIMARY KEY,
    released_at  TEXT NOT NULL,      -- YYYY-MM-DD
    participants INTEGER NOT NULL
) STRICT;
