import CAnkiSQLite
import Foundation
import GRDB
import GRDBSQLite

/// The one way anki-submit opens an SQLite file it did not write: a participant's collection (its
/// private working copy, in the reader and the audit) and a stranger's submission (in `audit` and the
/// researcher's ingest). Every such connection
///
/// - is read-only (except `normalizing`, which only folds the private working copy's WAL);
/// - runs with `trusted_schema` off, `SQLITE_DBCONFIG_DEFENSIVE` on, views and triggers disabled and
///   `cell_size_check` on: the file's schema can run none of its views or triggers, and can call no
///   function of ours (none is registered as `SQLITE_INNOCUOUS`) from a generated column, index or
///   CHECK constraint;
/// - has a `Budget` per statement, enforced by a progress handler: a statement that runs over it fails
///   with `SQLITE_INTERRUPT` (`isOverBudget`), which callers report as their own documented error;
/// - is only read through tables `plainTable` accepts (an ordinary table, no generated columns, with
///   the columns the caller reads).
///
/// Connections that ATTACH such a file to one of ours (prepare's output, the audit's comparison with
/// the collection, ingest's writer) call `harden` first.
public enum ForeignDatabase {
    /// How much work one statement may do: SQLite virtual-machine steps over the whole statement, and
    /// seconds without producing a row. Both grow with the size of the database files on the
    /// connection, so a real collection of gigabytes reads through while a small hostile file that
    /// loops is stopped within about a second.
    public struct Budget: Sendable, Equatable {
        public var baseSteps: Int64
        public var stepsPerByte: Int64
        public var baseSeconds: Double
        public var secondsPerMegabyte: Double

        public init(baseSteps: Int64, stepsPerByte: Int64, baseSeconds: Double, secondsPerMegabyte: Double) {
            self.baseSteps = baseSteps
            self.stepsPerByte = stepsPerByte
            self.baseSeconds = baseSeconds
            self.secondsPerMegabyte = secondsPerMegabyte
        }

        /// No query of the reader, the audit or ingest comes near it: they need well under 50 steps per
        /// byte of the files they read and read at more than 20 MB a second.
        public static let `default` = Budget(baseSteps: 100_000_000, stepsPerByte: 500,
                                             baseSeconds: 30, secondsPerMegabyte: 0.5)

        func steps(bytes: Int64) -> Int64 {
            let scaled = stepsPerByte.multipliedReportingOverflow(by: bytes)
            if scaled.overflow { return .max }
            let total = baseSteps.addingReportingOverflow(scaled.partialValue)
            return total.overflow ? .max : total.partialValue
        }

        func seconds(bytes: Int64) -> Double { baseSeconds + secondsPerMegabyte * Double(bytes) / 1_048_576 }
    }

    /// The configuration of a connection to a foreign file at `url` (a `DatabaseQueue`: one connection
    /// per configuration, which owns its budget). `prepare` runs after the rules are applied (for
    /// collations and functions of the caller).
    public static func configuration(label: String, budget: Budget = .default, normalizing: Bool = false,
                                     prepare: (@Sendable (Database) throws -> Void)? = nil) -> Configuration {
        var config = Configuration()
        config.readonly = !normalizing
        config.label = label
        // Foreign keys are not ours to enforce on a file we only read.
        config.foreignKeysEnabled = false
        let meter = QueryMeter(budget)
        config.prepareDatabase { db in
            try harden(db, foreign: true)
            meter.install(on: db)
            try prepare?(db)
        }
        return config
    }

    /// Opens `url` under these rules.
    public static func open(_ url: URL, label: String, budget: Budget = .default, normalizing: Bool = false,
                            prepare: (@Sendable (Database) throws -> Void)? = nil) throws -> DatabaseQueue {
        try DatabaseQueue(path: url.path,
                          configuration: configuration(label: label, budget: budget, normalizing: normalizing,
                                                       prepare: prepare))
    }

