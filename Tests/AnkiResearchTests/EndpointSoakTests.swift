import AnkiSubmission
import Foundation
import Testing

@testable import AnkiResearch

/// Flags and counters shared between the test and its helper threads.
final class SoakState: @unchecked Sendable {
    private let lock = NSLock()
    private var _stop = false
    private var _port = 0
    private var _health: [Int: Int] = [:]

    var stop: Bool {
        get { lock.lock(); defer { lock.unlock() }; return _stop }
        set { lock.lock(); _stop = newValue; lock.unlock() }
    }
    var port: Int {
        get { lock.lock(); defer { lock.unlock() }; return _port }
        set { lock.lock(); _port = newValue; lock.unlock() }
    }
    func sawHealth(_ status: Int) { lock.lock(); _health[status, default: 0] += 1; lock.unlock() }
    var health: [Int: Int] { lock.lock(); defer { lock.unlock() }; return _health }
}

/// The endpoint as it runs for real, bounded to about 35 s (alone): the built binary under `wrk` (valid and
/// malformed tokens) while the journal's disk (a 4 MiB tmpfs) fills and empties twice a second, killed
/// with SIGKILL and restarted every few seconds. Every 202 a client got must then be applied by
/// `research withdraw`, once.
@Suite("research serve-withdrawals: soak on a filling disk with kill -9", .serialized)
struct EndpointSoakTests {
    static let enabled = Tmpfs.permitted && LoadTests.wrk != nil
    static let skip: Comment = Tmpfs.permitted
        ? "wrk is missing: `make test` installs it (apt package wrk)"
        : "mounting a tmpfs is not permitted here (needs root): the soak test is skipped"

