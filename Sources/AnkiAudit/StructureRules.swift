import AnkiPCRE2
import AnkiSubmission
import Foundation
import GRDB
import GRDBSQLite

/// Exactly the objects of `Schemas/submission.sql`, each defined by exactly its text: nothing the policy
/// excludes can hide in an extra column, table, view, trigger or index, in a name SQLite reserves for
/// itself (`sqlite_stat1` rows, `sqliteX`-named objects), or in the text of a definition.
enum SchemaRule {
    /// Every object the schema creates (lower-cased name: type and the SQL text SQLite keeps for it).
    static let objects: [String: (type: String, sql: String?)] = {
        let queue = try! DatabaseQueue()
        return try! queue.write { db in
            try db.execute(sql: SubmissionSchema.sql)
            var objects: [String: (type: String, sql: String?)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT type, name, sql FROM sqlite_master") {
                objects[(row[1] as String).lowercased()] = (type: row[0], sql: row[2])
            }
            return objects
        }
    }()

    /// Each table's columns, in order (the schema's table names are lower case).
    static let expected: [String: [String]] = {
        let queue = try! DatabaseQueue()
        return try! queue.write { db in
            try db.execute(sql: SubmissionSchema.sql)
            var tables: [String: [String]] = [:]
            for name in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") {
                tables[name] = try db.columns(in: name).map(\.name)
            }
            return tables
        }
    }()

    static func check(_ db: Database, _ findings: inout Findings) throws {
        // Every object, internal ones (`sqlite_…`) included: SQLite lists in sqlite_master only what a
        // file holds, and a submission holds nothing but the schema's own objects.
        var present: Set<String> = []
        for row in try Row.fetchAll(db, sql: "SELECT type, name, sql FROM sqlite_master") {
            let type = String.fromDatabaseValue(row[0]) ?? "object"
            let name = String.fromDatabaseValue(row[1]) ?? ""
            let shown = printableName(name)
            guard let want = objects[name.lowercased()], want.type == type, !present.contains(name.lowercased()) else {
                findings.add("schema", "unexpected \(printableName(type)) \(shown)")
                continue
            }
            present.insert(name.lowercased())
            guard type == "table", let columns = expected[name.lowercased()] else { continue }
            let actual = try db.columns(in: name).map(\.name)
            if actual != columns {
                findings.add("schema", "table \(shown) has columns \(actual.map(printableName).joined(separator: ",")), "
                             + "expected \(columns.joined(separator: ","))")
            } else if String.fromDatabaseValue(row[2]) != want.sql {
                findings.add("schema", "table \(shown) is not defined exactly as in the submission schema")
            }
        }
        for table in expected.keys.sorted() where !present.contains(table) {
            findings.add("schema", "missing table \(table)")
        }
    }

    /// A name from the file, for a finding: at most 64 characters, control characters shown as `?`.
    static func printableName(_ name: String) -> String {
        let cleaned = String(String.UnicodeScalarView(name.unicodeScalars.prefix(64).map {
            $0.properties.generalCategory == .control ? "?" : $0
        }))
        return name.unicodeScalars.count > 64 ? cleaned + "…" : cleaned
    }
}

/// Every value has its column's storage class, from the schema itself: INTEGER columns integers, REAL
/// columns numbers, TEXT columns text; NULL only where the schema allows. SQLite stores anything
/// anywhere, and every other rule (like any reader) assumes the declared types, so this runs right
/// after the schema rule and the others only when it found nothing. The review log, nine integer
/// columns that its rules read by storage class, is left to them (and to the dataset's STRICT table),
/// which saves a pass over a million rows.
public enum ValueTypeRule {
    struct Table: Sendable {
        let name: String
        let columns: [String]
        /// Per column, a bit for each allowed `sqlite3_column_type` (SQLITE_INTEGER = 1 ... SQLITE_NULL = 5).
        let allowed: [UInt8]
        let select: String
    }

    /// What one pass over the tables saw: the first value of the wrong type (`table.column`; first table
    /// in name order, then first column in schema order), or else each table's row count and the
    /// tables whose `id`s are exactly the integers 1...n, each once (or that are empty).
    public struct Scan: Sendable {
        public var violation: String?
        public var rows: [String: Int] = [:]
        public var denseIDs: Set<String> = []
    }

