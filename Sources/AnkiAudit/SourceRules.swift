import AnkiReader
import AnkiSubmission
import Foundation
import GRDB
import GRDBSQLite

/// Checks that need the participant's collection: one constant time shift of at least a year that is
/// not a whole number of days, review days equal to the learner's own, every row tied to the right
/// original, and no original id, guid, deck or note-type name, CSS or template text anywhere.
///
/// The collection's working copy is attached to the audit connection, so the row-by-row comparisons
/// run inside SQLite (a million reviews in well under a second) instead of through Swift objects.
struct SourceRules {
    let policy: Policy
    let source: SubmissionAudit.Source

    static let dayMS: Int64 = 86_400_000

    struct ReviewPass: Sendable {
        var unmatched = 0
        var wrongCard = 0
        /// Stored reviews whose answer (ease) is not the original's.
        var wrongAnswer = 0
        /// Source reviews of a stored card that the submission does not hold.
        var missing = 0
        var daysConsistent = true
        /// The stored day of the first review compared, and `day - learner's day` (one constant when
        /// consistent).
        var firstDay: Int64?
        var offset: Int64?
        /// Stored reviews the pass looked at.
        var stored = 0
        /// Stored reviews whose `cid` is not an integer card counter of the submission, and whose `day`
        /// is negative: `ReferenceRule.checkReviewLog` in the same pass (meaningful only when the card
        /// counters are dense, `cardsDense`).
        var danglingCard = 0
        var negativeDay = 0
        var cardsDense = true
        /// Every 1024th stored review's original time (from the first) and the learner's day the cached
        /// calendar gave for it, checked against the plain calendar after the pass.
        var daySamples: [(ms: Int64, day: Int64)] = []
        /// Stored reviews whose id is not above the one before it in row order, or lies outside the
        /// span's ids: the log must be stored in ascending order of time, which also makes ids unique.
        var outOfOrder = 0
    }

    /// Part of the review log: the stored rows with `fromRow <= rowid < toRow`, whose ids must lie in
    /// `from <= id < to`, compared with the source's reviews in that range moved back by the shift (nil:
    /// unbounded). The log is stored in ascending order of time, so consecutive spans of rows are
    /// consecutive spans of time.
    struct ReviewSpan: Sendable {
        var fromRow: Int64?
        var toRow: Int64?
        var from: Int64?
        var to: Int64?
        static let all = ReviewSpan()

        /// The stored rows of the span.
        var storedCondition: String {
            [fromRow.map { "rowid >= \($0)" }, toRow.map { "rowid < \($0)" }].compactMap { $0 }.joined(separator: " AND ")
        }

        /// The source's reviews of the span.
        func sourceCondition(minus shift: Int64) -> String {
            // Bounds come from the file: a value so large that moving it overflows is clamped.
            func moved(_ id: Int64) -> Int64 {
                let (value, overflow) = id.subtractingReportingOverflow(shift)
                return overflow ? (shift < 0 ? .max : .min) : value
            }
            return [from.map { "id >= \(moved($0))" }, to.map { "id < \(moved($0))" }].compactMap { $0 }
                .joined(separator: " AND ")
        }
    }

    /// The stored cards' creation times by card counter, and the original ids they were shifted from.
    final class StoredCards: @unchecked Sendable {
        /// Creation time of card `i` at index `i` (counters are dense from 1); empty when they are not
        /// dense (DenseIDRule reports that).
        let created: [Int64]
        /// The original card ids behind the stored cards (`created - shift`).
        let originals: Set<Int64>

        init(_ db: Database, shift: Int64) throws {
            var created: [Int64] = [Int64.min]
            let cards = try db.makeStatement(sql: "SELECT id, created FROM main.cards ORDER BY id")
            let c = cards.sqliteStatement
            while try SourceRules.step(c, db) {
                guard sqlite3_column_int64(c, 0) == Int64(created.count) else {
                    created = []
                    break
                }
                created.append(sqlite3_column_int64(c, 1))
            }
            self.created = created
            originals = Set(created.dropFirst().map { $0 &- shift })
        }
    }

