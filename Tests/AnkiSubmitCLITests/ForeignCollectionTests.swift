import Foundation
import Testing

/// Collections built to stall the reader (issue 16, part 9): a recursive view where Anki has a table,
/// a pipe where SQLite looks for the `-wal`. Each command must stop by itself with its documented exit
/// code; the binary runs with a time limit, so a hang fails the test instead of stalling the suite.
@Suite("Foreign collections: views and pipes do not stall the reader")
struct ForeignCollectionTests {
    /// `ANKI_SUBMIT_TEST_BINARY` runs these tests against another build (to see them fail on an old one).
    static let binary = ProcessInfo.processInfo.environment["ANKI_SUBMIT_TEST_BINARY"].map(URL.init(fileURLWithPath:))
        ?? CLI.binary

    /// A schema-18 bare collection unpacked from the Berlin `.apkg` with `unzip` and `zstd`.
    static func modernCollection(in folder: URL) throws -> URL {
        let bare = folder.appendingPathComponent("collection.anki2")
        let package = CLI.generated.appendingPathComponent("berlin-latest.apkg").path
        let unpacked = try bounded(["/bin/sh", "-c", "unzip -p '\(package)' collection.anki21b | zstd -q -d -o '\(bare.path)'"],
                                   timeout: 60)
        #expect(unpacked.status == 0, "unzip/zstd: \(unpacked.stderr)")
        return bare
    }

    /// Runs `sqlite3` on `file` with `script` (a change that needs no `unicase` collation, which the
    /// shell does not have: dropping a table does not, renaming one does).
    static func sqlite(_ file: URL, _ script: String) throws {
        let result = try bounded(["/usr/bin/env", "sqlite3", file.path, script], timeout: 60)
        #expect(result.status == 0, "sqlite3: \(result.stderr)")
    }

    static let recursiveFields = """
        DROP TABLE fields;
        CREATE VIEW fields (ntid, ord, name) AS
          WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n, n, 'field' FROM r;
        """

    @Test("`fields` as an endless recursive view: inspect, scan and prepare stop with exit 25",
          arguments: ["inspect", "scan", "prepare"])
    func recursiveFieldsView(_ command: String) throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let bare = try Self.modernCollection(in: cli.cwd)
        try Self.sqlite(bare, Self.recursiveFields)
        var arguments = [command, bare.path]
        if command == "prepare" {
            arguments += ["--review", "none", "--out", cli.cwd.appendingPathComponent("out").path,
                          "--timezone", "Europe/Berlin", "--language", "de", "--consent-public", "yes",
                          "--confirm-special-categories"]
        }
        let result = try Self.bounded([Self.binary.path] + arguments, timeout: 60, tmpdir: cli.temp)
        #expect(!result.timedOut, "\(command) did not stop within 60 s")
        #expect(result.status == 25, "\(command): exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("fields"), "the message names the table: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cli.cwd.appendingPathComponent("out").path)
                || ((try? FileManager.default.contentsOfDirectory(atPath: cli.cwd.appendingPathComponent("out").path)) ?? []).isEmpty)
    }

    @Test("a pipe named as the -wal beside a bare collection is refused (exit 11), not waited on",
          arguments: ["inspect", "prepare"])
    func fifoAsWAL(_ command: String) throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let bare = cli.cwd.appendingPathComponent("collection.anki2")
        let package = CLI.generated.appendingPathComponent("berlin-legacy2.colpkg").path
        let unpacked = try Self.bounded(["/bin/sh", "-c", "unzip -p '\(package)' collection.anki2 > '\(bare.path)'"], timeout: 60)
        #expect(unpacked.status == 0)
        #expect(mkfifo(bare.path + "-wal", 0o600) == 0)
        var arguments = [command, bare.path]
        if command == "prepare" {
            arguments += ["--review", "none", "--out", cli.cwd.appendingPathComponent("out").path,
                          "--timezone", "Europe/Berlin", "--language", "de", "--consent-public", "yes",
                          "--confirm-special-categories"]
        }
        let result = try Self.bounded([Self.binary.path] + arguments, timeout: 60, tmpdir: cli.temp)
        #expect(!result.timedOut, "\(command) did not stop within 60 s")
        #expect(result.status == 11, "\(command): exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("-wal"), "the message names the -wal file: \(result.stderr)")
        #expect(result.leftInTemp.isEmpty, "no working copy may be left: \(result.leftInTemp)")
    }

    struct Bounded {
        var status: Int32
        var timedOut: Bool
        var stdout: String
        var stderr: String
        var leftInTemp: [String]
    }

    /// Runs `arguments` (the first is the program) with output to files, killing it after `timeout`
    /// seconds.
    static func bounded(_ arguments: [String], timeout: Double, tmpdir: URL? = nil) throws -> Bounded {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bounded-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out"), errURL = scratch.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        var environment = ProcessInfo.processInfo.environment
        if let tmpdir { environment["TMPDIR"] = tmpdir.path }
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        let timedOut = process.isRunning
        if timedOut { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let left = tmpdir.map { ((try? FileManager.default.subpathsOfDirectory(atPath: $0.path)) ?? []).sorted() } ?? []
        return Bounded(status: process.terminationStatus, timedOut: timedOut,
                       stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "", leftInTemp: left)
    }
}