    /// Every table but the review log, in name order, each with its columns in schema order.
    static let tables: [Table] = {
        let queue = try! DatabaseQueue()
        return try! queue.write { db in
            try db.execute(sql: SubmissionSchema.sql)
            var out: [Table] = []
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' "
                                             + "AND name != 'revlog' ORDER BY name") {
                var columns: [String] = []
                var allowed: [UInt8] = []
                for row in try Row.fetchAll(db, sql: "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)", arguments: [table]) {
                    let name: String = row[0], type: String = row[1]
                    let notNull = (row[2] as Int) == 1 || ((row[3] as Int) > 0 && type.uppercased() != "INTEGER")
                    var types: [Int32]
                    switch type.uppercased() {
                    case "INTEGER": types = [SQLITE_INTEGER]
                    case "REAL": types = [SQLITE_INTEGER, SQLITE_FLOAT]
                    default: types = [SQLITE_TEXT]
                    }
                    if !notNull { types.append(SQLITE_NULL) }
                    columns.append(name)
                    allowed.append(types.reduce(0) { $0 | UInt8(1 << $1) })
                }
                let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
                out.append(Table(name: table, columns: columns, allowed: allowed, select: "SELECT \(list) FROM \"\(table)\""))
            }
            return out
        }
    }()

    /// One pass over each table reading each value's storage class, as `typeof()` reports it. Stops at
    /// the first table with a wrong value. Call it only after the schema rule passed.
    public static func scan(_ db: Database) throws -> Scan {
        var result = Scan()
        for table in tables {
            let statement = try db.makeStatement(sql: table.select)
            let s = statement.sqliteStatement
            let allowed = table.allowed
            let idColumn = table.columns.firstIndex(of: "id")
            var ids: [Int64?] = []
            var count = 0
            var bad: UInt64 = 0
            let rows = try Row.fetchCursor(statement)
            while try rows.next() != nil {
                count += 1
                for i in allowed.indices where allowed[i] & UInt8(1 << sqlite3_column_type(s, Int32(i))) == 0 {
                    bad |= 1 << UInt64(i)
                }
                if let idColumn {
                    let c = Int32(idColumn)
                    ids.append(sqlite3_column_type(s, c) == SQLITE_INTEGER ? sqlite3_column_int64(s, c) : nil)
                }
            }
            if bad != 0 {
                result.violation = "\(table.name).\(table.columns[bad.trailingZeroBitCount])"
                return result
            }
            result.rows[table.name] = count
            if idColumn != nil && isIdentity(ids) { result.denseIDs.insert(table.name) }
        }
        return result
    }

    /// The scan, its violation as a finding.
    @discardableResult
    static func check(_ db: Database, _ findings: inout Findings) throws -> Scan {
        let result = try scan(db)
        if let violation = result.violation {
            findings.add("values", "column \(violation) holds a value of the wrong type")
        }
        return result
    }

    /// What `SELECT count(*), count(DISTINCT id), min(id), max(id), sum(typeof(id) != 'integer')` would
    /// say about `ids` (nil for a value that is not an integer): every id an integer, each once, and
    /// the smallest 1 and the largest the row count.
    public static func isIdentity(_ ids: [Int64?]) -> Bool {
        let n = ids.count
        guard n > 0 else { return true }
        var seen = [Bool](repeating: false, count: n + 1)
        for id in ids {
            guard let id, id >= 1, id <= Int64(n), !seen[Int(id)] else { return false }
            seen[Int(id)] = true
        }
        return true
    }
}

enum ManifestRule {
    static let required = ["schema_version", "tool_version", "policy_version", "source_format", "token_hash",
                           "consent_public", "languages", "domain", "rollover_hour",
                           "count_notes", "count_cards", "count_revlog"]

