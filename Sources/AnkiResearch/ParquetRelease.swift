import AnkiParquet
import Foundation
import GRDB

/// The release's Parquet tables in the layout of the FSRS field's dataset (open-spaced-repetition/
/// anki-revlogs-10k): `<table>/user_id=N/data.parquet` per participant and `participants.parquet`.
/// `revlogs`, `cards` and `decks` have exactly that dataset's columns, order, int64 types and row
/// semantics; everything else the release keeps is in further tables of the same layout. Ids are dense
/// from 0 per participant (the working dataset's 1-based ids minus one), the same in every table.
///
/// Written from the working dataset, one participant and one table at a time (a writer buffers at
/// most one row group), so memory does not grow with the number of participants.
struct ParquetRelease {
    struct Table {
        let name: String
        let columns: [ParquetColumn]
        /// Reads one participant's rows; bound: `:p` working number, `:first`/`:last` its revlog rowid
        /// range, `:anchor` the Anki day number of its day 0, `:crt` its collection creation (seconds).
        let sql: String
    }

    static func int(_ name: String, optional: Bool = false) -> ParquetColumn { ParquetColumn(name, .int64, optional: optional) }
    static func real(_ name: String) -> ParquetColumn { ParquetColumn(name, .double, optional: true) }
    static func text(_ name: String) -> ParquetColumn { ParquetColumn(name, .string) }

    /// Anki day number of a shifted Unix-seconds expression, relative to day 0 of the participant
    /// (floor division: times before the collection was created give negative days).
    static func dayOffset(_ seconds: String) -> String {
        let x = "((\(seconds)) - :crt)"
        return "(((\(x) - ((\(x) % 86400) + 86400) % 86400) / 86400) - :anchor)"
    }

    /// A card's `due` (or `odue` while in a filtered deck, so that every column describes the card in
    /// its home deck) as a day_offset: review and day-learning cards count Anki days, learning cards
    /// hold a (shifted) Unix time. Null for new cards and for participants without reviews.
    static let dueColumn = "(CASE WHEN c.odid != 0 THEN c.odue ELSE c.due END)"

