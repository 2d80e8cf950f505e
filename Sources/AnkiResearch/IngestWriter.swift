import AnkiReader
import AnkiSubmission
import Foundation
import GRDB

/// Adds one validated submission to the dataset in one transaction: every id re-assigned as a dense
/// counter (ascending order of the submission's id, consistent across tables), deck names rebuilt
/// from the new ids, the token hash kept only as HMAC. Bulk work stays inside SQLite
/// (`ATTACH` + `INSERT … SELECT` through temporary id maps).
struct IngestWriter {
    let policy: Policy
    let key: ResearcherKey

    static let maps: [(name: String, table: String)] = [
        ("m_types", "note_types"), ("m_presets", "deck_config"), ("m_decks", "decks"),
        ("m_notes", "notes"), ("m_cards", "cards"),
    ]

    /// Returns the participant number given, or throws a `Rejection` (the transaction is rolled back).
    func add(_ submission: ValidatedSubmission, to db: Database) throws -> Int {
        // The submission is a stranger's file (audited, but still): the connection trusts its schema with nothing.
        try ForeignDatabase.harden(db)
        try db.execute(sql: "ATTACH DATABASE ? AS sub", arguments: [submission.copy.path])
        defer { try? db.execute(sql: "DETACH DATABASE sub") }
        var participant = 0
        do {
            try Timings.measure("write transaction incl. commit") {
                // Deferred: only `main` takes a write lock. An IMMEDIATE transaction would lock the attached
                // submission too and make SQLite commit through a super-journal (four more fsyncs per file).
                // No other writer can interfere: the dataset lock is held.
                try db.inTransaction(.deferred) {
                    participant = Int(try Dataset.meta(db, "next_participant") ?? "1") ?? 1
                    try copy(submission, participant: participant, db)
                    try Dataset.setMeta(db, "next_participant", String(participant + 1))
                    return .commit
                }
            }
        } catch let rejection as Rejection {
            throw rejection
        } catch let error as DatabaseError {
            switch error.resultCode {
            case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CANTOPEN:
                throw ResearchError(.writeFailure, "Writing to the dataset failed (\(error.resultCode)); "
                                    + "nothing of this submission was added.")
            default:
                // Constraint and type errors name a table and column, never a value.
                throw Rejection(.values, printable(error.message ?? "\(error.resultCode)", limit: 160))
            }
        }
        for map in Self.maps where !submission.tables.identity.contains(map.table) {
            try? db.execute(sql: "DROP TABLE IF EXISTS temp.\(map.name)")
        }
        return participant
    }