    /// Returns the rows each counted table has (the audit's `finish` reuses the review log's).
    @discardableResult
    static func check(_ db: Database, _ findings: inout Findings) throws -> [String: Int] {
        var manifest: [String: String] = [:]
        var notText = 0
        for row in try Row.fetchAll(db, sql: "SELECT key, value FROM manifest") {
            // NULL, a number or a blob (only in a damaged or hand-made file) is a finding, not a crash.
            guard let key = String.fromDatabaseValue(row[0]), let value = String.fromDatabaseValue(row[1]) else {
                notText += 1
                continue
            }
            manifest[key] = value
        }
        if notText > 0 { findings.add("manifest", "\(notText) key(s) or value(s) are not text") }
        for key in required where manifest[key] == nil { findings.add("manifest", "missing key \(key)") }
        if let version = manifest["schema_version"], version != String(SubmissionSchema.version) {
            findings.add("manifest", "schema_version \(version) is not \(SubmissionSchema.version)")
        }
        if let hash = manifest["token_hash"],
           hash.count != 64 || !hash.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) {
            findings.add("manifest", "token_hash is not a lower-case hex SHA-256")
        }
        if let consent = manifest["consent_public"], consent != "yes" && consent != "no" {
            findings.add("manifest", "consent_public must be yes or no")
        }
        if let languages = manifest["languages"],
           (try? JSONSerialization.jsonObject(with: Data(languages.utf8))) as? [String] == nil {
            findings.add("manifest", "languages is not a JSON list of codes")
        }
        var counts: [String: Int] = [:]
        for table in ["notes", "cards", "revlog"] {
            let actual = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0
            counts[table] = actual
            if let stated = manifest["count_\(table)"], stated != String(actual) {
                findings.add("manifest", "count_\(table) says \(stated) but the table has \(actual) rows")
            }
        }
        return counts
    }
}

/// Ids are 1...n with no gaps.
enum DenseIDRule {
    static func check(_ db: Database, _ findings: inout Findings) throws {
        for table in ["notes", "cards", "decks", "note_types", "deck_config"] {
            let row = try Row.fetchOne(db, sql: "SELECT count(*), min(id), max(id) FROM \(table)")!
            let count: Int64 = row[0]
            let min: Int64? = row[1], max: Int64? = row[2]
            if count > 0 && (min != 1 || max != count) {
                findings.add("dense-ids", "\(table) ids are not the counters 1...\(count)")
            }
        }
        let col = try Row.fetchAll(db, sql: "SELECT id FROM col")
        if col.count != 1 || (col.first?[0] as Int64?) != 1 { findings.add("dense-ids", "col must have exactly the row id 1") }
    }
}

/// Every reference points at a row that exists.
enum ReferenceRule {
    static let checks: [(String, String)] = [
        ("cards.nid", "SELECT count(*) FROM cards WHERE nid NOT IN (SELECT id FROM notes)"),
        ("cards.did", "SELECT count(*) FROM cards WHERE did NOT IN (SELECT id FROM decks)"),
        ("cards.odid", "SELECT count(*) FROM cards WHERE odid != 0 AND odid NOT IN (SELECT id FROM decks)"),
        ("notes.mid", "SELECT count(*) FROM notes WHERE mid NOT IN (SELECT id FROM note_types)"),
        ("fields.note_type_id", "SELECT count(*) FROM fields WHERE note_type_id NOT IN (SELECT id FROM note_types)"),
        ("decks.parent_id", "SELECT count(*) FROM decks WHERE parent_id IS NOT NULL AND parent_id NOT IN (SELECT id FROM decks)"),
        ("decks.conf_id", "SELECT count(*) FROM decks WHERE conf_id IS NOT NULL AND conf_id NOT IN (SELECT id FROM deck_config)"),
    ]

    static func check(_ db: Database, _ findings: inout Findings) throws {
        try checkContent(db, &findings)
        try checkReviewLog(db, &findings)
    }

    /// Everything but the review log.
    static func checkContent(_ db: Database, _ findings: inout Findings) throws {
        for (name, sql) in checks {
            let bad = try Int.fetchOne(db, sql: sql) ?? 0
            if bad > 0 { findings.add("references", "\(bad) row(s) with a dangling or invalid \(name)") }
        }
    }