    /// The connection-wide rules for a connection that attaches a foreign file: `trusted_schema` off,
    /// defensive mode and `cell_size_check` on. `foreign`: the main database is foreign too, so views
    /// and triggers are disabled as well (they would also be disabled in the connection's own schema).
    public static func harden(_ db: Database, foreign: Bool = false) throws {
        let connection = UnsafeMutableRawPointer(db.sqliteConnection)
        var ok = anki_sqlite_trusted_schema(connection, 0) == 0 && anki_sqlite_defensive(connection, 1) == 1
        if foreign {
            ok = ok && anki_sqlite_enable_view(connection, 0) == 0 && anki_sqlite_enable_trigger(connection, 0) == 0
        }
        guard ok else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "cannot restrict the connection to a foreign database")
        }
        try db.execute(sql: "PRAGMA cell_size_check = ON")
    }

    /// True for the error of a statement stopped by its budget.
    public static func isOverBudget(_ error: any Error) -> Bool {
        (error as? DatabaseError)?.resultCode == .SQLITE_INTERRUPT
    }

    /// Whether `name` in `schema` is an ordinary table (not a view, virtual or shadow table) without
    /// generated columns that has every column in `columns` (names compare as SQLite compares them,
    /// ignoring ASCII case).
    public static func plainTable(_ db: Database, _ name: String, schema: String = "main",
                                  columns: [String] = []) throws -> Bool {
        let quoted = schema.replacingOccurrences(of: "\"", with: "\"\"")
        guard let sql = try String.fetchOne(db, sql: """
            SELECT sql FROM "\(quoted)".sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE
            """, arguments: [name]),
              sql.uppercased().hasPrefix("CREATE TABLE") else { return false }
        var present: Set<String> = []
        for row in try Row.fetchAll(db, sql: "SELECT name, hidden FROM pragma_table_xinfo(?, ?)", arguments: [name, schema]) {
            guard (row[1] as Int64?) == 0, let column = row[0] as String? else { return false }
            present.insert(column.lowercased())
        }
        return columns.allSatisfy { present.contains($0.lowercased()) }
    }
}

/// Counts the work of each statement on one connection and stops it when it runs over its budget
/// (see `ForeignDatabase.Budget`). The progress handler runs every `interval` virtual-machine steps;
/// a trace callback marks where a statement starts (steps and clock restart) and where it returns a
/// row (the clock restarts at the next step, so time the caller spends on a row is not counted).
final class QueryMeter: @unchecked Sendable {
    static let interval: Int32 = 1_000

    let budget: ForeignDatabase.Budget
    private var connection: OpaquePointer?
    private var steps: Int64 = 0
    private var since: UInt64 = 0
    private var restartClock = true
    /// The limits for the files on the connection, recomputed when a database is attached or detached.
    private var databases = -1
    private var stepLimit: Int64 = 0
    private var secondLimit: Double = 0

    init(_ budget: ForeignDatabase.Budget) { self.budget = budget }

    /// Installs the handlers. The meter is kept alive by the configuration that captured it, which
    /// its `DatabaseQueue` keeps for as long as the connection is open.
    func install(on db: Database) {
        connection = db.sqliteConnection
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_progress_handler(db.sqliteConnection, Self.interval, { context in
            Unmanaged<QueryMeter>.fromOpaque(context!).takeUnretainedValue().tick()
        }, context)
        sqlite3_trace_v2(db.sqliteConnection, UInt32(SQLITE_TRACE_STMT | SQLITE_TRACE_ROW), { mask, context, _, _ in
            let meter = Unmanaged<QueryMeter>.fromOpaque(context!).takeUnretainedValue()
            if mask == UInt32(SQLITE_TRACE_STMT) { meter.steps = 0 }
            meter.restartClock = true
            return 0
        }, context)
    }

    /// 0: go on; 1: interrupt the statement.
    private func tick() -> Int32 {
        steps += Int64(Self.interval)
        let now = DispatchTime.now().uptimeNanoseconds
        if restartClock {
            restartClock = false
            since = now
            return 0
        }
        refreshLimits()
        if steps > stepLimit { return 1 }
        return Double(now - since) / 1e9 > secondLimit ? 1 : 0
    }

    private func refreshLimits() {
        guard let connection else { return }
        var count = 0
        while sqlite3_db_name(connection, Int32(count)) != nil { count += 1 }
        guard count != databases else { return }
        databases = count
        var bytes: Int64 = 0
        for index in 0..<count {
            guard let name = sqlite3_db_name(connection, Int32(index)),
                  let file = sqlite3_db_filename(connection, name), file.pointee != 0 else { continue }
            var info = stat()
            if stat(file, &info) == 0 { bytes += Int64(info.st_size) }
        }
        stepLimit = budget.steps(bytes: bytes)
        secondLimit = budget.seconds(bytes: bytes)
    }
}