    static func script(folder: URL, cycle: Int, tokens: [String]) throws -> URL {
        let url = folder.appendingPathComponent("soak-\(cycle).lua")
        let list = tokens.map { "\"\($0)\"" }.joined(separator: ", ")
        try """
            local tokens = { \(list) }
            local out = "\(folder.path)/soak-\(cycle)-"
            local counter = 0
            function setup(thread)
              counter = counter + 1
              thread:set("id", counter)
            end
            function init(args)
              n = 0
              f = io.open(out .. id .. ".txt", "w")
            end
            function request()
              n = n + 1
              local token
              if n % 4 == 0 then token = "ABCD-EFGH-0000" elseif n % 7 == 0 then token = "" else token = tokens[(n % #tokens) + 1] end
              return wrk.format("POST", "/withdrawals", { ["Content-Type"] = "application/json" }, '{"token":"' .. token .. '"}')
            end
            function response(status, headers, body)
              if status == 202 then
                f:write("202 ", body:match('"receipt":"(W%-[%w%-]+)"') or "?", "\\n")
              else
                f:write(status, "\\n")
              end
              f:flush()
            end
            """.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test("every 202 is applied by withdraw, once, through disk-full spells and kill -9",
          .enabled(if: enabled, skip), .timeLimit(.minutes(3)))
    func soak() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        _ = try ws.ingest()   // an empty dataset and its key
        let fs = try Tmpfs(size: "4m")
        defer { fs.unmount() }
        let journal = fs.dir.appendingPathComponent("withdrawals.journal")
        let tokens = (0..<30).map { _ in WithdrawalToken.generate().text }
        let serverArgs = ["--rate-limit", "30000", "--burst", "100"]
        let state = SoakState()

        // The disk fills and empties, and a second client watches /health, until the test says stop.
        let filler = Thread {
            while !state.stop {
                fs.fill()
                usleep(400_000)
                fs.free()
                usleep(300_000)
            }
            fs.free()
        }
        let watcher = Thread {
            while !state.stop {
                if state.port > 0, let status = RawTCP.request(port: state.port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
                                                               timeout: 2).status {
                    state.sawHealth(status)
                }
                usleep(50_000)
            }
        }
        // The first start creates the journal before the disk fills.
        var (server, port) = try EndpointConnectionTests.start(journal, serverArgs)
        filler.start()
        watcher.start()
        let started = Date()
        var cycle = 0
        var kills = 0
        while Date().timeIntervalSince(started) < 25 {
            state.port = port
            let wrk = Process()
            wrk.executableURL = URL(fileURLWithPath: LoadTests.wrk!)
            wrk.arguments = ["-t2", "-c8", "-d3s", "--timeout", "2s", "-s",
                             try Self.script(folder: ws.root, cycle: cycle, tokens: tokens).path,
                             "http://127.0.0.1:\(port)/withdrawals"]
            wrk.standardOutput = FileHandle.nullDevice
            wrk.standardError = FileHandle.nullDevice
            try wrk.run()
            usleep(UInt32.random(in: 1_000_000...2_500_000))
            kill(server.processIdentifier, SIGKILL)   // no cleanup of any kind
            server.waitUntilExit()
            kills += 1
            wrk.waitUntilExit()
            cycle += 1
            // Restart, whatever the disk holds now.
            var restarted: (Process, Int)?
            for _ in 0..<20 where restarted == nil {
                restarted = try? EndpointConnectionTests.start(journal, serverArgs)
                if restarted == nil { usleep(100_000) }
            }
            (server, port) = try #require(restarted, "the endpoint did not restart")
        }
        state.stop = true
        while filler.isExecuting || watcher.isExecuting { usleep(10_000) }
        // Space is back: the endpoint recovers by itself.
        let last = RawTCP.post(port: port, token: tokens[0])
        #expect(last.status == 202, "no recovery once space returned")
        server.interrupt()
        server.waitUntilExit()

        var lines: [String] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: ws.root.path)
        where file.hasPrefix("soak-") && file.hasSuffix(".txt") {
            lines += try String(contentsOf: ws.root.appendingPathComponent(file), encoding: .utf8)
                .split(separator: "\n").map(String.init)
        }
        var receipts = lines.filter { $0.hasPrefix("202 ") }.map { String($0.dropFirst(4)) }
        if last.status == 202, let object = try? JSONSerialization.jsonObject(with: Data(last.body.utf8)) as? [String: String],
           let receipt = object["receipt"] {
            receipts.append(receipt)
        }
        var statuses: [String: Int] = [:]
        for line in lines { statuses[String(line.prefix(3)), default: 0] += 1 }
        report("soak: \(cycle) cycles, \(kills) kill -9, statuses " + statuses.sorted { $0.key < $1.key }
            .map { "\($0.key)×\($0.value)" }.joined(separator: " ") + "; /health " + state.health.sorted { $0.key < $1.key }
            .map { "\($0.key)×\($0.value)" }.joined(separator: " "))
        #expect(Set(statuses.keys).isSubset(of: ["202", "400", "429", "503"]), "unexpected statuses")
        #expect(receipts.count >= 50, "too few requests accepted to say anything")
        #expect(statuses["503", default: 0] > 0, "the disk never filled: the test did not test")
        #expect(Set(state.health.keys).isSubset(of: [200, 503]))
        #expect(state.health[503, default: 0] > 0 && state.health[200, default: 0] > 0)

        // Apply: every receipt a client got is in the report, none twice, no damaged line.
        let applied = try CLI.run(["research", "withdraw", "--dataset", ws.dataset.path, "--key-file", ws.key.path,
                                   "--journal", journal.path, "--json"])
        #expect(applied.status == 0, "\(applied.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(applied.stdout.utf8)) as? [String: Any])
        let requests = (object["requests"] as? [[String: Any]] ?? []).compactMap { $0["receipt"] as? String }
        #expect(object["damaged_lines"] as? Int == 0)
        #expect(Set(requests).count == requests.count, "a record applied twice")
        let missing = Set(receipts).subtracting(requests)
        #expect(missing.isEmpty, "\(missing.count) of \(receipts.count) receipts answered 202 were not applied")
        #expect(Set(receipts).count == receipts.count)
        let again = try CLI.run(["research", "withdraw", "--dataset", ws.dataset.path, "--key-file", ws.key.path,
                                 "--journal", journal.path, "--json"])
        let second = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
        #expect(second?["applied"] as? Int == 0, "a second run applied something again")
    }
}
