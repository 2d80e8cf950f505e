import AnkiAudit
import AnkiResearch
import Foundation
import GRDB

/// Turns fuzzer bytes into changes of a valid submission at the SQLite level (values of every storage
/// class, deleted and copied rows, schema edits, views, triggers, indexes, `sqlite_`-like names,
/// statistics, edited definitions, corrupted pages), then puts the result through the audit and
/// ingest exactly as `anki-submit audit` and `research ingest` would. Any outcome is fine except a
/// crash, a hang, an error that is neither a finding nor a quarantine, or ingest accepting a file the
/// audit finds fault with.
enum SubmissionMutator {
    /// The submission's tables, each with its columns and how one of its rows is picked (`k` its
    /// position in key order).
    static let tables: [(name: String, columns: [String], key: String)] = [
        ("manifest", ["key", "value"], "key"),
        ("col", ["id", "crt", "ver", "sched_ver", "rollover", "utc_offset_hours"], "rowid"),
        ("note_types", ["id", "kind", "sort_field"], "rowid"),
        ("fields", ["note_type_id", "ord", "name"], "note_type_id, ord"),
        ("deck_config", ["id", "fsrs_params", "desired_retention", "ignore_revlogs_before_date",
                         "ignore_revlogs_before_ms", "new_per_day", "max_ivl"], "rowid"),
        ("decks", ["id", "name", "parent_id", "conf_id", "filtered"], "rowid"),
        ("notes", ["id", "mid", "tags", "flds", "sfld", "created"], "rowid"),
        ("cards", ["id", "nid", "did", "ord", "type", "queue", "due", "ivl", "factor", "reps", "lapses", "left",
                   "odue", "odid", "data", "created"], "rowid"),
        ("revlog", ["id", "cid", "ease", "ivl", "lastIvl", "factor", "time", "type", "day"], "rowid"),
    ]

    static let manifestKeys = ["schema_version", "tool_version", "policy_version", "source_format", "token_hash",
                               "consent_public", "languages", "domain", "rollover_hour", "count_notes", "count_cards",
                               "count_revlog", "source_schema"]

    static let names = ["sqliteXnotes", "sqlite_stat1", "sqlite_stat4", "sqlite_sequence", "Notes", "manifest2",
                        "sqlite_", "sqlite", "pragma_x", "\u{0}x", "revlog_"]