    /// Walks the submission's and the source's review logs side by side, both in id (time) order: every
    /// stored review must be a source review moved by `shift`, on the card that review was on, with
    /// its answer, and `day - learner's day` must be one constant with the first stored day 0; every
    /// source review of a stored card must be stored. Two sequential scans instead of a million random
    /// lookups into the source, and each day computed once.
    static func reviewPass(_ db: Database, shift: Int64, calendar: ReviewDayCalendar, span: ReviewSpan = .all,
                           cards: StoredCards? = nil) throws -> ReviewPass {
        var pass = ReviewPass()
        let cards = try cards ?? StoredCards(db, shift: shift)
        let cardCreated = cards.created
        // Both logs are read front to back once, stepped directly: 2.4 million rows, where a cursor's
        // bookkeeping per row would cost more than the comparison. (Memory-mapping them would spare a
        // copy per page but counts the whole source against the participant's memory: 210 MB, not 60.)
        func filter(_ condition: String) -> String { condition.isEmpty ? "" : "WHERE \(condition)" }
        let stored = try db.makeStatement(
            sql: "SELECT id, day, cid, ease FROM main.revlog \(filter(span.storedCondition)) ORDER BY rowid")
        // (The source's other numbers are not read: prepare's copy refuses any that is not a number.)
        let original = try db.makeStatement(
            sql: "SELECT id, cid, ease FROM src.revlog \(filter(span.sourceCondition(minus: shift))) ORDER BY id")
        let o = stored.sqliteStatement, s = original.sqliteStatement
        // Steps the source, reading its id once.
        var originalID: Int64 = 0
        func stepOriginal() throws -> Bool {
            guard try step(s, db) else { return false }
            originalID = sqlite3_column_int64(s, 0)
            return true
        }
        var haveOriginal = try stepOriginal()
        var offset: Int64?
        pass.cardsDense = !cardCreated.isEmpty
        // Each stored id must be an integer above the one before it and inside the span.
        let lower = span.from ?? .min, upper = span.to
        var previous: Int64?
        while try step(o, db) {
            let id = sqlite3_column_int64(o, 0)
            if sqlite3_column_type(o, 0) != SQLITE_INTEGER || id < lower || upper.map({ id >= $0 }) == true
                || previous.map({ id <= $0 }) == true {
                pass.outOfOrder += 1
            }
            previous = id
            let day = sqlite3_column_int64(o, 1)
            let card = sqlite3_column_int64(o, 2)
            let target = id &- shift   // wraps for a hostile id, which then matches nothing
            pass.stored += 1
            if pass.firstDay == nil { pass.firstDay = day }
            let known = card > 0 && card < Int64(cardCreated.count) && sqlite3_column_type(o, 2) == SQLITE_INTEGER
            if !known { pass.danglingCard += 1 }
            switch sqlite3_column_type(o, 1) {
            case SQLITE_INTEGER where day < 0: pass.negativeDay += 1
            case SQLITE_FLOAT where sqlite3_column_double(o, 1) < 0: pass.negativeDay += 1
            default: break
            }
            // Source reviews passed over are not in the submission: only reviews of cards it left out
            // (deleted, or of excluded notes) may be.
            while haveOriginal && originalID < target {
                if cards.originals.contains(sqlite3_column_int64(s, 1)) { pass.missing += 1 }
                haveOriginal = try stepOriginal()
            }
            if haveOriginal && originalID == target {
                if !known || cardCreated[Int(card)] &- shift != sqlite3_column_int64(s, 1) { pass.wrongCard += 1 }
                if sqlite3_column_int64(o, 3) != sqlite3_column_int64(s, 2) { pass.wrongAnswer += 1 }
                haveOriginal = try stepOriginal()
            } else {
                pass.unmatched += 1
            }
            let learnersDay = calendar.day(ofMilliseconds: target)
            if pass.stored & 1023 == 1 { pass.daySamples.append((target, learnersDay)) }
            let difference = day &- learnersDay   // any day the file holds
            if let offset, offset != difference { pass.daysConsistent = false }
            offset = offset ?? difference
        }
        while haveOriginal {
            if cards.originals.contains(sqlite3_column_int64(s, 1)) { pass.missing += 1 }
            haveOriginal = try stepOriginal()
        }
        pass.offset = offset
        return pass
    }

