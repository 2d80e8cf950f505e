import Foundation
import GRDB
import Testing

@testable import AnkiResearch

/// Submissions built to crash, stall or fool the audit and ingest (issue 16, parts 2, 5 and 8). The
/// binary runs with a time limit, so a hang fails the test instead of stalling the suite.
@Suite("Hostile submissions: audit and ingest")
struct HostileSubmissionTests {
    /// `ANKI_SUBMIT_TEST_BINARY` runs these tests against another build (to see them fail on an old one).
    static let binary = ProcessInfo.processInfo.environment["ANKI_SUBMIT_TEST_BINARY"] ?? CLI.binary.path

    /// A copy of the prepared Berlin submission changed by `steps`, each on a fresh connection (a
    /// schema edited through `writable_schema` takes effect on the next one).
    static func tampered(_ folder: URL, _ name: String, _ steps: [String]) throws -> URL {
        let file = folder.appendingPathComponent(name)
        try FileManager.default.copyItem(at: try Submissions.named("berlin").url, to: file)
        var config = Configuration()
        config.foreignKeysEnabled = false
        for step in steps {
            let queue = try DatabaseQueue(path: file.path, configuration: config)
            try queue.writeWithoutTransaction { try $0.execute(sql: step) }
            try queue.close()
        }
        return file
    }

    /// Gives a column a type the schema forbids while keeping the schema's text: the definition is
    /// loosened, the value written, and the text put back.
    static func loosened(_ table: String, _ from: String, _ to: String, then change: String) -> [String] {
        let edit = { (a: String, b: String) in
            """
            PRAGMA writable_schema = ON;
            UPDATE sqlite_master SET sql = replace(sql, '\(a)', '\(b)') WHERE name = '\(table)';
            PRAGMA writable_schema = OFF;
            """
        }
        return [edit(from, to), change, edit(to, from)]
    }

    static let cases: [(name: String, steps: [String])] = [
        // Part 5: values the audit read with a trapping conversion.
        ("manifest-blob.sqlite", ["UPDATE manifest SET value = x'00ff41' WHERE key = 'domain'"]),
        ("manifest-null.sqlite", loosened("manifest", "value TEXT NOT NULL", "value TEXT",
                                          then: "UPDATE manifest SET value = NULL WHERE key = 'domain'")),
        ("notes-id-text.sqlite", [
            """
            PRAGMA writable_schema = ON;
            UPDATE sqlite_master SET sql = replace(sql, 'id      INTEGER PRIMARY KEY,', 'id      INTEGER,') WHERE name = 'notes';
            PRAGMA writable_schema = OFF;
            """,
            "UPDATE notes SET id = 'seven' WHERE rowid = 1",
        ]),
        ("note-text-as-number.sqlite", loosened("notes", "created INTEGER NOT NULL", "created",
                                                then: "UPDATE notes SET created = 'Anna' WHERE rowid = 1")),
        // Part 8: names SQLite does not reserve (`sqliteX…`), and data in the statistics table.
        ("sqlitex-table.sqlite", ["CREATE TABLE sqliteXnotes (flds TEXT); INSERT INTO sqliteXnotes VALUES ('Anna Schmidt')"]),
        ("sqlitex-view.sqlite", ["CREATE VIEW sqliteXview AS SELECT flds FROM notes"]),
        ("sqlitex-trigger.sqlite", ["CREATE TRIGGER sqliteXtrigger AFTER INSERT ON notes BEGIN SELECT 1; END"]),
        ("sqlite-stat1.sqlite", ["ANALYZE", "INSERT INTO sqlite_stat1 VALUES ('notes', NULL, 'Anna Schmidt, Berlin')"]),
    ]

    @Test("anki-submit audit reports findings (exit 1), never crashes or passes the file",
          arguments: cases.map(\.name))
    func audit(_ name: String) throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = try Self.tampered(folder, name, Self.cases.first { $0.name == name }!.steps)
        let result = try bounded([Self.binary, "audit", file.path], timeout: 60)
        #expect(!result.timedOut)
        #expect(!result.signalled && result.status == 1, "exit \(result.status) (signal: \(result.signalled)): \(result.stderr)")
        #expect(result.stdout.contains("finding(s)"), "\(result.stdout)")
        #expect(!result.stdout.contains("Anna"), "findings never quote the file's values")
    }

    @Test("a recursive VIEW as the manifest: ingest quarantines it and finishes (exit 70); the lock is free again")
    func recursiveManifest() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let prepared = try ws.add(["newyork"])
        _ = try Self.tampered(ws.inbox, "endless-manifest.sqlite", ["""
            DROP TABLE manifest;
            CREATE VIEW manifest (key, value) AS
              WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT 'key' || n, 'value' FROM r;
            """])
        let result = try bounded([Self.binary, "research", "ingest", ws.inbox.path, "--dataset", ws.dataset.path,
                                  "--key-file", ws.key.path], timeout: 60)
        #expect(!result.timedOut, "ingest did not stop within 60 s")
        #expect(result.status == 70, "exit \(result.status): \(result.stderr)")
        #expect(result.stdout.contains("endless-manifest.sqlite: unexpected tables or columns"), "\(result.stdout)")
        // The dataset is no longer locked: withdraw runs.
        let withdraw = try bounded([Self.binary, "research", "withdraw", "--dataset", ws.dataset.path,
                                    "--key-file", ws.key.path, "--token", prepared[0].token], timeout: 60)
        #expect(withdraw.status == 0, "withdraw: exit \(withdraw.status): \(withdraw.stderr)")
    }

    @Test("ingest quarantines the audit's cases with their reasons and ingests nothing of them")
    func ingestQuarantines() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        for (name, steps) in Self.cases { _ = try Self.tampered(ws.inbox, name, steps) }
        let summary = try ws.ingest()
        #expect(summary.ingested.isEmpty)
        #expect(summary.quarantined.count == Self.cases.count)
        var reasons: [String: String] = [:]
        for r in summary.results { reasons[r.file] = r.category }
        #expect(reasons["manifest-null.sqlite"] == Rejection.Category.values.rawValue)
        #expect(reasons["note-text-as-number.sqlite"] == Rejection.Category.values.rawValue)
        #expect(reasons["sqlite-stat1.sqlite"] == Rejection.Category.schema.rawValue)
        #expect(reasons["sqlitex-view.sqlite"] == Rejection.Category.schema.rawValue)
        for r in summary.quarantined { #expect(!r.detail.contains("Anna")) }
    }

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-submission-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

struct Bounded {
    var status: Int32
    var signalled: Bool
    var timedOut: Bool
    var stdout: String
    var stderr: String
}

/// Runs `arguments` (the first is the program) with output to files, killing it after `timeout` seconds.
func bounded(_ arguments: [String], timeout: Double) throws -> Bounded {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bounded-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("out"), errURL = scratch.appendingPathComponent("err")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    let timedOut = process.isRunning
    if timedOut { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return Bounded(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                   timedOut: timedOut, stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
}
