import Foundation
import GRDB
import GRDBSQLite

/// Opens the unpacked collection with GRDB under `ForeignDatabase`'s rules (read-only, its schema
/// trusted with nothing, a work budget per query), `unicase` collation registered, and SQLite failures
/// turned into `ReaderError`s that say what is wrong without quoting the data.
enum CollectionDatabase {
    /// Anki accepts schema 11 and 14...18.
    static let supportedSchemas: Set<Int> = [11, 14, 15, 16, 17, 18]
    /// Ids above 2^53 cannot be real creation times and do not survive JSON round trips.
    static let maxSafeID: Int64 = 1 << 53

    /// Makes a working copy usable read-only: folds any `-wal` into the main file and switches the
    /// copy to rollback journaling, so that a read-only connection needs no `-shm`/`-wal` files.
    ///
    /// Without syncing: the copy is private and disposable (a crash leaves it to be removed, never to
    /// be read again), and Anki's packages hold WAL-mode databases, whose switch would otherwise
    /// fdatasync the whole freshly written copy to disk (0.06 s on a quiet disk for 112 MB, far more
    /// on a busy one).
    static func normalizeJournal(at url: URL, budget: ForeignDatabase.Budget) throws {
        try mapErrors {
            let queue = try ForeignDatabase.open(url, label: "anki-submit.normalize", budget: budget, normalizing: true)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous=OFF")
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode=DELETE")
            }
            try queue.close()
        }
    }

    static func open(at url: URL, budget: ForeignDatabase.Budget) throws -> DatabaseQueue {
        try mapErrors {
            try ForeignDatabase.open(url, label: "anki-submit.collection", budget: budget) { db in
                db.add(collation: unicase)
                try registerTextValidator(db)
            }
        }
    }

    /// Anki names the case-insensitive collation of its name columns `unicase`.
    static let unicase = DatabaseCollation("unicase") { lhs, rhs in
        lhs.compare(rhs, options: [.caseInsensitive])
    }

    /// `anki_submit_invalid_utf8(x)`: 1 when a text or blob value is not valid UTF-8 (or holds NUL),
    /// read from SQLite's raw bytes so nothing is repaired on the way. Not `SQLITE_INNOCUOUS`: with
    /// `trusted_schema` off, the collection's own schema (a generated column, an index) cannot call it.
    static func registerTextValidator(_ db: Database) throws {
        let rc = sqlite3_create_function_v2(
            db.sqliteConnection, "anki_submit_invalid_utf8", 1,
            SQLITE_UTF8 | SQLITE_DETERMINISTIC, nil,
            { context, argc, argv in
                guard let value = argv?[0] else { sqlite3_result_int(context, 0); return }
                let type = sqlite3_value_type(value)
                guard type == SQLITE_TEXT || type == SQLITE_BLOB else { sqlite3_result_int(context, 0); return }
                let count = Int(sqlite3_value_bytes(value))
                guard count > 0, let bytes = sqlite3_value_blob(value) else { sqlite3_result_int(context, 0); return }
                let buffer = UnsafeRawBufferPointer(start: bytes, count: count)
                let valid = String(validating: buffer, as: UTF8.self) != nil && !buffer.contains(0)
                sqlite3_result_int(context, valid ? 0 : 1)
            }, nil, nil, nil)
        if rc != SQLITE_OK {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "could not register a function")
        }
    }

    /// Runs `body`, translating SQLite errors into participant-facing reader errors.
    static func mapErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ReaderError {
            throw error
        } catch let error as DatabaseError {
            throw translate(error)
        } catch is RowDecodingError {
            // A value of the wrong type or a NULL where Anki never writes one (found by fuzzing).
            throw ReaderError.invalidData(.tables, detail: "a row has a missing or malformed value")
        }
    }

    static func translate(_ error: DatabaseError) -> ReaderError {
        switch error.resultCode {
        case .SQLITE_NOTADB:
            return ReaderError(.damagedDatabase, "The collection is not a readable database; the file is damaged.")
        case .SQLITE_CORRUPT:
            return ReaderError(.damagedDatabase, "The collection database is damaged; export it from Anki again.")
        case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_CANTOPEN:
            return ReaderError(.workspaceFailure, "The temporary copy of the collection could not be used (disk full or I/O error).")
        case .SQLITE_NOMEM:
            return ReaderError(.workspaceFailure, "Not enough memory to read the collection.")
        case .SQLITE_INTERRUPT:
            // Only the query budget interrupts (see ForeignDatabase).
            return ReaderError(.queryBudget, "Reading the collection took far more work than any real collection needs; "
                               + "the file is damaged or was built to stall the reader.")
        default:
            // "no such table/column" and the like: a database, but not laid out as Anki lays it out.
            // GRDB keeps bound values out of `message`, so it is safe to name the failure kind only.
            return ReaderError(.notAnAnkiCollection,
                               "The database is not an Anki collection (its tables are not what Anki writes).")
        }
    }
}