    /// One `sqlite3_step`: true for a row, false when done; an error as GRDB reports it.
    static func step(_ statement: OpaquePointer, _ db: Database) throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code:
            throw DatabaseError(resultCode: ResultCode(rawValue: code),
                                message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }

    /// The write stage's rules for which `due`/`odue` values are Unix seconds, on the source row `s`.
    static let dueIsTimestamp = "(s.queue IN (1, 4) OR (s.queue < 0 AND s.type IN (1, 3) AND s.due > 1000000000))"
    static let odueIsTimestamp = "(s.odid != 0 AND s.type IN (1, 3) AND s.odue > 1000000000)"

    /// Attaches the collection's working copy as `src` (outside a transaction; once per connection).
    func attachSource(_ db: Database) throws {
        try db.execute(sql: "ATTACH DATABASE ? AS src", arguments: [source.collection.databaseURL.path])
        try AnkiCollection.prepareConnection(db)
        try ShiftedMemberFunction.register(db)
    }

    /// The checks of notes, cards and presets against the source, which need no review log: the audit
    /// runs them while prepare is still writing that log. Returns the time shift (nil when none could
    /// be found, which is a finding, or when there are no notes to align).
    func checkContent(_ db: Database, _ findings: inout Findings) throws -> Int64? {
        try contentChecks(db, &findings)
    }

    /// The review log against the source's, with the shift `checkContent` found, over `span` of it;
    /// nil when there is nothing to compare (`report` turns the passes of all spans into findings).
    func checkReviewLog(_ db: Database, shift: Int64?, span: ReviewSpan, cards: StoredCards? = nil,
                        _ findings: inout Findings) throws -> ReviewPass? {
        try reviewLogChecks(db, shift: shift, span: span, cards: cards, &findings)
    }

    /// A stored review about the middle of the rows from `fromRow` on (nil: the whole log), where the
    /// rest of the log is split for two threads: its rowid and id (nil when fewer than two rows remain).
    /// Rows are found by rowid, with no count of them.
    static func middleReview(_ db: Database, fromRow: Int64? = nil) throws -> (row: Int64, id: Int64)? {
        guard let low = try Int64.fetchOne(db, sql: "SELECT rowid FROM main.revlog WHERE rowid >= ? ORDER BY rowid LIMIT 1",
                                           arguments: [fromRow ?? .min]),
              let high = try Int64.fetchOne(db, sql: "SELECT max(rowid) FROM main.revlog"), high > low else { return nil }
        let middle = low + (high - low) / 2 + 1
        guard let row = try Int64.fetchOne(db, sql: "SELECT rowid FROM main.revlog WHERE rowid >= ? ORDER BY rowid LIMIT 1",
                                           arguments: [middle]),
              let id = try Int64.fetchOne(db, sql: "SELECT id FROM main.revlog WHERE rowid = ?", arguments: [row])
        else { return nil }
        return (row, id)
    }

    /// Stored reviews in `span` now.
    static func storedReviews(_ db: Database, in span: ReviewSpan) throws -> Int {
        let condition = span.storedCondition
        return try Int.fetchOne(db, sql: "SELECT count(*) FROM main.revlog \(condition.isEmpty ? "" : "WHERE \(condition)")") ?? 0
    }

    /// Findings from the passes over consecutive spans of the log, in order.
    static func report(_ passes: [ReviewPass], _ findings: inout Findings) {
        let unmatched = passes.map(\.unmatched).reduce(0, +)
        let wrongCard = passes.map(\.wrongCard).reduce(0, +)
        let wrongAnswer = passes.map(\.wrongAnswer).reduce(0, +)
        let missing = passes.map(\.missing).reduce(0, +)
        let offsets = Set(passes.compactMap(\.offset))
        let firstDay = passes.lazy.compactMap(\.firstDay).first
        let consistent = passes.allSatisfy(\.daysConsistent) && offsets.count <= 1 && (firstDay ?? 0) == 0
        if unmatched > 0 { findings.add("time-shift", "\(unmatched) review time(s) are not shifted originals") }
        if wrongCard > 0 { findings.add("references", "\(wrongCard) review(s) are attached to the wrong card") }
        if wrongAnswer > 0 { findings.add("reviews", "\(wrongAnswer) review(s) hold a different answer than the learner gave") }
        if missing > 0 { findings.add("reviews", "\(missing) review(s) of cards in the submission are missing from it") }
        if !consistent { findings.add("review-days", "review days differ from the learner's own (or do not start at day 0)") }
        let outOfOrder = passes.map(\.outOfOrder).reduce(0, +)
        if outOfOrder > 0 { findings.add("review-order", "\(outOfOrder) review(s) are not stored in ascending order of time (or repeat one)") }
    }


