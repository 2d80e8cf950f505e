import AnkiSubmission
import Foundation
import GRDB
import Testing

@testable import AnkiResearch

/// `research serve` as it runs for real: the built binary, started as a process, and curl as the client.
enum Intake {
    static let curl = ["/usr/bin/curl", "/bin/curl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A running `research serve`; stops (SIGTERM, then SIGKILL) when the test is done with it.
    final class Server {
        let process: Process
        let port: Int
        let output: String

        init(spool: URL, journal: URL, extra: [String] = []) throws {
            let (process, out, err) = CLI.process(["research", "serve", "--spool", spool.path, "--journal", journal.path,
                                                   "--port", "0"] + extra)
            try process.run()
            var text = ""
            let deadline = Date().addingTimeInterval(30)
            var found: Int?
            while Date() < deadline {
                let chunk = readSome(out.fileHandleForReading.fileDescriptor)
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
                if let range = text.range(of: #"http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression) {
                    found = Int(text[range].split(separator: ":").last!.dropLast())
                    break
                }
            }
            guard let found else {
                process.terminate()
                process.waitUntilExit()
                let errText = String(decoding: readAll(err.fileHandleForReading.fileDescriptor), as: UTF8.self)
                throw LoadTests.StartFailed(output: text + errText)
            }
            self.process = process
            self.port = found
            self.output = text
        }

        var base: String { "http://127.0.0.1:\(port)" }

        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func stop() {
            guard process.isRunning else { return }
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill9() } else { process.waitUntilExit() }
        }

        deinit { stop() }
    }

    struct Answer {
        var status: Int
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    /// POSTs `file` (or `data`) with curl; `extra` are further curl options.
    static func post(_ url: String, file: URL, type: String = "application/vnd.sqlite3", extra: [String] = []) throws -> Answer {
        let bodyFile = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("curl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: bodyFile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curl!)
        process.arguments = ["-s", "-o", bodyFile.path, "-w", "%{http_code}", "-X", "POST", "-H", "Content-Type: \(type)",
                             "--data-binary", "@\(file.path)", "--max-time", "60"] + extra + [url]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let status = readAll(out.fileHandleForReading.fileDescriptor)
        process.waitUntilExit()
        return Answer(status: Int(String(decoding: status, as: UTF8.self)) ?? 0,
                      body: (try? Data(contentsOf: bodyFile)) ?? Data())
    }

    static func post(_ url: String, data: Data, type: String = "application/vnd.sqlite3", extra: [String] = []) throws -> Answer {
        let file = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("body-\(UUID().uuidString)")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try post(url, file: file, type: type, extra: extra)
    }

    /// GETs `url` with curl; the body as text.
    static func get(_ url: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curl!)
        process.arguments = ["-s", "--max-time", "20", url]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = readAll(out.fileHandleForReading.fileDescriptor)
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Every name in the spool, hidden ones included.
    static func names(_ spool: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: spool.path)) ?? []).sorted()
    }

    static func sha256(_ url: URL) -> String { SubmissionCheck.sha256(of: url)! }
}

@Suite("research serve: submissions into the spool", .serialized)
struct IntakeServerTests {
    static let enabled = Intake.curl != nil
    static let skip: Comment = "curl is missing: `make test` installs it (apt package curl)"

    @Test("an upload is answered 202 with a receipt; the same bytes again get 200, the same receipt and no second file; ingest takes the spool",
          .enabled(if: enabled, skip), .timeLimit(.minutes(2)))
    func acceptRetryIngest() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let spool = ws.root.appendingPathComponent("spool")
        let server = try Intake.Server(spool: spool, journal: ws.journal)
        defer { server.stop() }
        #expect(server.output.contains("http://127.0.0.1:\(server.port)/"))
        let berlin = try Submissions.named("berlin")

        let first = try Intake.post(server.base + "/submissions", file: berlin.url)
        #expect(first.status == 202)
        let sha = Intake.sha256(berlin.url)
        #expect(first.json["sha256"] as? String == sha)
        #expect((first.json["bytes"] as? NSNumber)?.int64Value == Int64(try Data(contentsOf: berlin.url).count))
        let receipt = try #require(first.json["receipt"] as? String)
        #expect(receipt.count == 19)
        #expect(Intake.names(spool) == ["\(sha).sqlite"])
        #expect(Intake.sha256(spool.appendingPathComponent("\(sha).sqlite")) == sha)

