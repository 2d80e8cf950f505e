import Foundation
import GRDB
import GRDBSQLite
import Testing

@testable import AnkiReader

/// `ForeignDatabase`, the one way a file from outside is opened: its schema runs nothing of its own
/// and reaches none of our functions, and every query has a budget.
@Suite("Foreign databases are opened under one set of rules")
struct ForeignDatabaseTests {
    /// A small database with a view and a trigger that call `function`, and with `generated` a
    /// generated column that calls it too.
    static func hostileFile(_ scratch: ScratchDirectory, calling function: String, generated: Bool = false) throws -> URL {
        let url = scratch.url.appendingPathComponent(generated ? "generated.sqlite" : "foreign.sqlite")
        let queue = try DatabaseQueue(path: url.path)
        try queue.write { db in
            // The function exists while the file is written, so SQLite accepts the schema.
            db.add(function: DatabaseFunction(function, argumentCount: 1, pure: true) { _ in 0 })
            try db.execute(sql: """
                CREATE TABLE t (x TEXT\(generated ? ", y INTEGER GENERATED ALWAYS AS (\(function)(x)) VIRTUAL" : ""));
                INSERT INTO t (x) VALUES ('a'), ('b');
                CREATE TABLE log (z);
                CREATE VIEW v AS SELECT \(function)(x) AS r FROM t;
                CREATE TRIGGER tr AFTER INSERT ON log BEGIN INSERT INTO log VALUES (\(function)('x')); END;
                CREATE VIEW endless AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r;
                """)
        }
        try queue.close()
        return url
    }

    @Test("the reader's own SQL function is unreachable from the file's schema; views are not run at all")
    func functionsUnreachable() throws {
        let scratch = try ScratchDirectory()
        // A schema whose generated column calls the function is refused as a whole ("unsafe use of
        // anki_submit_invalid_utf8()"): the collection reads as damaged.
        let generated = try Self.hostileFile(scratch, calling: "anki_submit_invalid_utf8", generated: true)
        #expect(throws: ReaderError.self) {
            let queue = try CollectionDatabase.open(at: generated, budget: .default)
            defer { try? queue.close() }
            try CollectionDatabase.mapErrors { _ = try queue.read { try Int.fetchAll($0, sql: "SELECT x FROM t") } }
        }
        let url = try Self.hostileFile(scratch, calling: "anki_submit_invalid_utf8")
        let queue = try CollectionDatabase.open(at: url, budget: .default)
        defer { try? queue.close() }
        try queue.read { (db: Database) throws in
            // Called directly by our own SQL it works.
            #expect(try Int.fetchOne(db, sql: "SELECT anki_submit_invalid_utf8('ok')") == 0)
            // Views (and with them any function they call) are disabled.
            #expect(throws: DatabaseError.self) { try Int.fetchAll(db, sql: "SELECT r FROM v") }
            #expect(throws: DatabaseError.self) { try Int.fetchAll(db, sql: "SELECT n FROM endless LIMIT 1") }
            #expect(try String.fetchOne(db, sql: "PRAGMA trusted_schema") == "0")
            #expect(try Int.fetchOne(db, sql: "PRAGMA cell_size_check") == 1)
            #expect(try ForeignDatabase.plainTable(db, "t", columns: ["x"]))
            #expect(try !ForeignDatabase.plainTable(db, "t", columns: ["x", "y"]))
            #expect(try !ForeignDatabase.plainTable(db, "v"))
            #expect(try ForeignDatabase.plainTable(db, "LOG", columns: ["Z"]))
        }
    }

    @Test("a function registered without SQLITE_INNOCUOUS on an audit-like connection is unreachable too")
    func otherFunctionsUnreachable() throws {
        let scratch = try ScratchDirectory()
        for generated in [false, true] {
            let url = try Self.hostileFile(scratch, calling: "our_function", generated: generated)
            let open = {
                try ForeignDatabase.open(url, label: "test") { db in
                    let rc = sqlite3_create_function_v2(db.sqliteConnection, "our_function", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                                        nil, { context, _, _ in sqlite3_result_int(context, 1) }, nil, nil, nil)
                    #expect(rc == SQLITE_OK)
                }
            }
            if generated {
                // The schema is refused as a whole, at the first read: "unsafe use of our_function()".
                #expect(throws: DatabaseError.self) { _ = try open().read { try Int.fetchAll($0, sql: "SELECT x FROM t") } }
                continue
            }
            let queue = try open()
            defer { try? queue.close() }
            try queue.read { (db: Database) throws in
                #expect(try Int.fetchOne(db, sql: "SELECT our_function('x')") == 1)
                #expect(throws: DatabaseError.self) { try Int.fetchAll(db, sql: "SELECT r FROM v") }
            }
        }
    }

    @Test("a query over its step budget, or its time budget, fails with SQLITE_INTERRUPT; the next one runs")
    func budget() throws {
        let scratch = try ScratchDirectory()
        let url = try Self.hostileFile(scratch, calling: "f")
        let endless = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"
        for budget in [ForeignDatabase.Budget(baseSteps: 2_000_000, stepsPerByte: 0, baseSeconds: 1_000, secondsPerMegabyte: 0),
                       ForeignDatabase.Budget(baseSteps: .max / 2, stepsPerByte: 0, baseSeconds: 0.2, secondsPerMegabyte: 0)] {
            let queue = try ForeignDatabase.open(url, label: "test", budget: budget)
            defer { try? queue.close() }
            let started = Date()
            do {
                _ = try queue.read { try Int.fetchOne($0, sql: endless) }
                Issue.record("the endless query returned")
            } catch {
                #expect(ForeignDatabase.isOverBudget(error), "\(error)")
            }
            #expect(Date().timeIntervalSince(started) < 10)
            // Every statement has its own budget.
            #expect(try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM t") } == 2)
        }
    }

    @Test("the reader turns a query over budget into exit code 34")
    func readerCode() throws {
        let error = CollectionDatabase.translate(DatabaseError(resultCode: .SQLITE_INTERRUPT))
        #expect(error.code == .queryBudget)
        #expect(error.exitCode == 34)
    }

    @Test("the default budget reads the fixtures with a wide margin (steps per byte of the file)")
    func defaultBudgetMargin() throws {
        // Every query the reader runs, on every generated fixture, with no base allowance and a tenth of
        // the default's steps per byte: a real collection never comes near the budget.
        var tight = ForeignDatabase.Budget.default
        tight.baseSteps = 0
        tight.stepsPerByte /= 10
        var limits = ReaderLimits.default
        limits.queryBudget = tight
        for file in Paths.files(in: Paths.generated, extensions: ["apkg", "colpkg"]) {
            let collection = try AnkiCollection.open(file, limits: limits)
            defer { collection.close() }
            try collection.validate()
            try collection.startIntegrityCheck(checkValueTypes: true).wait()
            _ = try collection.counts()
            try collection.forEachNote { _ in }
            try collection.forEachCard { _ in }
            try collection.forEachReview { _ in }
        }
    }
}