    private func contentChecks(_ db: Database, _ findings: inout Findings) throws -> Int64? {
        let collection = source.collection
        func count(_ sql: String, _ arguments: StatementArguments = []) throws -> Int {
            try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0
        }

        // 1. One constant shift, found by aligning note creation times, trying only the candidates the
        //    shifted creation time of the collection allows. Every review is then checked against it.
        let outCrt = try Int64.fetchOne(db, sql: "SELECT crt FROM main.col") ?? 0
        guard let first = try Int64.fetchOne(db, sql: "SELECT min(created) FROM main.notes") else { return nil }
        // Values from the file may be anything: arithmetic that would overflow means no shift at all.
        let (seconds, o1) = outCrt.subtractingReportingOverflow(collection.config.creationTime)
        let (milliseconds, o2) = seconds.multipliedReportingOverflow(by: 1000)
        let (low, o3) = first.subtractingReportingOverflow(milliseconds &+ 999)
        let (high, o4) = first.subtractingReportingOverflow(milliseconds)
        guard !(o1 || o2 || o3 || o4), milliseconds < .max - 999 else {
            findings.add("time-shift", "the collection creation time is not the source's moved by a plausible shift")
            return nil
        }
        let candidates = try Int64.fetchAll(db, sql: "SELECT id FROM src.notes WHERE id BETWEEN ? AND ? ORDER BY id",
                                            arguments: [low, high])
        // Each candidate is tried on the first thousand notes; of those that fit them all, the one that
        // fits most of the first thousand cards (with their note, template, counts and position) and
        // reviews wins. Notes alone do not
        // decide: notes added in one go (an import, a shared deck) have consecutive ids, so with the
        // first note left out, a shift one millisecond longer maps every kept note onto another note
        // too. (Ties to the rows, not all-or-nothing, so that one tampered card or counter is reported
        // by its own rule below.) The full checks follow.
        var found: Int64?
        var fewestUnmatched = Int.max
        for original in candidates {
            let c = first &- original
            let notes = try count("""
                SELECT count(*) FROM (SELECT created AS t FROM main.notes ORDER BY created LIMIT 1000) o
                WHERE NOT EXISTS (SELECT 1 FROM src.notes s WHERE s.id = o.t - ?)
                """, [c])
            guard notes == 0 else { continue }
            let others = try count("""
                SELECT (SELECT count(*) FROM (SELECT * FROM main.cards ORDER BY id LIMIT 1000) k
                        LEFT JOIN main.notes n ON n.id = k.nid
                        WHERE NOT EXISTS (SELECT 1 FROM src.cards s WHERE s.id = k.created - :c AND s.nid = n.created - :c
                                          AND s.ord = k.ord AND s.reps = k.reps AND s.lapses = k.lapses
                                          AND k.due = s.due + CASE WHEN \(Self.dueIsTimestamp) THEN :s ELSE 0 END))
                     + (SELECT count(*) FROM (SELECT id AS t FROM main.revlog ORDER BY rowid LIMIT 1000) r
                        WHERE NOT EXISTS (SELECT 1 FROM src.revlog s WHERE s.id = r.t - :c))
                """, ["c": c, "s": seconds])
            if others < fewestUnmatched { (found, fewestUnmatched) = (c, others) }
            if others == 0 { break }
        }
        guard let shift = found else {
            findings.add("time-shift", "notes times are not the source times moved by one constant")
            return nil
        }
        if shift.magnitude < UInt64(365 * Self.dayMS) { findings.add("time-shift", "the time shift is less than a year") }
        if shift % Self.dayMS == 0 || seconds % 86_400 == 0 {
            findings.add("time-shift", "the time shift is a whole number of days, so times of day survive")
        }
        if floorDiv(shift, 1000) != seconds {
            findings.add("time-shift", "the collection creation time moved by a different amount than the notes")
        }
        let args: StatementArguments = ["c": shift, "s": seconds]

        // 2. Notes and cards: each a shifted original, counters in original order, due/odue/lrt moved.
        //    One pass over each table: a note or card with its original (looked up by its shifted
        //    creation time), its successor by counter and, for a card, its note.
        let noteCounts = try Row.fetchOne(db, sql: """
            SELECT coalesce(sum(NOT EXISTS (SELECT 1 FROM src.notes s WHERE s.id = a.created - :c)), 0),
                   coalesce(sum(b.created <= a.created), 0)
            FROM main.notes a LEFT JOIN main.notes b ON b.id = a.id + 1
            """, arguments: args)!
        for (index, (rule, message)) in [("time-shift", "note creation time(s) are not shifted originals"),
                                         ("dense-ids", "note counters do not follow the original order")].enumerated() {
            let bad: Int = noteCounts[index]
            if bad > 0 { findings.add(rule, "\(bad) \(message)") }
        }
        // The checks against the original count only cards that have one.
        let cardChecks: [(rule: String, message: String, condition: String, needsOriginal: Bool)] = [
            ("time-shift", "card creation time(s) are not shifted originals", "s.id IS NULL", false),
            ("dense-ids", "card counters do not follow the original order", "b.created <= c.created", false),
            ("references", "card(s) belong to a different note than in the source", "n.created - :c IS NOT s.nid", true),
            ("time-shift", "card due value(s) are not the original moved by the shift", """
                c.due != s.due + CASE WHEN \(Self.dueIsTimestamp) THEN :s ELSE 0 END
                OR c.odue != s.odue + CASE WHEN \(Self.odueIsTimestamp) THEN :s ELSE 0 END
                """, true),
            ("time-shift", "card lrt value(s) are not the original moved by the shift",
             ShiftedMemberFunction.condition(stored: "c.data", original: "s.data", key: "lrt", seconds: ":s"), true),
        ]
        let sums = cardChecks.map { check in
            "coalesce(sum(\(check.needsOriginal ? "s.id IS NOT NULL AND (\(check.condition))" : check.condition)), 0)"
        }.joined(separator: ", ")
        let cardCounts = try Row.fetchOne(db, sql: """
            SELECT \(sums) FROM main.cards c LEFT JOIN src.cards s ON s.id = c.created - :c
            LEFT JOIN main.notes n ON n.id = c.nid LEFT JOIN main.cards b ON b.id = c.id + 1
            """, arguments: args)!
        for (index, check) in cardChecks.enumerated() {
            let bad: Int = cardCounts[index]
            if bad > 0 { findings.add(check.rule, "\(bad) \(check.message)") }
        }

        // 4. Preset dates.
        let presets = collection.presets.sorted { $0.id < $1.id }
        let stored = try Row.fetchAll(db, sql: "SELECT ignore_revlogs_before_ms FROM main.deck_config ORDER BY id")
        for (preset, row) in zip(presets, stored) {
            guard let date = preset.ignoreRevlogsBeforeDate, let ms: Int64 = row[0] else { continue }
            let parts = date.split(separator: "-").compactMap { Int64($0) }
            guard parts.count == 3 else { continue }
            let original = ReviewDayCalendar.daysFromCivil(year: parts[0], month: parts[1], day: parts[2]) * Self.dayMS
            if ms &- original != shift { findings.add("time-shift", "a preset's ignore-before date was not shifted") }
        }
        return shift
    }