        let again = try Intake.post(server.base + "/submissions", file: berlin.url, type: "application/octet-stream")
        #expect(again.status == 200)
        #expect(again.json["receipt"] as? String == receipt)
        #expect(Intake.names(spool) == ["\(sha).sqlite"])

        let newyork = try Submissions.named("newyork")
        let second = try Intake.post(server.base + "/submissions", file: newyork.url)
        #expect(second.status == 202)
        #expect(second.json["receipt"] as? String != receipt)
        #expect(Intake.names(spool).count == 2)

        // The withdrawal routes of the same server, as `serve-withdrawals` had them.
        let health = try Intake.post(server.base + "/withdrawals", data: Data("{\"token\": \"\(berlin.token)\"}".utf8),
                                     type: "application/json")
        #expect(health.status == 202)

        // The researcher ingests the spool as it is.
        let result = try CLI.run(["research", "ingest", spool.path, "--dataset", ws.dataset.path,
                                  "--key-file", ws.key.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(summary["ingested"] as? Int == 2)
        #expect(summary["quarantined"] as? Int == 0)
    }

    @Test("a body that is not a submission gets 4xx and leaves nothing in the spool",
          .enabled(if: enabled, skip), .timeLimit(.minutes(2)))
    func junk() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let spool = ws.root.appendingPathComponent("spool")
        let server = try Intake.Server(spool: spool, journal: ws.journal)
        defer { server.stop() }
        let url = server.base + "/submissions"

        var random = SystemRandomNumberGenerator()
        let noise = Data((0..<100_000).map { _ in UInt8.random(in: 0...255, using: &random) })
        #expect(try Intake.post(url, data: noise).status == 422)
        #expect(try Intake.post(url, data: Data("SQLite format 3\u{0}".utf8) + noise).status == 422)
        #expect(try Intake.post(url, data: Data()).status == 400)
        #expect(try Intake.post(url, data: noise, type: "text/plain").status == 415)

        // Real SQLite files that are not submissions: another schema version, an extra table, an empty database.
        try ws.tampered("berlin", as: "version.sqlite") { db in
            try db.execute(sql: "UPDATE manifest SET value = '99' WHERE key = 'schema_version'")
        }
        let version = try Intake.post(url, file: ws.inbox.appendingPathComponent("version.sqlite"))
        #expect(version.status == 422)
        #expect(version.json["reason"] as? String == Rejection.Category.schemaVersion.rawValue)
        try ws.tampered("berlin", as: "extra.sqlite") { db in try db.execute(sql: "CREATE TABLE secrets (x)") }
        let extra = try Intake.post(url, file: ws.inbox.appendingPathComponent("extra.sqlite"))
        #expect(extra.status == 422)
        #expect(extra.json["reason"] as? String == Rejection.Category.schema.rawValue)
        try ws.tampered("berlin", as: "counts.sqlite") { db in
            try db.execute(sql: "UPDATE manifest SET value = '1' WHERE key = 'count_notes'")
        }
        #expect(try Intake.post(url, file: ws.inbox.appendingPathComponent("counts.sqlite")).status == 422)
        let empty = ws.root.appendingPathComponent("empty.sqlite")
        try DatabaseQueue(path: empty.path).write { db in try db.execute(sql: "CREATE TABLE t (x)") }
        #expect(try Intake.post(url, file: empty).status == 422)

        #expect(Intake.names(spool).isEmpty, "\(Intake.names(spool))")
        // The server is still fine.
        #expect(try Intake.post(url, file: try Submissions.named("auckland").url).status == 202)
    }

    @Test("a body over --max-upload gets 413 at once, announced or chunked, and leaves nothing",
          .enabled(if: enabled, skip), .timeLimit(.minutes(2)))
    func oversize() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let spool = ws.root.appendingPathComponent("spool")
        let server = try Intake.Server(spool: spool, journal: ws.journal, extra: ["--max-upload", "64K"])
        defer { server.stop() }
        let url = server.base + "/submissions"
        let big = Data(repeating: 0x41, count: 8 << 20)

