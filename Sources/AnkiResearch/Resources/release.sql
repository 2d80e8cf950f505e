-- anki-submit public release, schema version 1: only participants who consented, renumbered for
-- the release. No token material, no keys, no ingest bookkeeping, no points in time.
-- Where a column has a counterpart in the FSRS benchmark datasets (open-spaced-repetition/
-- anki-revlogs-10k) it has that name and meaning; other columns keep Anki's own names.
-- The CSV files (`<table>/participant=N/data.csv`) hold the same columns minus `participant`.

CREATE TABLE participants (
    participant       INTEGER PRIMARY KEY,   -- release number 1..n, random order, unrelated to arrival
    languages         TEXT NOT NULL,         -- JSON array of ISO 639 codes spoken at C1 or above
    domain            TEXT NOT NULL,         -- interests or domain, in the participant's words
    scheduler_version INTEGER NOT NULL,      -- Anki scheduler (1, 2 or 3)
    rollover_hour     INTEGER NOT NULL,      -- hour at which the participant's review day starts
    utc_offset_hours  INTEGER,               -- only when the collection policy allowed it
    notes             INTEGER NOT NULL,      -- notes of this participant in the release
    cards             INTEGER NOT NULL,      -- cards
    reviews           INTEGER NOT NULL       -- review log entries
) STRICT;

CREATE TABLE revlogs (
    participant     INTEGER NOT NULL,   -- the participant's release number
    review_th       INTEGER NOT NULL,   -- 1..n, the participant's reviews in chronological order
    card_id         INTEGER NOT NULL,   -- the card reviewed (cards.card_id)
    day_offset      INTEGER NOT NULL,   -- days since the participant's first review day (0)
    rating          INTEGER NOT NULL,   -- 1 again, 2 hard, 3 good, 4 easy; 0 = rescheduled by hand, not a review
    state           INTEGER NOT NULL,   -- 0 new, 1 learning, 2 review, 3 relearning
    duration        INTEGER NOT NULL,   -- milliseconds spent on the review
    elapsed_days    INTEGER NOT NULL,   -- review days since the card's previous review, -1 for its first
    elapsed_seconds INTEGER NOT NULL,   -- seconds since the card's previous review, -1 for its first
    type            INTEGER NOT NULL,   -- Anki revlog.type: 0 learn, 1 review, 2 relearn, 3 filtered, 4 manual, 5 rescheduled
    ivl             INTEGER NOT NULL,   -- Anki revlog.ivl: new interval, days (negative: seconds)
    last_ivl        INTEGER NOT NULL,   -- Anki revlog.lastIvl
    factor          INTEGER NOT NULL,   -- Anki revlog.factor: ease in permille, or FSRS difficulty
    PRIMARY KEY (participant, review_th)
) WITHOUT ROWID, STRICT;

CREATE TABLE cards (
    participant INTEGER NOT NULL,   -- the participant's release number
    card_id     INTEGER NOT NULL,   -- the card, 1..n per participant
    note_id     INTEGER NOT NULL,   -- the note the card belongs to; a note has one card per template or cloze
    deck_id     INTEGER NOT NULL,   -- the deck the card is in (decks.deck_id)
    ord         INTEGER NOT NULL,   -- template (or cloze) number of the card within its note
    type        INTEGER NOT NULL,   -- 0 new, 1 learning, 2 review, 3 relearning
    queue       INTEGER NOT NULL,   -- Anki cards.queue (-3..4)
    due         INTEGER NOT NULL,   -- Anki cards.due (position, day number, or shifted Unix seconds)
    ivl         INTEGER NOT NULL,   -- current interval, days (negative: seconds, in learning)
    factor      INTEGER NOT NULL,   -- ease in permille (SM-2)
    reps        INTEGER NOT NULL,   -- number of reviews
    lapses      INTEGER NOT NULL,   -- times the card went from review to relearning
    left        INTEGER NOT NULL,   -- learning steps left (Anki cards.left)
    odue        INTEGER NOT NULL,   -- original due while in a filtered deck, else 0
    odid        INTEGER NOT NULL,   -- original deck_id while in a filtered deck, else 0
    stability   REAL,               -- FSRS memory state s, days
    difficulty  REAL,               -- FSRS memory state d, 1..10
    desired_retention REAL,         -- FSRS dr the card was scheduled with
    decay       REAL,               -- FSRS-6 decay
    PRIMARY KEY (participant, card_id)
) WITHOUT ROWID, STRICT;

CREATE TABLE decks (
    participant INTEGER NOT NULL,   -- the participant's release number
    deck_id     INTEGER NOT NULL,   -- the deck, 1..n per participant
    parent_id   INTEGER,            -- empty for a top-level deck
    preset_id   INTEGER,            -- empty for a filtered deck
    name        TEXT NOT NULL,      -- neutral: deck-N along the hierarchy
    filtered    INTEGER NOT NULL,   -- 1 for a filtered (custom study) deck
    PRIMARY KEY (participant, deck_id)
) WITHOUT ROWID, STRICT;

CREATE TABLE presets (
    participant       INTEGER NOT NULL,   -- the participant's release number
    preset_id         INTEGER NOT NULL,   -- the deck options preset, 1..n per participant
    fsrs_params       TEXT NOT NULL,   -- JSON object: fsrsWeights / fsrsParams5 / fsrsParams6, as Anki stored them
    desired_retention REAL,               -- FSRS desired retention of the preset
    new_per_day       INTEGER,            -- new cards per day
    max_ivl           INTEGER,            -- maximum interval, days
    PRIMARY KEY (participant, preset_id)
) WITHOUT ROWID, STRICT;

CREATE TABLE note_types (
    participant  INTEGER NOT NULL,   -- the participant's release number
    note_type_id INTEGER NOT NULL,   -- the note type, 1..n per participant
    kind         TEXT NOT NULL,      -- normal or cloze
    sort_field   INTEGER NOT NULL,   -- index of the sort field
    field_names  TEXT NOT NULL,      -- JSON array of field names, in order
    PRIMARY KEY (participant, note_type_id)
) WITHOUT ROWID, STRICT;

CREATE TABLE notes (
    participant  INTEGER NOT NULL,   -- the participant's release number
    note_id      INTEGER NOT NULL,   -- the note, 1..n per participant
    note_type_id INTEGER NOT NULL,   -- its note type (note_types.note_type_id)
    tags         TEXT NOT NULL,      -- space-separated
    fields       TEXT NOT NULL,      -- JSON array of field texts, in the note type's order
    sort_field   TEXT NOT NULL,      -- text of the note type's sort field
    PRIMARY KEY (participant, note_id)
) STRICT;