extension Row {
    /// Integer column; NULL or non-numeric values throw instead of trapping (hostile files).
    func int(_ index: Int) throws -> Int64 {
        try decode(Int64.self, atIndex: index)
    }

    /// Text column; NULL reads as empty (Anki's NOT NULL text columns are sometimes empty in the wild).
    func text(_ index: Int) throws -> String {
        try decode(String?.self, atIndex: index) ?? ""
    }
}

/// `PRAGMA quick_check` of the working copy on its own read-only connection and thread: started by
/// `start`, its outcome collected by `wait` (which blocks until the check has finished).
public final class IntegrityCheck: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    /// Written once by the checking thread before it signals `finished`; read only after `wait`.
    private var outcome: Result<Void, any Error> = .success(())

    static func start(_ url: URL, budget: ForeignDatabase.Budget, checkValueTypes: Bool = false) -> IntegrityCheck {
        let check = IntegrityCheck()
        DispatchQueue.global(qos: .userInitiated).async {
            check.outcome = Result { try Self.run(url, budget: budget, checkValueTypes: checkValueTypes) }
            check.finished.signal()
        }
        return check
    }

    /// The numeric columns of notes and cards a submission copies as they are. Anki writes numbers
    /// there; text or a blob (only in a damaged or hand-made file) would be copied verbatim, so it is
    /// refused instead. The review log's numbers (`reviewLogNumericColumns`) are checked by prepare's
    /// copy of the log, which reads every review anyway: one reading of a million rows fewer.
    static let numericColumns: [(table: String, columns: [String])] = [
        ("notes", ["mid"]),
        ("cards", ["nid", "did", "ord", "type", "queue", "due", "ivl", "factor", "reps", "lapses", "left", "odue", "odid"]),
    ]

    /// The review log's numeric columns a submission copies as they are (prepare's copy checks them).
    public static let reviewLogNumericColumns = ["cid", "ease", "ivl", "lastIvl", "factor", "time", "type"]

    /// Waits for the check; throws `.damagedDatabase` when it failed. Can be called more than once.
    public func wait() throws {
        finished.wait()
        finished.signal()
        try outcome.get()
    }

    private static func run(_ url: URL, budget: ForeignDatabase.Budget, checkValueTypes: Bool) throws {
        try CollectionDatabase.mapErrors {
            let queue = try CollectionDatabase.open(at: url, budget: budget)
            defer { try? queue.close() }
            let check = try queue.read { try String.fetchAll($0, sql: "PRAGMA quick_check") }
            if check != ["ok"] {
                throw ReaderError(.damagedDatabase,
                                  "The collection database is damaged (its integrity check failed); "
                                  + "export it from Anki again, or use Tools > Check Database in Anki.")
            }
            guard checkValueTypes else { return }
            for (table, columns) in numericColumns {
                // Stepped directly, reading each value's storage class: a million reviews in about a
                // quarter of a second, where `typeof(x) NOT IN (...)` builds and compares strings (0.9 s).
                let bad = try queue.read { db -> Bool in
                    let statement = try db.makeStatement(sql: "SELECT \(columns.joined(separator: ", ")) FROM \(table)")
                    let s = statement.sqliteStatement
                    let count = Int32(columns.count)
                    while true {
                        let rc = sqlite3_step(s)
                        if rc == SQLITE_DONE { return false }
                        guard rc == SQLITE_ROW else {
                            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "type check")
                        }
                        for i in 0..<count {
                            let type = sqlite3_column_type(s, i)
                            if type != SQLITE_INTEGER && type != SQLITE_FLOAT { return true }
                        }
                    }
                }
                if bad { throw ReaderError.notANumber(inTable: table) }
            }
        }
    }
}