    private func reviewLogChecks(_ db: Database, shift: Int64?, span: ReviewSpan, cards: StoredCards?,
                                 _ findings: inout Findings) throws -> ReviewPass? {
        guard try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT 1 FROM main.revlog LIMIT 1)") == 1 else { return nil }
        guard let shift else {
            // No shift from the notes (already a finding when they did not align): nothing to align with.
            if span.from == nil { findings.add("time-shift", "review times cannot be aligned with the source") }
            return nil
        }
        // 3. Reviews, in one pass: each a shifted original on the right card, and its day the learner's
        //    own relative to the first kept review day (so day - learner's day is one constant, and
        //    the first day is 0).
        let rollover = try String.fetchOne(db, sql: "SELECT value FROM main.manifest WHERE key = 'rollover_hour'")
            .flatMap(Int.init) ?? policy.defaultRolloverHour
        guard (0...23).contains(rollover) else {
            if span.from == nil { findings.add("review-days", "the manifest's rollover hour is not an hour of the day") }
            return nil
        }
        let calendar = ReviewDayCalendar(timeZone: source.timeZone, rolloverHour: rollover)
        let pass = try Self.reviewPass(db, shift: shift, calendar: calendar, span: span, cards: cards)
        // The cached calendar's days are cross-checked against the plain calendar on a sample the pass
        // took (a Foundation calendar lookup per sample: about a thousand for a million reviews).
        for sample in pass.daySamples where calendar.uncachedDay(ofMilliseconds: sample.ms) != sample.day {
            findings.add("review-days", "the day calendar disagrees with itself")
            break
        }
        return pass
    }

    /// Which columns the string checks read: everything but the manifest can be checked while prepare
    /// still writes the review log; the manifest is written last.
    enum StringColumns {
        case content, manifest
    }

    /// The string checks (below) on their own: they need no time shift, so the audit runs them on the
    /// other core while the rows are compared.
    func checkStringsAgainstSource(_ db: Database, _ columns: StringColumns, _ findings: inout Findings) throws {
        try checkStrings(db, columns, &findings)
    }

    /// Nothing original survives as a value or inside text: ids and timestamps (runs of 9+ digits are
    /// looked up in the source), guids, deck and note-type names, CSS and template text.
    private func checkStrings(_ db: Database, _ columns: StringColumns, _ findings: inout Findings) throws {
        let collection = source.collection
        let guids = try String.fetchAll(db, sql: "SELECT guid FROM src.notes")
        var exactStrings = Set(guids)
        for deck in collection.decks { exactStrings.insert(deck.name); exactStrings.formUnion(deck.nameComponents) }
        exactStrings.formUnion(collection.noteTypes.map(\.name))
        exactStrings.remove("")
        var embedded: Set<String> = []
        for type in collection.noteTypes {
            embedded.insert(type.css)
            for t in type.templates {
                embedded.formUnion([t.questionFormat, t.answerFormat, t.browserQuestionFormat, t.browserAnswerFormat])
            }
        }
        let longTexts = embedded.filter { $0.count >= 24 }
        // Small, non-content columns are searched for every identifying string; content columns (the
        // participant reviewed them, and deck names like "Japanese" are ordinary words there) for the
        // long styling and template texts only; card data holds numbers only.
        let structural = Array(longTexts) + collection.decks.map(\.name).filter { $0.count >= 4 }
            + collection.noteTypes.map(\.name).filter { $0.count >= 4 }
        let guidSet = Set(guids.filter { $0.count >= 6 })
        let guidLengths = Set(guidSet.map(\.count))
        var otherIDs = Set(collection.decks.map(\.id) + collection.noteTypes.map(\.id) + collection.presets.map(\.id))
        otherIDs = otherIDs.filter { $0 > 1_000_000 }
        otherIDs.insert(collection.config.creationTime)
        let originalIDs = try OriginalIDs(db, tables: ["notes", "cards", "revlog"])

        enum Scope { case content, numbers, structure }
        // The survey's free text is the participant's own words, shown to them word by word with what
        // looks like a deck name, tag or personal data before they confirm it: checked as card text is.
        let textColumns: [(table: String, column: String, scope: Scope, condition: String)] = switch columns {
        case .content: [
            ("notes", "flds", .content, ""), ("notes", "sfld", .content, ""), ("notes", "tags", .content, ""),
            ("cards", "data", .numbers, ""),
            ("fields", "name", .structure, ""), ("decks", "name", .structure, ""),
            ("deck_config", "fsrs_params", .structure, ""),
        ]
        case .manifest: [("manifest", "value", .structure, "WHERE key IS NOT 'domain'"),
                         ("manifest", "value", .content, "WHERE key IS 'domain'")]
        }
        let longestExact = exactStrings.map(\.utf8.count).max() ?? 0
        // Needles as bytes, searched in each value's bytes as SQLite holds them: no String per row.
        let contentNeedles = longTexts.map { Array($0.utf8) }
        let structureNeedles = structural.map { Array($0.utf8) }
        for (table, column, scope, condition) in textColumns {
            let statement = try db.makeStatement(sql: "SELECT \(column) FROM main.\(table) \(condition)")
            let s = statement.sqliteStatement
            let needles: [[UInt8]]
            switch scope {
            case .content: needles = contentNeedles
            case .numbers: needles = []
            case .structure: needles = structureNeedles
            }
            while try Self.step(s, db) {
                guard sqlite3_column_type(s, 0) != SQLITE_NULL, let pointer = sqlite3_column_text(s, 0) else { continue }
                let bytes = UnsafeRawBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(s, 0)))
                // Hashing a Swift string normalizes it first: only values as short as some original
                // string are looked up (note fields are mostly longer than any guid or name).
                // (A field or an answer that is just a word like a deck's name, "Japanese", is content.)
                if bytes.count <= longestExact && !(table == "fields" && column == "name")
                    && (scope == .content ? guidSet : exactStrings).contains(String(decoding: bytes, as: UTF8.self)) {
                    findings.add("no-source-strings", "\(table).\(column) holds an original deck or note-type name or guid")
                }
                for number in Self.longNumbers(in: bytes) {
                    let original = try otherIDs.contains(number) || originalIDs.contains(number, db)
                    if original {
                        findings.add("no-original-ids", "\(table).\(column) contains an original id or timestamp")
                        break
                    }
                }
                let embedsNeedle = needles.contains { needle in
                    needle.withUnsafeBytes { ByteSearch.contains(bytes, $0) }
                }
                if embedsNeedle || (scope == .structure && Self.containsWindow(
                    of: String(decoding: bytes, as: UTF8.self), lengths: guidLengths, in: guidSet)) {
                    findings.add("no-source-strings", "\(table).\(column) contains original styling, template text or names")
                }
            }
        }
    }

    /// True when some substring of `text` with one of `lengths` characters is in `set` (guids: tens of
    /// thousands of short strings, looked up window by window instead of searched one by one).
    static func containsWindow(of text: String, lengths: Set<Int>, in set: Set<String>) -> Bool {
        let characters = Array(text)
        for length in lengths where length <= characters.count {
            for start in 0...(characters.count - length) where set.contains(String(characters[start..<start + length])) {
                return true
            }
        }
        return false
    }

    /// Runs of 9 to 18 digits in UTF-8 text, as numbers (ids and timestamps have 10 to 13).
    static func longNumbers(in bytes: UnsafeRawBufferPointer) -> [Int64] {
        var result: [Int64] = []
        var value: Int64 = 0
        var digits = 0
        for byte in bytes {
            if byte >= 48 && byte <= 57 {
                if digits < 18 { value = value * 10 + Int64(byte - 48) }
                digits += 1
            } else {
                if digits >= 9 && digits <= 18 { result.append(value) }
                value = 0
                digits = 0
            }
        }
        if digits >= 9 && digits <= 18 { result.append(value) }
        return result
    }
}

