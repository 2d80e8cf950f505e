import AnkiSubmission
import Foundation
import Testing

@testable import AnkiResearch

/// The endpoint under load from a second process (`wrk`, Debian package, installed by `make test`),
/// on loopback only, bounded in time.
@Suite("research serve-withdrawals under load", .serialized)
struct LoadTests {
    static let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Starts `anki-submit research serve-withdrawals --port 0` and returns it with the port it printed.
    static func startServer(journal: URL, extra: [String]) throws -> (Process, Int) {
        let (process, out, _) = CLI.process(["research", "serve-withdrawals", "--journal", journal.path, "--port", "0"] + extra)
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let chunk = readSome(out.fileHandleForReading.fileDescriptor)
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if let range = text.range(of: #"http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression) {
                let port = Int(text[range].split(separator: ":").last!.dropLast())!
                return (process, port)
            }
        }
        process.terminate()
        throw StartFailed(output: text)
    }

    struct StartFailed: Error, CustomStringConvertible {
        let output: String
        var description: String { "the server did not start: \(output)" }
    }

    /// Runs wrk against `port` with a Lua script that posts valid and malformed tokens and writes
    /// every status (and each receipt) to one file per wrk thread.
    static func runWrk(port: Int, folder: URL, tokens: [String], threads: Int, connections: Int, seconds: Int) throws -> [String] {
        let script = folder.appendingPathComponent("withdrawals.lua")
        let list = tokens.map { "\"\($0)\"" }.joined(separator: ", ")
        try """
            local tokens = { \(list) }
            local out = "\(folder.path)"
            local counter = 0
            function setup(thread)
              counter = counter + 1
              thread:set("id", counter)
            end
            function init(args)
              n = 0
              f = io.open(out .. "/statuses-" .. id .. ".txt", "w")
            end
            function request()
              n = n + 1
              local token
              if n % 5 == 0 then token = "ABCD-EFGH-0000" else token = tokens[(n % #tokens) + 1] end
              return wrk.format("POST", "/withdrawals", { ["Content-Type"] = "application/json" },
                                '{"token":"' .. token .. '"}')
            end
            function response(status, headers, body)
              if status == 202 then
                f:write("202 ", body:match('"receipt":"(W%-[%w%-]+)"') or "?", "\\n")
              else
                f:write(status, "\\n")
              end
              f:flush()
            end
            """.write(to: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrk!)
        process.arguments = ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--timeout", "5s", "-s", script.path,
                             "http://127.0.0.1:\(port)/withdrawals"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        var lines: [String] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasPrefix("statuses-") {
            lines += try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8).split(separator: "\n").map(String.init)
            try FileManager.default.removeItem(at: folder.appendingPathComponent(file))
        }
        return lines
    }

    @Test("wrk from a second process: every 202 is in the journal, malformed tokens get 400, nothing else",
          .enabled(if: wrk != nil, "wrk is missing: `make test` installs it (apt package wrk)"),
          .timeLimit(.minutes(3)))
    func loadWithoutRateLimit() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let (server, port) = try Self.startServer(journal: ws.journal, extra: ["--rate-limit", "100000000", "--burst", "1000000"])
        defer { if server.isRunning { server.terminate() } }
        let tokens = (0..<20).map { _ in WithdrawalToken.generate().text }
        let lines = try Self.runWrk(port: port, folder: ws.root, tokens: tokens, threads: 2, connections: 32, seconds: 3)
        let accepted = lines.filter { $0.hasPrefix("202 ") }.map { String($0.dropFirst(4)) }
        let rejected = lines.filter { $0 == "400" }
        report("wrk, 2 threads, 32 connections, 3 s: \(accepted.count) accepted (202), \(rejected.count) malformed (400), "
              + "\(lines.count - accepted.count - rejected.count) other")
        #expect(accepted.count >= 200, "only \(accepted.count) requests accepted in 3 s")
        #expect(rejected.count >= accepted.count / 8)
        #expect(lines.count == accepted.count + rejected.count, "unexpected statuses: \(Set(lines.filter { !$0.hasPrefix("202") && $0 != "400" }))")
        // Stop the server (Ctrl-C): it drains and exits cleanly.
        server.interrupt()
        server.waitUntilExit()
        #expect(server.terminationStatus == 0)
        let journal = try WithdrawalJournal.read(ws.journal, from: 0)
        #expect(journal.records.allSatisfy { $0.record != nil }, "no damaged line")
        let journaled = Set(journal.records.compactMap { $0.record?.receipt })
        #expect(Set(accepted).isSubset(of: journaled), "\(Set(accepted).subtracting(journaled).count) accepted requests missing")
        #expect(Set(accepted).count == accepted.count, "receipts are unique")
        let hashes = Set(tokens.map(WithdrawalToken.sha256Hex))
        #expect(journal.records.allSatisfy { hashes.contains($0.record!.tokenSHA256) })
    }

    @Test("with the default rate limit, a flood from one client gets 429 after its burst, and nothing is lost",
          .enabled(if: wrk != nil, "wrk is missing: `make test` installs it (apt package wrk)"),
          .timeLimit(.minutes(3)))
    func loadWithRateLimit() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let (server, port) = try Self.startServer(journal: ws.journal, extra: [])
        defer { if server.isRunning { server.terminate() } }
        let tokens = (0..<5).map { _ in WithdrawalToken.generate().text }
        let lines = try Self.runWrk(port: port, folder: ws.root, tokens: tokens, threads: 1, connections: 4, seconds: 2)
        let accepted = lines.filter { $0.hasPrefix("202 ") }.map { String($0.dropFirst(4)) }
        let limited = lines.filter { $0 == "429" }
        report("wrk with the default limit, 2 s: \(accepted.count) accepted, \(limited.count) rate-limited (429)")
        #expect(accepted.count + lines.filter { $0 == "400" }.count <= 6, "burst 5, plus at most one refill in 2 s")
        #expect(limited.count > 100)
        server.interrupt()
        server.waitUntilExit()
        let journaled = Set(try WithdrawalJournal.read(ws.journal, from: 0).records.compactMap { $0.record?.receipt })
        #expect(Set(accepted).isSubset(of: journaled))
    }
}

/// Figures a test wants in the log (stderr is unbuffered, so they survive however the run ends).
func report(_ line: String) {
    FileHandle.standardError.write(Data(("  " + line + "\n").utf8))
}