    static func checkReviewLog(_ db: Database, _ findings: inout Findings) throws {
        // Reviews, in one pass over the log in row order, stepped directly. When card ids are the
        // counters 1...n (DenseIDRule checks it), a review's card exists exactly when its cid lies in
        // that range: no million lookups. Each id must be an integer above the one before it: the log
        // is stored in ascending order of time, which also makes its ids unique.
        let cards = try Row.fetchOne(db, sql: "SELECT count(*), min(id), max(id) FROM cards")!
        let count: Int64 = cards[0]
        let dense = count == 0 || ((cards[1] as Int64?) == 1 && (cards[2] as Int64?) == count)
        let cardIDs: Set<Int64> = dense ? [] : Set(try Int64.fetchAll(db, sql: "SELECT id FROM cards WHERE typeof(id) = 'integer'"))
        var dangling = 0, negative = 0, outOfOrder = 0
        let statement = try db.makeStatement(sql: "SELECT id, cid, day FROM revlog ORDER BY rowid")
        let s = statement.sqliteStatement
        var previous: Int64?
        while try SourceRules.step(s, db) {
            let id = sqlite3_column_int64(s, 0)
            if sqlite3_column_type(s, 0) != SQLITE_INTEGER || previous.map({ id <= $0 }) == true { outOfOrder += 1 }
            previous = id
            let card = sqlite3_column_int64(s, 1)
            if sqlite3_column_type(s, 1) != SQLITE_INTEGER || !(dense ? (card >= 1 && card <= count) : cardIDs.contains(card)) {
                dangling += 1
            }
            switch sqlite3_column_type(s, 2) {
            case SQLITE_INTEGER where sqlite3_column_int64(s, 2) < 0: negative += 1
            case SQLITE_FLOAT where sqlite3_column_double(s, 2) < 0: negative += 1
            default: break
            }
        }
        report(danglingCards: dangling, negativeDays: negative, &findings)
        if outOfOrder > 0 {
            findings.add("review-order", "\(outOfOrder) review(s) are not stored in ascending order of time (or repeat one)")
        }
    }

    /// The review log's findings from the counts of `checkReviewLog`, or of the audit's passes over the
    /// log that compare it with the source (which count the same rows on the way).
    static func report(danglingCards: Int, negativeDays: Int, _ findings: inout Findings) {
        if danglingCards > 0 { findings.add("references", "\(danglingCards) row(s) with a dangling or invalid revlog.cid") }
        if negativeDays > 0 { findings.add("references", "\(negativeDays) row(s) with a dangling or invalid revlog.day") }
    }
}

/// Deck names are `deck-N` along the hierarchy, N being each level's own id.
enum DeckNameRule {
    static func check(_ db: Database, policy: Policy, _ findings: inout Findings) throws {
        var decks: [Int64: (name: String, parent: Int64?)] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, name, parent_id FROM decks") {
            // A value that does not convert (a NULL id, text as a parent: only in a damaged or hand-made
            // file) is a finding, not a crash of the whole run.
            let parent: DatabaseValue = row[2]
            guard let id = Int64.fromDatabaseValue(row[0]), let name = String.fromDatabaseValue(row[1]),
                  parent.isNull || Int64.fromDatabaseValue(parent) != nil else {
                findings.add("deck-names", "a deck has no integer id, no text name or a parent that is not an id")
                continue
            }
            decks[id] = (name, Int64.fromDatabaseValue(parent))
        }
        for (id, deck) in decks {
            var chain: [Int64] = []
            var current: Int64? = id
            var guardCount = 0
            while let c = current, guardCount < 64 {
                chain.append(c)
                current = decks[c]?.parent
                guardCount += 1
            }
            let expected = chain.reversed().map { "\(policy.deckNamePrefix)\($0)" }.joined(separator: "::")
            if deck.name != expected { findings.add("deck-names", "deck \(id) is not named neutrally") }
        }
    }
}