        let start = Date()
        let announced = try Intake.post(url, data: big)
        #expect(announced.status == 413)
        let chunked = try Intake.post(url, data: big, extra: ["-H", "Transfer-Encoding: chunked"])
        #expect(chunked.status == 413)
        #expect(Date().timeIntervalSince(start) < 20)
        #expect(Intake.names(spool).isEmpty, "\(Intake.names(spool))")
        // A submission under the limit still goes in.
        let small = try Submissions.named("legacy")
        let size = try Data(contentsOf: small.url).count
        if size <= 64 * 1024 {
            #expect(try Intake.post(url, file: small.url).status == 202)
        }
    }

    @Test("kill -9 during an upload leaves nothing ingest picks up; the next start clears the remains",
          .enabled(if: enabled, skip), .timeLimit(.minutes(2)))
    func killDuringUpload() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let spool = ws.root.appendingPathComponent("spool")
        let server = try Intake.Server(spool: spool, journal: ws.journal)
        // A valid SQLite header, then a slow body: the server is killed while it arrives.
        let body = ws.root.appendingPathComponent("slow.bin")
        try (Data("SQLite format 3\u{0}".utf8) + Data(repeating: 7, count: 4 << 20)).write(to: body)
        let client = Process()
        client.executableURL = URL(fileURLWithPath: Intake.curl!)
        client.arguments = ["-s", "-o", "/dev/null", "-X", "POST", "-H", "Content-Type: application/vnd.sqlite3",
                            "--limit-rate", "256K", "--data-binary", "@\(body.path)", "--max-time", "30",
                            server.base + "/submissions"]
        try client.run()
        let deadline = Date().addingTimeInterval(10)
        while Intake.names(spool).isEmpty && Date() < deadline { usleep(50_000) }
        usleep(300_000)
        server.kill9()
        client.waitUntilExit()
        let left = Intake.names(spool)
        #expect(!left.isEmpty, "the upload had started")
        #expect(left.allSatisfy { $0.hasPrefix(".") && !$0.hasSuffix(".sqlite") }, "\(left)")

        let result = try CLI.run(["research", "ingest", spool.path, "--dataset", ws.dataset.path,
                                  "--key-file", ws.key.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(summary["ingested"] as? Int == 0)
        #expect(summary["quarantined"] as? Int == 0)

        let again = try Intake.Server(spool: spool, journal: ws.journal)
        defer { again.stop() }
        #expect(Intake.names(spool).isEmpty, "\(Intake.names(spool))")
    }

    @Test("uploads beyond the rate per client get 429 with Retry-After; /health covers the spool",
          .enabled(if: enabled, skip), .timeLimit(.minutes(1)))
    func rateLimitAndHealth() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let spool = ws.root.appendingPathComponent("spool")
        let server = try Intake.Server(spool: spool, journal: ws.journal,
                                       extra: ["--upload-rate-limit", "1", "--upload-burst", "2"])
        defer { server.stop() }
        #expect(try Intake.get(server.base + "/health").contains("\"ok\""))
        let url = server.base + "/submissions"
        let junk = Data(repeating: 3, count: 1000)
        #expect(try Intake.post(url, data: junk).status == 422)
        #expect(try Intake.post(url, data: junk).status == 422)
        let headers = ws.root.appendingPathComponent("headers.txt")
        let limited = try Intake.post(url, data: junk, extra: ["-D", headers.path])
        #expect(limited.status == 429)
        #expect((try String(contentsOf: headers, encoding: .utf8)).lowercased().contains("retry-after:"))
        // Withdrawals have their own budget.
        let withdrawal = try Intake.post(server.base + "/withdrawals",
                                         data: Data("{\"token\": \"\(WithdrawalToken.generate().text)\"}".utf8),
                                         type: "application/json")
        #expect(withdrawal.status == 202)
        // The spool's folder made read-only: /health says so (root writes anyway, so only when not root).
        if getuid() != 0 {
            chmod(spool.path, 0o500)
            defer { chmod(spool.path, 0o700) }
            #expect(try Intake.get(server.base + "/health").contains("spool"))
        }
        #expect(Intake.names(spool).isEmpty)
    }

    @Test("a spool that is a file, and a bad study profile, stop the server with their exit codes",
          .timeLimit(.minutes(1)))
    func startFailures() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let file = ws.root.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: file)
        let spool = try CLI.run(["research", "serve", "--spool", file.path, "--journal", ws.journal.path, "--port", "0"])
        #expect(spool.status == 71)
        #expect(spool.stderr.contains("not a folder"))
        let profile = ws.root.appendingPathComponent("study.json")
        try Data(#"{"format": "anki-submit-study", "version": 1, "nmae": "typo"}"#.utf8).write(to: profile)
        let study = try CLI.run(["research", "serve", "--spool", ws.root.appendingPathComponent("s").path,
                                 "--journal", ws.journal.path, "--port", "0", "--study", profile.path])
        #expect(study.status == 72)
        #expect(study.stderr.contains("unknown key"))
        #expect(study.stderr.contains("nmae"))
    }
}