    static let tables: [Table] = [
        Table(name: "revlogs",
              columns: ["card_id", "day_offset", "rating", "state", "duration", "elapsed_days", "elapsed_seconds"].map { int($0) },
              sql: """
                  WITH kept AS (
                    SELECT rowid AS r, card_id, reviewed_at_ms, day, ease, duration_ms, type
                    FROM w.revlogs WHERE rowid BETWEEN :first AND :last AND participant = :p
                      AND ease BETWEEN 1 AND 4 AND NOT (type = 3 AND factor = 0)
                  ), marked AS (
                    SELECT *, type = 0 AND coalesce(lag(type) OVER card, -1) != 0 AS learn_start
                    FROM kept WINDOW card AS (PARTITION BY card_id ORDER BY reviewed_at_ms, r)
                  ), starts AS (
                    SELECT card_id, max(reviewed_at_ms) AS start_ms FROM marked WHERE learn_start GROUP BY card_id
                  ), history AS (
                    SELECT m.*, lag(m.day) OVER card AS previous_day, lag(m.reviewed_at_ms) OVER card AS previous_ms
                    FROM marked m JOIN starts s ON s.card_id = m.card_id AND m.reviewed_at_ms >= s.start_ms
                    WINDOW card AS (PARTITION BY m.card_id ORDER BY m.reviewed_at_ms, m.r)
                  )
                  SELECT card_id - 1, day, ease, CASE WHEN previous_day IS NULL THEN 0 ELSE type + 1 END, duration_ms,
                         coalesce(day - previous_day, -1), coalesce((reviewed_at_ms - previous_ms) / 1000, -1)
                  FROM history ORDER BY reviewed_at_ms, r
                  """),
        Table(name: "cards", columns: ["card_id", "note_id", "deck_id"].map { int($0) },
              sql: """
                  SELECT card_id - 1, note_id - 1, (CASE WHEN odid != 0 THEN odid ELSE deck_id END) - 1
                  FROM w.cards WHERE participant = :p ORDER BY card_id
                  """),
        Table(name: "decks", columns: ["deck_id", "parent_id", "preset_id"].map { int($0) },
              sql: """
                  SELECT deck_id - 1, coalesce(parent_id - 1, -1), coalesce(preset_id - 1, -1)
                  FROM w.decks WHERE participant = :p AND filtered = 0 ORDER BY deck_id
                  """),
        Table(name: "reviews",
              columns: ["review_th", "card_id", "day_offset", "rating", "duration", "elapsed_days", "elapsed_seconds",
                        "type", "ivl", "last_ivl", "factor"].map { int($0) },
              sql: """
                  WITH src AS (
                    SELECT rowid AS r, card_id, reviewed_at_ms, day, ease, duration_ms, type, ivl, last_ivl, factor
                    FROM w.revlogs WHERE rowid BETWEEN :first AND :last AND participant = :p
                  ), rated AS (
                    SELECT r, lag(day) OVER card AS previous_day, lag(reviewed_at_ms) OVER card AS previous_ms
                    FROM src WHERE ease BETWEEN 1 AND 4
                    WINDOW card AS (PARTITION BY card_id ORDER BY reviewed_at_ms, r)
                  )
                  SELECT row_number() OVER (ORDER BY s.reviewed_at_ms, s.r) - 1, s.card_id - 1, s.day, s.ease, s.duration_ms,
                         CASE WHEN s.ease BETWEEN 1 AND 4 THEN coalesce(s.day - rated.previous_day, -1) ELSE -1 END,
                         CASE WHEN s.ease BETWEEN 1 AND 4 THEN coalesce((s.reviewed_at_ms - rated.previous_ms) / 1000, -1) ELSE -1 END,
                         s.type, s.ivl, s.last_ivl, s.factor
                  FROM src s LEFT JOIN rated ON rated.r = s.r ORDER BY s.reviewed_at_ms, s.r
                  """),
        Table(name: "card_states",
              columns: [int("card_id"), int("ord"), int("type"), int("queue"), int("due_day_offset", optional: true),
                        int("new_position", optional: true), int("ivl"), int("factor"), int("reps"), int("lapses"), int("left"),
                        int("filtered_deck_id"), real("stability"), real("difficulty"), real("desired_retention"), real("decay")],
              sql: """
                  SELECT c.card_id - 1, c.ord, c.type, c.queue,
                         CASE WHEN c.type = 0 OR :anchor IS NULL THEN NULL
                              WHEN \(dueColumn) > 1000000000 THEN \(dayOffset(dueColumn))
                              ELSE \(dueColumn) - :anchor END,
                         CASE WHEN c.type = 0 THEN \(dueColumn) END,
                         c.ivl, c.factor, c.reps, c.lapses, c.left,
                         CASE WHEN c.odid != 0 THEN c.deck_id - 1 ELSE -1 END,
                         CASE WHEN json_valid(c.data) THEN json_extract(c.data, '$.s') END,
                         CASE WHEN json_valid(c.data) THEN json_extract(c.data, '$.d') END,
                         CASE WHEN json_valid(c.data) THEN json_extract(c.data, '$.dr') END,
                         CASE WHEN json_valid(c.data) THEN json_extract(c.data, '$.decay') END
                  FROM w.cards c WHERE c.participant = :p ORDER BY c.card_id
                  """),
        Table(name: "deck_tree",
              columns: [int("deck_id"), int("parent_id"), int("preset_id"), text("name"), int("filtered")],
              sql: """
                  SELECT deck_id - 1, coalesce(parent_id - 1, -1), coalesce(preset_id - 1, -1), name, filtered
                  FROM w.decks WHERE participant = :p ORDER BY deck_id
                  """),
        Table(name: "presets",
              columns: [int("preset_id"), text("fsrs_params"), real("desired_retention"),
                        int("ignore_before_day_offset", optional: true), int("new_per_day", optional: true),
                        int("max_ivl", optional: true)],
              sql: """
                  SELECT preset_id - 1, fsrs_params, desired_retention,
                         CASE WHEN ignore_revlogs_before_ms > 0 AND :anchor IS NOT NULL
                              THEN \(dayOffset("ignore_revlogs_before_ms / 1000")) END,
                         new_per_day, max_ivl
                  FROM w.presets WHERE participant = :p ORDER BY preset_id
                  """),
        Table(name: "note_types", columns: [int("note_type_id"), text("kind"), int("sort_field"), text("field_names")],
              sql: """
                  SELECT t.note_type_id - 1, t.kind, t.sort_field,
                         (SELECT json_group_array(name) FROM (SELECT f.name FROM w.fields f
                           WHERE f.participant = t.participant AND f.note_type_id = t.note_type_id ORDER BY f.ord))
                  FROM w.note_types t WHERE t.participant = :p ORDER BY t.note_type_id
                  """),
        Table(name: "notes", columns: [int("note_id"), int("note_type_id"), text("tags"), text("fields"), text("sort_field")],
              sql: """
                  SELECT note_id - 1, note_type_id - 1, tags, anki_fields_json(flds), sfld
                  FROM w.notes WHERE participant = :p ORDER BY note_id
                  """),
    ]