/// `cards.data` holds only the FSRS keys the policy keeps, all numbers (checked inside SQLite).
enum CardDataRule {
    static func check(_ db: Database, policy: Policy, _ findings: inout Findings) throws {
        // SQLite 3.40 parses each value three or four times below (json_valid, json_type, json_each):
        // 0.4 s for the 80,000 cards of a large submission. Data as prepare writes it is recognised in one
        // pass first; anything else is left to the SQL, which alone decides what is a finding.
        if try FlatNumericObjects.all(db, keys: policy.cardsDataKeys) { return }
        let keys = policy.cardsDataKeys.map { "'\($0.replacingOccurrences(of: "'", with: "''"))'" }.joined(separator: ",")
        let invalid = try Int.fetchOne(db, sql: """
            SELECT count(*) FROM cards WHERE data != '' AND (NOT json_valid(data) OR json_type(data) != 'object')
            """) ?? 0
        if invalid > 0 { findings.add("card-data", "\(invalid) card(s) have data that is not a JSON object") }
        let extra = try Int.fetchOne(db, sql: """
            SELECT count(DISTINCT c.id) FROM cards c, json_each(c.data) j
            WHERE c.data != '' AND json_valid(c.data) AND (j.key NOT IN (\(keys)) OR j.type NOT IN ('integer', 'real'))
            """) ?? 0
        if extra > 0 { findings.add("card-data", "\(extra) card(s) keep data keys the policy drops, or non-numbers") }
    }
}

/// No media file name anywhere: `[sound:…]` and `src=` hold only placeholders.
enum MediaNameRule {
    static func check(_ db: Database, policy: Policy, _ findings: inout Findings) throws {
        let placeholders = Set(policy.media.placeholders.values)
        let rows = try Row.fetchCursor(db, sql: "SELECT id, flds, sfld FROM notes")
        while let row = try rows.next() {
            for column in [1, 2] {
                // NULL or a number (only in a damaged or hand-made file) names no media file.
                guard var text = String.fromDatabaseValue(row[column]) else { continue }
                guard text.containsBytes("[sound:") || text.containsBytes("=") else { continue }
                let bad = try text.withUTF8 { bytes -> Bool in
                    try MediaReferences.find(in: bytes).contains { reference in
                        !placeholders.contains(String(decoding: UnsafeBufferPointer(rebasing: bytes[reference.valueRange]),
                                                      as: UTF8.self))
                    }
                }
                if bad {
                    let id = (row[0] as Int64?).map { "note \($0)" } ?? "a note without an id"
                    findings.add("media-names", "\(id) references a media file by name")
                }
            }
        }
    }
}

/// The fast path of `CardDataRule`: true when every non-empty `cards.data` is text of the form
/// `{"key": number, ...}`, keys distinct and among `keys`, written without escapes, numbers in JSON's
/// grammar. Each such value is a JSON object that the SQL of `CardDataRule` finds nothing in (valid,
/// an object, only allowed keys, each an integer or real), so `true` can skip it; `false` only says
/// "not this simple shape", never "a finding".
enum FlatNumericObjects {
    static func all(_ db: Database, keys: [String]) throws -> Bool {
        let allowed = keys.map { Array($0.utf8) }
        guard allowed.count <= 64 else { return false }
        // The text's bytes as SQLite holds them (no String per card). Bytes a String would have repaired
        // or cut at a NUL only make `matches` say no, which leaves the card to the SQL.
        let statement = try db.makeStatement(sql: "SELECT data FROM cards WHERE data != ''")
        let s = statement.sqliteStatement
        let rows = try Row.fetchCursor(statement)
        while try rows.next() != nil {
            guard sqlite3_column_type(s, 0) == SQLITE_TEXT, let text = sqlite3_column_text(s, 0) else { return false }
            let bytes = UnsafeRawBufferPointer(start: text, count: Int(sqlite3_column_bytes(s, 0)))
            if !matches(bytes, allowed: allowed) { return false }
        }
        return true
    }

    static func matches(_ bytes: UnsafeRawBufferPointer, allowed: [[UInt8]]) -> Bool {
        var seen: UInt64 = 0
        return FlatNumericJSON.walk(bytes) { member in
            let key = UnsafeRawBufferPointer(rebasing: bytes[member.key])
            guard let index = allowed.firstIndex(where: { $0.elementsEqual(key) }),
                  seen & (1 << UInt64(index)) == 0 else { return false }
            seen |= 1 << UInt64(index)
            return true
        }
    }
}