/// Whether a number is the id of a row in the source's notes, cards or review log. Each table is
/// asked only when the number lies between its smallest and largest id (both ends of its rowid
/// b-tree): shifted times, counts and most other numbers in a submission fall outside every range, so
/// the million-row review log is rarely searched at all.
private struct OriginalIDs {
    private var tables: [(low: Int64, high: Int64, lookup: Statement)] = []

    init(_ db: Database, tables names: [String]) throws {
        for table in names {
            let ends = try Row.fetchOne(db, sql: "SELECT (SELECT min(id) FROM src.\(table)), (SELECT max(id) FROM src.\(table))")
            guard let low: Int64 = ends?[0], let high: Int64 = ends?[1] else { continue }   // empty table
            tables.append((low, high, try db.makeStatement(sql: "SELECT 1 FROM src.\(table) WHERE id = ?")))
        }
    }

    func contains(_ number: Int64, _ db: Database) throws -> Bool {
        for (low, high, lookup) in tables where number >= low && number <= high {
            let s = lookup.sqliteStatement
            sqlite3_reset(s)
            sqlite3_bind_int64(s, 1, number)
            switch sqlite3_step(s) {
            case SQLITE_ROW: sqlite3_reset(s); return true
            case SQLITE_DONE: continue
            case let code:
                sqlite3_reset(s)
                throw DatabaseError(resultCode: ResultCode(rawValue: code),
                                    message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
        }
        return false
    }
}