    static let participantColumns: [ParquetColumn] = [
        int("user_id"), text("languages"), text("domain"), int("scheduler_version"), int("rollover_hour"),
        int("utc_offset_hours", optional: true), int("notes"), int("cards"), int("reviews"), int("revlogs"),
    ]

    /// Writes every table for every participant (`mapping`: working number → release number) into
    /// `folder`; returns the relative paths written.
    static func write(dataset: URL, mapping: [Int: Int], into folder: URL) throws -> [String] {
        var config = Configuration()
        config.label = "anki-submit.release-parquet"
        config.prepareDatabase { db in
            db.add(function: Release.fieldsJSON)
        }
        let queue = try DatabaseQueue(path: ":memory:", configuration: config)
        defer { try? queue.close() }
        var written: [String] = []
        try queue.inDatabase { db in
            try db.execute(sql: "ATTACH DATABASE ? AS w", arguments: [dataset.path])
            defer { try? db.execute(sql: "DETACH DATABASE w") }
            let participants = try Row.fetchAll(db, sql: """
                SELECT participant, languages, domain, scheduler_version, rollover_hour, utc_offset_hours, collection_crt,
                       coalesce(revlog_first, 0) AS first, coalesce(revlog_last, -1) AS last
                FROM w.participants
                """)
            var summary: [Int: [ParquetValue]] = [:]
            for participant in participants {
                let p: Int = participant["participant"]
                guard let release = mapping[p] else { continue }
                let crt: Int64 = participant["collection_crt"]
                let first: Int64 = participant["first"], last: Int64 = participant["last"]
                let anchor = try Self.anchor(db, first: first, last: last, participant: p, crt: crt)
                let arguments: [String: (any DatabaseValueConvertible)?] = ["p": p, "first": first, "last": last, "anchor": anchor, "crt": crt]
                var counts: [String: Int64] = [:]
                for table in tables {
                    let relative = "\(table.name)/user_id=\(release)/data.parquet"
                    let dir = folder.appendingPathComponent("\(table.name)/user_id=\(release)")
                    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                    counts[table.name] = try writeTable(db, table: table, arguments: arguments,
                                                        to: folder.appendingPathComponent(relative))
                    written.append(relative)
                }
                summary[release] = [
                    .int(Int64(release)), .string(participant["languages"]), .string(participant["domain"]),
                    .int(participant["scheduler_version"]), .int(participant["rollover_hour"]),
                    (participant["utc_offset_hours"] as Int64?).map { ParquetValue.int($0) } ?? ParquetValue.null,
                    .int(counts["notes"] ?? 0), .int(counts["cards"] ?? 0), .int(counts["reviews"] ?? 0),
                    .int(counts["revlogs"] ?? 0),
                ]
            }
            let writer = try ParquetWriter(url: folder.appendingPathComponent("participants.parquet"), columns: participantColumns)
            for release in summary.keys.sorted() { try writer.append(summary[release]!) }
            try writer.close()
            written.append("participants.parquet")
        }
        return written
    }

