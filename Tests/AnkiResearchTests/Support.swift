import Foundation
import GRDB
import Testing

@testable import AnkiResearch

/// Runs the built `anki-submit` binary (pattern of Tests/AnkiSubmitCLITests/CLITestSupport.swift):
/// the one beside the test bundle (same scratch path), else `.build/debug`.
enum CLI {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let generated = root.appendingPathComponent("Tests/Fixtures/generated")

    static let binary: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("anki-submit")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return root.appendingPathComponent(".build/debug/anki-submit")
    }()

    struct Result {
        var status: Int32
        var signalled: Bool
        var stdout: String
        var stderr: String
    }

    static func process(_ arguments: [String], environment extra: [String: String] = [:], cwd: URL? = nil) -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let cwd { process.currentDirectoryURL = cwd }
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in extra { environment[k] = v }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        return (process, out, err)
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let (process, out, err) = process(arguments, environment: environment)
        try process.run()
        // Read both pipes concurrently so neither can fill up and block the child. Plain read(2) with
        // EINTR retried: Foundation's FileHandle traps when a child's SIGCHLD interrupts a read.
        let errData = LockedData()
        let errFD = err.fileHandleForReading.fileDescriptor
        let reader = Thread { errData.set(readAll(errFD)) }
        reader.start()
        let stdout = readAll(out.fileHandleForReading.fileDescriptor)
        process.waitUntilExit()
        while !errData.isSet { usleep(1000) }
        return Result(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                      stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: errData.value, as: UTF8.self))
    }
}

/// Reads a descriptor to its end, retrying interrupted reads.
func readAll(_ fd: Int32) -> Data {
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        data.append(contentsOf: buffer[0..<n])
    }
    return data
}

/// Reads what is available now (blocking until at least one byte or the end), retrying EINTR.
func readSome(_ fd: Int32) -> Data {
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n < 0 && errno == EINTR { continue }
        return n > 0 ? Data(buffer[0..<n]) : Data()
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return data != nil }
    var value: Data { lock.lock(); defer { lock.unlock() }; return data ?? Data() }
}

/// A submission made by `anki-submit prepare --review none` from a committed fixture.
struct Prepared: Sendable {
    let name: String
    let url: URL
    let token: String
    let consent: Bool
    let languages: [String]
}

/// Four real submissions, prepared once per test run and copied by each test that needs them.
enum Submissions {
    static let specs: [(name: String, fixture: String, consent: Bool, languages: [String], zone: String)] = [
        ("berlin", "berlin-latest.apkg", true, ["de", "en"], "Europe/Berlin"),
        ("newyork", "newyork-latest.apkg", false, ["en"], "America/New_York"),
        ("auckland", "auckland-latest.apkg", true, ["en", "fr"], "Pacific/Auckland"),
        ("legacy", "berlin-legacy2.apkg", true, ["ja"], "Europe/Berlin"),
    ]

    static let folder: URL = {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("anki-research-fixtures-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static let all: Swift.Result<[Prepared], PrepareFailed> = {
        var out: [Prepared] = []
        for spec in specs {
            let dir = folder.appendingPathComponent(spec.name)
            try? FileManager.default.removeItem(at: dir)
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            var args = ["prepare", CLI.generated.appendingPathComponent(spec.fixture).path, "--review", "none",
                        "--out", dir.path, "--consent-public", spec.consent ? "yes" : "no",
                        "--timezone", spec.zone, "--domain", "medicine", "--json", "--confirm-special-categories"]
            for l in spec.languages { args += ["--language", l] }
            guard let result = try? CLI.run(args), result.status == 0,
                  let object = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any],
                  let submission = object["submission"] as? String, let tokenFile = object["token_file"] as? String,
                  let tokenText = try? String(contentsOfFile: tokenFile, encoding: .utf8),
                  let token = tokenText.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) })
                    .first(where: { $0.count == 34 && $0.filter({ $0 == "-" }).count == 6 })
            else {
                return .failure(PrepareFailed(description: "prepare failed for \(spec.fixture)"))
            }
            // Keep only the submission in the folder: the token file is the participant's.
            let moved = folder.appendingPathComponent("\(spec.name).sqlite")
            try? FileManager.default.removeItem(at: moved)
            try? FileManager.default.moveItem(atPath: submission, toPath: moved.path)
            try? FileManager.default.removeItem(at: dir)
            out.append(Prepared(name: spec.name, url: moved, token: token, consent: spec.consent, languages: spec.languages))
        }
        return .success(out)
    }()

    struct PrepareFailed: Error, CustomStringConvertible { let description: String }

    static func get() throws -> [Prepared] { try all.get() }

    static func named(_ name: String) throws -> Prepared { try get().first { $0.name == name }! }
}

/// A fresh folder per test: submissions, dataset, key, journal.
struct Workspace {
    let root: URL
    var inbox: URL { root.appendingPathComponent("inbox") }
    var dataset: URL { root.appendingPathComponent("dataset.sqlite") }
    var key: URL { root.appendingPathComponent("keys/researcher.key") }
    var journal: URL { root.appendingPathComponent("withdrawals.journal") }

    init() throws {
        root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("anki-research-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("inbox"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("keys"), withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: root) }

    /// Copies prepared submissions into the inbox (optionally under a sub-folder).
    @discardableResult
    func add(_ names: [String], under sub: String = "") throws -> [Prepared] {
        let dir = sub.isEmpty ? inbox : inbox.appendingPathComponent(sub)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var out: [Prepared] = []
        for name in names {
            let p = try Submissions.named(name)
            try FileManager.default.copyItem(at: p.url, to: dir.appendingPathComponent("\(name).sqlite"))
            out.append(p)
        }
        return out
    }

    /// A modified copy of a prepared submission in the inbox.
    func tampered(_ base: String, as name: String, _ change: (Database) throws -> Void) throws {
        let target = inbox.appendingPathComponent(name)
        try FileManager.default.copyItem(at: try Submissions.named(base).url, to: target)
        let queue = try DatabaseQueue(path: target.path)
        try queue.writeWithoutTransaction { db in try change(db) }
        try queue.close()
    }

    func ingest(jobs: Int = 2) throws -> IngestSummary {
        var options = IngestOptions()
        options.jobs = jobs
        options.temporaryDirectory = root
        return try Ingest(dataset: dataset, keyFile: key, options: options).run(folder: inbox)
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        // Read-write connection (never writing): it rolls back a hot journal left by a killed run.
        let queue = try DatabaseQueue(path: dataset.path)
        defer { try? queue.close() }
        return try queue.read(body)
    }

    func count(_ table: String, participant: Int? = nil) throws -> Int {
        try read { db in
            if let participant {
                return try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table) WHERE participant = ?", arguments: [participant]) ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0
        }
    }
}

extension Data {
    func contains(text: String) -> Bool { range(of: Data(text.utf8)) != nil }
}