    /// Reads the fuzzer's bytes front to back; past the end everything reads as 0.
    struct Bytes {
        let data: [UInt8]
        var at = 0
        var atEnd: Bool { at >= data.count }
        mutating func byte() -> Int {
            defer { at += 1 }
            return at < data.count ? Int(data[at]) : 0
        }
        mutating func u16() -> Int { byte() | byte() << 8 }
        mutating func i64() -> Int64 {
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(byte()) << (8 * UInt64(i)) }
            return Int64(bitPattern: v)
        }
        mutating func text(max: Int = 40) -> String {
            let n = byte() % (max + 1)
            var out: [UInt8] = []
            for _ in 0..<n { out.append(UInt8(byte())) }
            return String(decoding: out, as: UTF8.self)
        }
        mutating func pick<T>(_ items: [T]) -> T { items[byte() % items.count] }
    }

    /// A value of any storage class, or SQL that makes one.
    static func value(_ b: inout Bytes) -> (sql: String, arguments: StatementArguments) {
        switch b.byte() % 9 {
        case 0: return ("NULL", [])
        case 1: return ("?", [b.i64()])
        case 2: return ("?", [Double(bitPattern: UInt64(bitPattern: b.i64()))])
        case 3: return ("?", [b.text()])
        case 4: return ("?", [Data(b.text().utf8)])
        case 5: return ("?", [b.byte() - 128])
        case 6: return ("zeroblob(?)", [b.u16() * 16])
        case 7: return ("?", [String(b.i64())])
        default: return ("?", [["deck-1", "deck-1::deck-2", "[sound:x.mp3]", "{\"s\": 1}", "[\"de\"]", "yes", "1", ""][b.byte() % 8]])
        }
    }

    /// Applies the SQL changes; returns the file-level changes (offset, byte) to make afterwards.
    static func mutate(_ url: URL, _ input: [UInt8]) -> [(offset: Int, byte: UInt8)] {
        var b = Bytes(data: input)
        var pokes: [(Int, UInt8)] = []
        guard let queue = try? DatabaseQueue(path: url.path) else { return [] }
        defer { try? queue.close() }
        var steps = 0
        while !b.atEnd && steps < 12 {
            steps += 1
            let table = b.pick(tables)
            let column = b.pick(table.columns)
            let k = b.byte() % 6
            let row = "(\(table.key)) IN (SELECT \(table.key) FROM \"\(table.name)\" ORDER BY \(table.key) LIMIT 1 OFFSET \(k))"
            var sql: String
            var arguments: StatementArguments = []
            switch b.byte() % 16 {
            case 0, 1, 2:
                let v = value(&b)
                sql = "UPDATE \"\(table.name)\" SET \"\(column)\" = \(v.sql) WHERE \(row)"
                arguments = v.arguments
            case 3:
                let v = value(&b)
                sql = "UPDATE manifest SET value = \(v.sql) WHERE key = '\(b.pick(manifestKeys))'"
                arguments = v.arguments
            case 4: sql = "DELETE FROM \"\(table.name)\" WHERE \(row)"
            case 5: sql = "INSERT INTO \"\(table.name)\" SELECT * FROM \"\(table.name)\" WHERE \(row)"
            case 6: sql = "ALTER TABLE \"\(table.name)\" ADD COLUMN \"\(b.pick(names))\" \(b.pick(["", "TEXT", "AS (1) VIRTUAL", "DEFAULT 'x'"]))"
            case 7:
                let list = table.columns.map { "\"\($0)\"" }.joined(separator: ", ")
                let body = b.pick([
                    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT \(table.columns.map { _ in "n" }.joined(separator: ", ")) FROM r",
                    "SELECT * FROM \"\(table.name)_old\"",
                    "SELECT \(table.columns.map { _ in "NULL" }.joined(separator: ", "))",
                ])
                sql = "ALTER TABLE \"\(table.name)\" RENAME TO \"\(table.name)_old\"; CREATE VIEW \"\(table.name)\" (\(list)) AS \(body)"
            case 8: sql = "CREATE TRIGGER \"\(b.pick(names))t\" AFTER INSERT ON \"\(table.name)\" BEGIN SELECT 1; END"
            case 9: sql = "CREATE INDEX \"\(b.pick(names))i\" ON \"\(table.name)\" (\"\(column)\") \(b.pick(["", "WHERE \"\(column)\" = 'Anna'"]))"
            case 10: sql = "CREATE TABLE \"\(b.pick(names))\" (a, b, c)"
            case 11: sql = "CREATE VIEW \"\(b.pick(names))v\" AS SELECT 1"
            case 12: sql = b.pick(["ANALYZE", "ANALYZE; INSERT INTO sqlite_stat1 VALUES ('notes', NULL, 'Anna')", "VACUUM"])
            case 13:
                let from = b.pick(["NOT NULL", "PRIMARY KEY", "INTEGER", "TEXT", "WITHOUT ROWID", ",", "(", "CHECK"])
                let to = b.pick(["", "UNIQUE", "ANY", "REAL", "NOT NULL", "("])
                sql = """
                    PRAGMA writable_schema = ON;
                    UPDATE sqlite_master SET sql = replace(sql, '\(from)', '\(to)') WHERE name = '\(table.name)';
                    PRAGMA writable_schema = OFF
                    """
            case 14: sql = "DROP TABLE \"\(table.name)\""
            default:
                pokes.append((b.u16() * (b.byte() % 4 == 0 ? 1 : 37), UInt8(b.byte())))
                continue
            }
            // A change SQLite refuses (a constraint, a name in use) is simply not made.
            let statement = sql, values = arguments
            try? queue.writeWithoutTransaction { db in try db.execute(sql: statement, arguments: values) }
        }
        return pokes
    }

    /// Mutates a copy of `base` by `input`, then audits and ingests it.
    static func run(base: URL, input: [UInt8], work: URL) {
        let inbox = work.appendingPathComponent("inbox")
        try? FileManager.default.removeItem(at: work)
        try? FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let file = inbox.appendingPathComponent("submission.sqlite")
        guard (try? FileManager.default.copyItem(at: base, to: file)) != nil else { return }
        let pokes = mutate(file, input)
        if !pokes.isEmpty, var bytes = try? Data(contentsOf: file), !bytes.isEmpty {
            for (offset, byte) in pokes { bytes[offset % bytes.count] = byte }
            try? bytes.write(to: file)
        }
        for suffix in ["-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: file.path + suffix) }

        // The audit, as `anki-submit audit` runs it: findings, or "not a readable submission".
        var clean = false
        do {
            clean = try SubmissionAudit().audit(submission: file).isEmpty
        } catch is SubmissionAudit.Unreadable {
        } catch {
            fatalError("the audit threw an error that is neither a finding nor Unreadable: \(type(of: error))")
        }
        // Ingest, as `research ingest` runs it, into a fresh dataset.
        var options = IngestOptions()
        options.jobs = 1
        options.temporaryDirectory = work
        let summary: IngestSummary
        do {
            summary = try Ingest(dataset: work.appendingPathComponent("dataset.sqlite"),
                                 keyFile: work.appendingPathComponent("researcher.key"), options: options).run(folder: inbox)
        } catch {
            fatalError("ingest failed as a whole on one bad file: \(type(of: error))")
        }
        guard summary.results.count == 1 else { fatalError("ingest reported \(summary.results.count) results for one file") }
        if !summary.ingested.isEmpty && !clean {
            fatalError("ingest accepted a submission the audit finds fault with")
        }
    }
}
