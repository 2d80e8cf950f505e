import AnkiSubmission
import Foundation
import Testing

@testable import AnkiResearch

/// The built endpoint (`anki-submit research serve-withdrawals`) against clients that hold
/// connections: idle ones, slow headers, slow bodies, more connections than it has descriptors.
@Suite("research serve-withdrawals: connection limits and timeouts", .serialized)
struct EndpointConnectionTests {
    /// Starts the endpoint under `sh` (for `ulimit`), returns it with its port.
    static func start(_ journal: URL, ulimit: Int? = nil, _ extra: [String]) throws -> (Process, Int) {
        let limit = extra.contains("--rate-limit") ? [] : ["--rate-limit", "100000000", "--burst", "1000000"]
        let args = ["research", "serve-withdrawals", "--journal", journal.path, "--port", "0"] + limit + extra
        let (process, out, _) = CLI.process(args)
        if let ulimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -n \(ulimit) && exec \"$0\" \"$@\"", CLI.binary.path] + args
        }
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let chunk = readSome(out.fileHandleForReading.fileDescriptor)
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if let range = text.range(of: #"http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression) {
                return (process, Int(text[range].split(separator: ":").last!.dropLast())!)
            }
        }
        process.terminate()
        throw LoadTests.StartFailed(output: text)
    }

    static func stop(_ process: Process) {
        if process.isRunning {
            process.interrupt()
            process.waitUntilExit()
        }
    }

    @Test("more idle connections than the process has descriptors: a rightful client is still answered",
          .timeLimit(.minutes(1)))
    func idleFlood() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let (server, port) = try Self.start(ws.journal, ulimit: 96, [])
        defer { Self.stop(server) }
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        for _ in 0..<150 {
            if let fd = RawTCP.connect(port: port, timeout: 2) { idle.append(fd) }
        }
        usleep(300_000)
        let answer = RawTCP.post(port: port, token: WithdrawalToken.generate().text, timeout: 5)
        #expect(answer.status == 202, "no answer while \(idle.count) idle connections are open")
        #expect(RawTCP.request(port: port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").status == 200)
        #expect(server.isRunning)
    }

    @Test("an idle connection is closed after --idle-timeout, also after a response", .timeLimit(.minutes(1)))
    func idleTimeout() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let (server, port) = try Self.start(ws.journal, ["--idle-timeout", "1", "--request-timeout", "30"])
        defer { Self.stop(server) }
        let silent = try #require(RawTCP.connect(port: port))
        defer { close(silent) }
        #expect(RawTCP.closes(silent, within: 4))
        let used = try #require(RawTCP.connect(port: port))
        defer { close(used) }
        RawTCP.send(used, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(RawTCP.readResponse(used).status == 200)
        #expect(RawTCP.closes(used, within: 4))
    }

    /// Sends `head` and then drips `drip` a byte every 200 ms; whether the server closes within `seconds`.
    static func dripCloses(port: Int, head: String, drip: String, seconds: Double) throws -> Bool {
        let fd = try #require(RawTCP.connect(port: port))
        defer { close(fd) }
        RawTCP.send(fd, head)
        let deadline = Date().addingTimeInterval(seconds)
        var bytes = Array(drip.utf8)[...]
        while Date() < deadline {
            if RawTCP.closes(fd, within: 0.2) { return true }
            if let byte = bytes.popFirst() { _ = RawTCP.send(fd, [byte]) }
        }
        return false
    }

    @Test("slow headers and slow bodies are cut off after --request-timeout", .timeLimit(.minutes(1)))
    func slowRequests() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let (server, port) = try Self.start(ws.journal, ["--idle-timeout", "30", "--request-timeout", "1"])
        defer { Self.stop(server) }
        let headers = String(repeating: "X-Slow: aaaaaaaaaaaaaaaa\r\n", count: 100)
        #expect(try Self.dripCloses(port: port, head: "POST /withdrawals HTTP/1.1\r\n", drip: headers, seconds: 4),
                "slow headers held open")
        #expect(try Self.dripCloses(port: port, head: "POST /withdrawals HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                                    + "Content-Length: 1000\r\n\r\n", drip: String(repeating: "A", count: 1000), seconds: 4),
                "slow body held open")
        #expect(RawTCP.post(port: port, token: WithdrawalToken.generate().text).status == 202)
    }

    @Test("slow clients filling --max-connections do not keep out a rightful client", .timeLimit(.minutes(1)))
    func rightfulClientAmongSlowOnes() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let (server, port) = try Self.start(ws.journal, ["--max-connections", "16", "--idle-timeout", "30",
                                                         "--request-timeout", "30"])
        defer { Self.stop(server) }
        var slow: [Int32] = []
        defer { slow.forEach { close($0) } }
        for _ in 0..<60 {
            if let fd = RawTCP.connect(port: port, timeout: 2) {
                RawTCP.send(fd, "POST /withdrawals HTTP/1.1\r\nHost: x\r\n")
                slow.append(fd)
            }
        }
        usleep(300_000)
        for _ in 0..<3 {
            #expect(RawTCP.post(port: port, token: WithdrawalToken.generate().text, timeout: 5).status == 202)
        }
        // At most --max-connections of them are still open.
        let open = slow.filter { !RawTCP.closes($0, within: 0.05) }.count
        #expect(open <= 16, "\(open) slow connections still open")
    }

    @Test("garbage over TCP gets 400 or 413 and the endpoint stays healthy", .timeLimit(.minutes(1)))
    func garbage() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let (server, port) = try Self.start(ws.journal, [])
        defer { Self.stop(server) }
        let huge = String(repeating: "A", count: 200_000)
        let cases: [(String, Set<Int>)] = [
            ("GARBAGE\r\n\r\n", [400]),
            ("\u{0}\u{1}\u{2}\u{ff}\r\n\r\n", [400]),
            ("GET /\(huge) HTTP/1.1\r\nHost: x\r\n\r\n", [400, 404]),
            ("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(huge)\r\n\r\n", [400]),
            ("POST /withdrawals HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
             + "30000\r\n" + String(repeating: "B", count: 0x30000) + "\r\n0\r\n\r\n", [413]),
            ("POST /withdrawals HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 99999999999\r\n\r\nAB", [413]),
            ("POST /withdrawals HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", [400]),
            ("POST /withdrawals?token=\(WithdrawalToken.generate().text) HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", [400, 415]),
            ("DELETE /withdrawals HTTP/1.1\r\nHost: x\r\n\r\n", [404, 405]),
        ]
        for (request, expected) in cases {
            let status = RawTCP.request(port: port, request).status
            #expect(status.map(expected.contains) == true, "\(request.prefix(40).debugDescription): \(String(describing: status))")
        }
        #expect(RawTCP.request(port: port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").status == 200)
        #expect(server.isRunning)
    }
}