    /// The Anki day number of the participant's day 0: the most common difference between a review's
    /// Anki day (counted from the collection's creation) and its release day; nil without reviews.
    static func anchor(_ db: Database, first: Int64, last: Int64, participant: Int, crt: Int64) throws -> Int64? {
        try Int64.fetchOne(db, sql: """
            SELECT a FROM (
              SELECT (x - ((x % 86400) + 86400) % 86400) / 86400 - day AS a, count(*) AS n
              FROM (SELECT reviewed_at_ms / 1000 - :crt AS x, day FROM w.revlogs
                    WHERE rowid BETWEEN :first AND :last AND participant = :p)
              GROUP BY a ORDER BY n DESC, a LIMIT 1)
            """, arguments: ["first": first, "last": last, "p": participant, "crt": crt])
    }

    private static func writeTable(_ db: Database, table: Table, arguments: [String: (any DatabaseValueConvertible)?],
                                   to url: URL) throws -> Int64 {
        let writer = try ParquetWriter(url: url, columns: table.columns)
        do {
            let statement = try db.makeStatement(sql: table.sql)
            // Only the named arguments the statement uses (GRDB refuses unused ones).
            statement.arguments = StatementArguments(arguments.filter { table.sql.contains(":\($0.key)") })
            let rows = try Row.fetchCursor(statement)
            var cells = [ParquetValue](repeating: .null, count: table.columns.count)
            while let row = try rows.next() {
                for (i, column) in table.columns.enumerated() {
                    let value: DatabaseValue = row[i]
                    switch (value.storage, column.type) {
                    case (.null, _): cells[i] = .null
                    case (.int64(let n), .int64), (.int64(let n), .int32): cells[i] = .int(n)
                    case (.int64(let n), .double): cells[i] = .double(Double(n))
                    case (.double(let d), .double): cells[i] = .double(d)
                    case (.string(let s), .string): cells[i] = .string(s)
                    default:
                        throw ResearchError(.writeFailure, "The dataset holds a value of an unexpected type in \(table.name).\(column.name); "
                                            + "nothing was released.")
                    }
                }
                try writer.append(cells)
            }
            try writer.close()
            return writer.rowCount
        } catch {
            writer.abandon()
            if let error = error as? ParquetError {
                throw ResearchError(.writeFailure, "Could not write \(url.lastPathComponent) of \(table.name): \(error.message)")
            }
            throw error
        }
    }
}

extension ParquetRelease {
    /// What each table is, for the data card.
    static let tableMeanings: [String: String] = [
        "revlogs": "The reviews as the FSRS tools read them (anki-revlogs-10k's `build_parquet.py` row semantics): "
            + "ratings 1-4 only, without filtered-deck previews (Anki type 3 with factor 0); each card's history from "
            + "the start of its last run of learning reviews; cards whose kept history does not start with such a "
            + "learning step are left out. Chronological.",
        "cards": "Every card: its note and its home deck (for a card in a filtered deck, the deck it came from).",
        "decks": "Normal (not filtered) decks; every `cards.deck_id` is here, with its preset.",
        "reviews": "Every review log entry, unfiltered (manual reschedulings with rating 0, previews, everything "
            + "before a card's last learning start), chronological, with Anki's own revlog columns.",
        "card_states": "Each card's scheduling state and FSRS memory state when the participant exported.",
        "deck_tree": "All decks, filtered ones included, with neutral names along the hierarchy.",
        "presets": "Deck option presets: FSRS parameters and retention, limits.",
        "note_types": "Note types: kind and field names (templates, styling and names dropped).",
        "notes": "Note text and tags, as the participant chose to share them (see above).",
    ]

