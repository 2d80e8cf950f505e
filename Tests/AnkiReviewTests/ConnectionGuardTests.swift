import AnkiReview
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import Testing

/// The connection guard in front of the review page: idle connections, slow headers and slow bodies
/// are cut off after their deadline, and a crowd of connections cannot keep the rightful client out.
/// Each test runs a real server on 127.0.0.1 with short deadlines.
@Suite("Connection guard", .serialized)
struct ConnectionGuardTests {
    static let limits = ConnectionLimits(maxConnections: 8, headTimeout: .milliseconds(500), bodyTimeout: .milliseconds(500))

    /// Runs a tiny server (GET / answers "ok", POST /echo reads the body) behind `watch`, and `body`
    /// (blocking socket calls) on a thread of its own: on the concurrency pool it would hold one of the
    /// few threads the server's handlers need (two on a two-core machine, shared with other suites).
    static func withServer(_ watch: ConnectionGuard, _ body: @escaping @Sendable (Int, Checks) throws -> Void) async throws {
        let router = Router()
        router.get("/") { _, _ in "ok" }
        router.post("/echo") { request, _ -> String in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            return "\(buffer.readableBytes)"
        }
        let port = Mutex(0)
        let app = Application(router: router, server: watch.server(),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port ?? 0 } })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            var waited = 0
            while port.withLock({ $0 }) == 0, waited < 500 {
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            let port = port.withLock { $0 }
            let checks = Checks()
            let outcome: Result<Void, any Error> = await withCheckedContinuation { continuation in
                Thread { continuation.resume(returning: Result { try body(port, checks) }) }.start()
            }
            for failure in checks.failures { Issue.record(Comment(rawValue: failure)) }
            // The clients are closed by now; let the server finish what they left before it stops.
            try await Task.sleep(for: .milliseconds(300))
            group.cancelAll()
            try outcome.get()
        }
    }

    @Test("headers sent a byte at a time are cut off at the head deadline")
    func slowHeaders() async throws {
        try await Self.withServer(ConnectionGuard(limits: Self.limits)) { port, c in
            let client = try c.require(TestClient(port: port))
            let start = Date()
            _ = client.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            var closed = false
            for _ in 0..<40 where !closed {
                // Keeps sending: without a deadline for the whole head this would never end.
                closed = !client.send("X-Slow: a\r\n") || client.isClosed(waiting: 0.1)
            }
            c.expect(closed, "a trickling head was held open for 4 seconds")
            c.expect(Date().timeIntervalSince(start) < 3)
        }
    }

    @Test("a body sent a byte at a time is cut off at the body deadline")
    func slowBody() async throws {
        try await Self.withServer(ConnectionGuard(limits: Self.limits)) { port, c in
            let client = try c.require(TestClient(port: port))
            _ = client.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n")
            var closed = false
            for _ in 0..<40 where !closed { closed = !client.send("x") || client.isClosed(waiting: 0.1) }
            c.expect(closed, "a trickling body was held open for 4 seconds")
        }
    }

    @Test("an idle connection is closed, before and after a request")
    func idle() async throws {
        try await Self.withServer(ConnectionGuard(limits: Self.limits)) { port, c in
            let silent = try c.require(TestClient(port: port))
            c.expect(silent.isClosed(waiting: 3), "a silent connection stayed open")
            let client = try c.require(TestClient(port: port))
            c.expect(client.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            c.expect(client.readAnswer().hasPrefix("HTTP/1.1 200"))
            c.expect(client.isClosed(waiting: 3), "a keep-alive connection stayed open")
        }
    }

    @Test("a request and its body in good time are answered")
    func goodRequest() async throws {
        try await Self.withServer(ConnectionGuard(limits: Self.limits)) { port, c in
            let client = try c.require(TestClient(port: port))
            c.expect(client.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello"))
            let answer = client.readAnswer()
            c.expect(answer.hasPrefix("HTTP/1.1 200"))
            c.expect(answer.hasSuffix("5"))
        }
    }

    @Test("a crowd of idle connections cannot keep the rightful client out")
    func crowd() async throws {
        let watch = ConnectionGuard(limits: ConnectionLimits(maxConnections: 8, headTimeout: .seconds(30), bodyTimeout: .seconds(30)))
        try await Self.withServer(watch) { port, c in
            var crowd: [TestClient] = []
            for _ in 0..<50 { if let client = TestClient(port: port) { crowd.append(client) } }
            c.expect(crowd.count == 50)
            Thread.sleep(forTimeInterval: 0.2)
            c.expect(watch.connectionCount <= 8)
            let client = try c.require(TestClient(port: port))
            c.expect(client.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            c.expect(client.readAnswer().hasPrefix("HTTP/1.1 200"))
        }
    }
}

/// Expectations made on a plain thread (where Swift Testing cannot see the test), recorded by the test.
final class Checks: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    var failures: [String] { lock.withLock { list } }

    func expect(_ condition: Bool, _ message: String = "expectation failed", line: Int = #line) {
        if !condition { lock.withLock { list.append("line \(line): \(message)") } }
    }

    struct Missing: Error {}

    func require<T>(_ value: T?, line: Int = #line) throws -> T {
        guard let value else {
            lock.withLock { list.append("line \(line): required value missing") }
            throw Missing()
        }
        return value
    }
}

/// A blocking TCP client for exact control over what is sent when.
final class TestClient: @unchecked Sendable {
    let fd: Int32

    /// `fd` is set only once connected: a failable class initializer that fails after every stored
    /// property is set still runs `deinit`, which would close the descriptor a second time (and with
    /// it whatever another test had opened under the same number meanwhile).
    init?(port: Int) {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(socketFD, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if result != 0 {
            close(socketFD)
            return nil
        }
        fd = socketFD
    }

    deinit { close(fd) }

    /// False once the server has closed the connection.
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Waits up to `seconds` for the server to close the connection (end of stream or reset).
    func isClosed(waiting seconds: Double) -> Bool {
        var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let ready = Glibc.poll(&poll, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000)))
            if ready <= 0 { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return true }
        }
        return false
    }

    /// Reads one short answer (headers and a small body).
    func readAnswer() -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data += buffer[0..<n]
            let text = String(decoding: data, as: UTF8.self)
            if let split = text.range(of: "\r\n\r\n") {
                let head = text[..<split.lowerBound].lowercased()
                if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                   let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)),
                   text.utf8.count - text.utf8.distance(from: text.startIndex, to: split.upperBound) >= length {
                    return text
                }
            }
        }
        return String(decoding: data, as: UTF8.self)
    }
}