    private func copy(_ submission: ValidatedSubmission, participant p: Int, _ db: Database) throws {
        let manifest = submission.manifest
        // The new id of every row: its rank in ascending order of the submission's id. When the
        // submission's ids already are exactly 1...n (the audit demands it), the rank of each id is the
        // id itself, so the map is the identity and the joins through it are skipped. Which tables
        // that holds for, and their row counts, the checking thread read from this same private copy.
        let facts = submission.tables
        var identity: [String: Bool] = [:]
        for map in Self.maps {
            identity[map.name] = facts.identity.contains(map.table)
            if identity[map.name] == false {
                try db.execute(sql: """
                    DROP TABLE IF EXISTS temp.\(map.name);
                    CREATE TEMP TABLE \(map.name) (old INTEGER PRIMARY KEY, new INTEGER NOT NULL);
                    INSERT INTO temp.\(map.name) (old, new)
                      SELECT id, row_number() OVER (ORDER BY id) FROM sub.\(map.table);
                    """)
            }
        }
        /// `(join clause, value expression)` for the new id of `column` through `map`.
        func mapped(_ map: String, _ column: String, alias: String, left: Bool = false) -> (String, String) {
            if identity[map] == true { return ("", column) }
            return ("\(left ? "LEFT " : "")JOIN temp.\(map) \(alias) ON \(alias).old = \(column)", "\(alias).new")
        }
        let now = Clock.isoNow()
        try db.execute(sql: """
            INSERT INTO participants (participant, token_hmac, consent_public, languages, domain, schema_version,
                                      tool_version, policy_version, source_format, source_schema, collection_crt,
                                      collection_ver, scheduler_version, rollover_hour, utc_offset_hours, ingested_at)
            SELECT :p, :hmac, :consent, :languages, :domain, :schema, :tool, :policy, :format, :sourceSchema,
                   crt, ver, sched_ver, rollover, utc_offset_hours, :now
            FROM sub.col WHERE id = 1
            """, arguments: [
                "p": p, "hmac": key.hmac(manifest.tokenHash), "consent": manifest.consentPublic ? 1 : 0,
                "languages": String(decoding: try JSONSerialization.data(withJSONObject: manifest.languages), as: UTF8.self),
                "domain": manifest.domain, "schema": manifest.schemaVersion, "tool": manifest.toolVersion,
                "policy": manifest.policyVersion, "format": manifest.sourceFormat, "sourceSchema": manifest.sourceSchema,
                "now": now,
            ])
        guard db.changesCount == 1 else { throw Rejection(.values, "the col table has no row 1") }

        let t = mapped("m_types", "t.id", alias: "m")
        let f = mapped("m_types", "f.note_type_id", alias: "m")
        let c = mapped("m_presets", "c.id", alias: "m")
        let d = mapped("m_decks", "d.id", alias: "m")
        let dp = mapped("m_decks", "d.parent_id", alias: "mp", left: true)
        let dc = mapped("m_presets", "d.conf_id", alias: "mc", left: true)
        let n = mapped("m_notes", "n.id", alias: "m")
        let nt = mapped("m_types", "n.mid", alias: "mt")
        let k = mapped("m_cards", "k.id", alias: "m")
        let kn = mapped("m_notes", "k.nid", alias: "mn")
        let kd = mapped("m_decks", "k.did", alias: "md")
        let ko = mapped("m_decks", "k.odid", alias: "mo", left: true)
        let r = mapped("m_cards", "r.cid", alias: "m")
        let statements: [(source: String, sql: String)] = [
            ("note_types", """
                INSERT INTO note_types (participant, note_type_id, kind, sort_field)
                SELECT :p, \(t.1), t.kind, t.sort_field FROM sub.note_types t \(t.0) ORDER BY 2
                """),
            ("fields", """
                INSERT INTO fields (participant, note_type_id, ord, name)
                SELECT :p, \(f.1), f.ord, f.name FROM sub.fields f \(f.0) ORDER BY 2, 3
                """),
            ("deck_config", """
                INSERT INTO presets (participant, preset_id, fsrs_params, desired_retention, ignore_revlogs_before_date,
                                     ignore_revlogs_before_ms, new_per_day, max_ivl)
                SELECT :p, \(c.1), c.fsrs_params, c.desired_retention, c.ignore_revlogs_before_date,
                       c.ignore_revlogs_before_ms, c.new_per_day, c.max_ivl
                FROM sub.deck_config c \(c.0) ORDER BY 2
                """),
            ("decks", """
                INSERT INTO decks (participant, deck_id, name, parent_id, preset_id, filtered)
                SELECT :p, \(d.1), '', \(dp.1), \(dc.1), d.filtered
                FROM sub.decks d \(d.0) \(dp.0) \(dc.0) ORDER BY 2
                """),
            ("notes", """
                INSERT INTO notes (participant, note_id, note_type_id, tags, flds, sfld, created)
                SELECT :p, \(n.1), \(nt.1), n.tags, n.flds, n.sfld, n.created
                FROM sub.notes n \(n.0) \(nt.0) ORDER BY 2
                """),
            ("cards", """
                INSERT INTO cards (participant, card_id, note_id, deck_id, ord, type, queue, due, ivl, factor, reps,
                                   lapses, left, odue, odid, data, created)
                SELECT :p, \(k.1), \(kn.1), \(kd.1), k.ord, k.type, k.queue, k.due, k.ivl, k.factor, k.reps, k.lapses,
                       k.left, k.odue, CASE WHEN k.odid = 0 THEN 0 ELSE \(ko.1) END, k.data, k.created
                FROM sub.cards k \(k.0) \(kn.0) \(kd.0) \(ko.0) ORDER BY 2
                """),
            ("revlog", """
                INSERT INTO revlogs (participant, reviewed_at_ms, card_id, ease, ivl, last_ivl, factor, duration_ms,
                                     type, day)
                SELECT :p, r.id, \(r.1), r.ease, r.ivl, r.lastIvl, r.factor, r.time, r.type, r.day
                FROM sub.revlog r \(r.0) ORDER BY r.rowid
                """),
        ]
        var lastReview: Int64 = 0
        for statement in statements {
            try Timings.measure("write \(statement.source)") { try db.execute(sql: statement.sql, arguments: ["p": p]) }
            // Every row must have come across: a reference the joins could not resolve means a damaged
            // submission (the audit should have caught it; this makes sure). The row counts were taken
            // by the checking thread.
            guard let have = facts.rows[statement.source] else {
                throw Rejection(.values, "the \(statement.source) table was not counted")
            }
            if db.changesCount != have {
                throw Rejection(.values, "\(have - db.changesCount) row(s) of \(statement.source) refer to rows that do not exist")
            }
            if statement.source == "revlog" { lastReview = db.lastInsertedRowID }
        }
        // One statement, one transaction, no other writer: the new rows took consecutive rowids, the
        // last of them the last one inserted.
        if submission.reviews > 0 {
            try db.execute(sql: "UPDATE participants SET revlog_first = ?, revlog_last = ? WHERE participant = ?",
                           arguments: [lastReview - Int64(submission.reviews) + 1, lastReview, p])
        }
        try renameDecks(participant: p, db)
        try db.execute(sql: "INSERT INTO submissions (content_sha256, participant, ingested_at) VALUES (?, ?, ?)",
                       arguments: [submission.sha256, p, now])
    }

    /// Neutral names from the new ids: `deck-<root>::deck-<child>`, whatever the submission said.
    private func renameDecks(participant p: Int, _ db: Database) throws {
        var parent: [Int64: Int64?] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT deck_id, parent_id FROM decks WHERE participant = ?", arguments: [p]) {
            parent[row[0]] = row[1] as Int64?
        }
        let update = try db.makeStatement(sql: "UPDATE decks SET name = ? WHERE participant = ? AND deck_id = ?")
        for id in parent.keys.sorted() {
            var chain: [Int64] = []
            var current: Int64? = id
            while let c = current {
                guard chain.count < 64, !chain.contains(c) else {
                    throw Rejection(.decks, "the deck hierarchy has a cycle or is deeper than 64 levels")
                }
                chain.append(c)
                guard let next = parent[c] else {
                    throw Rejection(.decks, "a deck's parent does not exist")
                }
                current = next
            }
            let name = chain.reversed().map { "\(policy.deckNamePrefix)\($0)" }.joined(separator: "::")
            try update.execute(arguments: [name, p, id])
        }
    }
}