    /// What each column means, for the data card (`table.column`; `participants.column` for participants.parquet).
    static let columnMeanings: [String: String] = [
        "revlogs.card_id": "the card (`cards.card_id`)",
        "revlogs.day_offset": "the learner's review day as their Anki counted it (their rollover hour, time zone and "
            + "daylight saving), 0 = the participant's first review day",
        "revlogs.rating": "1 again, 2 hard, 3 good, 4 easy",
        "revlogs.state": "0 = the learning start this history begins with; otherwise Anki's review type + 1: "
            + "1 learning, 2 review, 3 relearning, 4 filtered (rescheduling) review",
        "revlogs.duration": "milliseconds spent on the review",
        "revlogs.elapsed_days": "review days since the card's previous row here; -1 on state 0 rows",
        "revlogs.elapsed_seconds": "seconds since the card's previous row here (rounded down); -1 on state 0 rows",
        "cards.card_id": "the card, 0..n-1",
        "cards.note_id": "its note (`notes.note_id`)",
        "cards.deck_id": "its home deck (`decks.deck_id`)",
        "decks.deck_id": "the deck, 0..n-1 (shared with `deck_tree`)",
        "decks.parent_id": "the parent deck, -1 for a top-level deck",
        "decks.preset_id": "its options preset (`presets.preset_id`); -1 if the participant's export had none",
        "reviews.review_th": "0..n-1, the participant's review log in chronological order",
        "reviews.card_id": "the card (`cards.card_id`)",
        "reviews.day_offset": "review day, as in `revlogs`",
        "reviews.rating": "1-4 as in `revlogs`; 0 = rescheduled or set due by hand, not a review",
        "reviews.duration": "milliseconds",
        "reviews.elapsed_days": "review days since the card's previous entry with rating 1-4; -1 for its first and on rating 0",
        "reviews.elapsed_seconds": "seconds since that entry (rounded down); -1 for its first and on rating 0",
        "reviews.type": "Anki revlog.type: 0 learn, 1 review, 2 relearn, 3 filtered, 4 manual, 5 rescheduled",
        "reviews.ivl": "Anki revlog.ivl: the new interval, days (negative: seconds)",
        "reviews.last_ivl": "Anki revlog.lastIvl: the previous interval, days (negative: seconds)",
        "reviews.factor": "Anki revlog.factor: ease in permille (SM-2), or the difficulty Anki stores under FSRS; 0 for a filtered-deck preview",
        "card_states.card_id": "the card (`cards.card_id`)",
        "card_states.ord": "template (or cloze) number within its note",
        "card_states.type": "0 new, 1 learning, 2 review, 3 relearning",
        "card_states.queue": "Anki cards.queue: -3 buried by user, -2 buried by scheduler, -1 suspended, 0 new, 1 learning, "
            + "2 review, 3 day learning, 4 preview",
        "card_states.due_day_offset": "the review day (`day_offset` scale) the card is due in its home deck; empty for new "
            + "cards and for participants without reviews. Learning cards are due within a day: the day of that moment. "
            + "Anki's own `due` (days since a collection creation day the release drops, or a point in time) is not released",
        "card_states.new_position": "for new cards, the position in the new-card queue (Anki's `due` of a new card); empty otherwise",
        "card_states.ivl": "current interval, days (0 for new and learning cards)",
        "card_states.factor": "ease in permille (SM-2); under FSRS, Anki's difficulty value",
        "card_states.reps": "number of reviews",
        "card_states.lapses": "times the card went from review to relearning",
        "card_states.left": "Anki cards.left: learning steps left (today's and total, packed as Anki packs them)",
        "card_states.filtered_deck_id": "the filtered deck the card is in (`deck_tree.deck_id`), -1 if none",
        "card_states.stability": "FSRS memory state: stability, days; empty if FSRS never ran on the card",
        "card_states.difficulty": "FSRS memory state: difficulty, 1..10; empty if none",
        "card_states.desired_retention": "FSRS desired retention the card was scheduled with; empty if none",
        "card_states.decay": "FSRS-6 decay of the card's parameters; empty if none",
        "deck_tree.deck_id": "the deck, 0..n-1 (`decks.deck_id` for normal decks)",
        "deck_tree.parent_id": "the parent deck, -1 for a top-level deck",
        "deck_tree.preset_id": "its options preset; -1 for a filtered deck",
        "deck_tree.name": "neutral name: deck-N along the hierarchy, joined by ::",
        "deck_tree.filtered": "1 for a filtered (custom study) deck, else 0",
        "presets.preset_id": "the preset, 0..n-1",
        "presets.fsrs_params": "JSON object: fsrsWeights / fsrsParams5 / fsrsParams6 as Anki stored them",
        "presets.desired_retention": "FSRS desired retention; empty if not set",
        "presets.ignore_before_day_offset": "\"ignore reviews before\": that date as a review day (`day_offset` scale, "
            + "may be negative); empty if not set",
        "presets.new_per_day": "new cards per day",
        "presets.max_ivl": "maximum interval, days",
        "note_types.note_type_id": "the note type, 0..n-1",
        "note_types.kind": "normal or cloze",
        "note_types.sort_field": "index of the sort field in `field_names`",
        "note_types.field_names": "JSON array of field names, in order",
        "notes.note_id": "the note, 0..n-1",
        "notes.note_type_id": "its note type (`note_types.note_type_id`)",
        "notes.tags": "space-separated tags",
        "notes.fields": "JSON array of field texts, in the note type's order; media references are placeholders",
        "notes.sort_field": "text of the sort field",
        "participants.user_id": "the participant's release number (the `user_id=N` folders), 1..n in random order",
        "participants.languages": "JSON array of ISO 639 codes spoken at C1 or above",
        "participants.domain": "interests or domain, in the participant's words",
        "participants.scheduler_version": "Anki scheduler (1, 2 or 3)",
        "participants.rollover_hour": "hour at which the participant's review day starts",
        "participants.utc_offset_hours": "offset of their time zone from UTC; empty unless the collection policy allowed it",
        "participants.notes": "rows in `notes`",
        "participants.cards": "rows in `cards`",
        "participants.reviews": "rows in `reviews`",
        "participants.revlogs": "rows in `revlogs`",
    ]

    /// The data card's section on the Parquet tables.
    static func dataCardSection() -> String {
        var text = ""
        for table in tables {
            text += "### `\(table.name)/user_id=N/data.parquet`\n\n\(tableMeanings[table.name] ?? "")\n\n"
            text += "| column | type | meaning |\n|---|---|---|\n"
            for c in table.columns {
                text += "| `\(c.name)` | \(typeName(c)) | \(columnMeanings["\(table.name).\(c.name)"] ?? "") |\n"
            }
            text += "\n"
        }
        text += "### `participants.parquet`\n\nOne row per participant.\n\n| column | type | meaning |\n|---|---|---|\n"
        for c in participantColumns {
            text += "| `\(c.name)` | \(typeName(c)) | \(columnMeanings["participants.\(c.name)"] ?? "") |\n"
        }
        return text + "\n"
    }

    static func typeName(_ c: ParquetColumn) -> String {
        let base: String
        switch c.type {
        case .int32: base = "int32"
        case .int64: base = "int64"
        case .double: base = "double"
        case .boolean: base = "boolean"
        case .string: base = "string (UTF-8)"
        }
        return c.optional ? "\(base), may be empty (null)" : base
    }
}
