import Foundation
import AnkiTestSupport
import Testing

/// No request, however odd, may stop the review page: the process never traps, every answer has a
/// documented status, and the page keeps answering its rightful client.
@Suite("Review page robustness", .serialized, .enabled(if: ReviewPage.curlAvailable, "needs curl (installed by make test)"))
struct ReviewPageRobustnessTests {
    /// The statuses the page documents (README, "Making a submission").
    static let documented: Set<Int> = [200, 303, 400, 403, 404, 409, 410, 413, 415, 422]

    @Test("extreme page and size numbers are answered, not trapped on", arguments: [
        "page=9223372036854775807", "page=-9223372036854775808", "size=9223372036854775807&page=2",
        "page=9223372036854775807&size=200", "size=-1&page=-1", "deck=9223372036854775807",
        "page=99999999999999999999999", "page=1e9", "page=%00",
    ])
    func extremeNumbers(_ query: String) throws {
        let page = try ReviewPage.start()
        defer { page.stop() }
        let answer = try page.request(path: "/\(page.secret)/api/notes?\(query)")
        #expect(answer.status == 200, "\(query): \(answer.status)")
        #expect(page.process.isRunning)
        #expect(try page.request(path: "/\(page.secret)/api/state").status == 200)
    }

    /// Random routes, query values, bodies and headers (seeded; the seed is printed on failure).
    @Test("random requests never stop the page")
    func randomRequests() throws {
        let page = try ReviewPage.start()
        defer { page.stop() }
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var rng = SeededGenerator(seed: seed)
        let routes = ["", "api/state", "api/languages", "api/notes", "api/decisions", "api/notes/exclude", "api/bulk",
                      "api/tags", "api/survey", "app.js", "app.css", "api", "api/notes/", "../api/state", "%2e%2e/x",
                      "api/notes?x", String(repeating: "a/", count: 300)]
        let numbers = ["0", "-1", "1", "9223372036854775807", "-9223372036854775808", "18446744073709551616", "1e308",
                       "NaN", "abc", "", "%20", "0x10", "2147483648", "%ff%fe"]
        let keys = ["page", "size", "deck", "filter", "q", "tag", "x"]
        let values: [String] = ["1", "-1", "1.5", "true", "null", "\"x\"", "[]", "{}", "9223372036854775807", "1e400",
                                "[\"1\", 2, null]", "\"\(String(repeating: "é", count: 100))\""]
        let bodyKeys = ["ids", "excluded", "exclude", "filter", "q", "deck", "tag", "name", "removed", "languages",
                        "domain", "consent_public", "special_confirmed", "excluded_notes", "removed_tags", "format"]
        func pick<T>(_ list: [T]) -> T { list[Int(rng.next() % UInt64(list.count))] }
        for round in 0..<120 {
            let route = pick(routes)
            var query = ""
            for _ in 0..<Int(rng.next() % 4) { query += (query.isEmpty ? "?" : "&") + "\(pick(keys))=\(pick(numbers))" }
            let post = rng.next() % 2 == 0
            var headers = ["Content-Type: " + pick(["application/json", "text/plain", "application/json; charset=x"])]
            if rng.next() % 4 != 0 { headers.append("Origin: http://127.0.0.1:\(page.port)") }
            headers.append("X-CSRF-Token: " + pick([page.csrf, page.csrf, "", "wrong", String(page.csrf.dropLast())]))
            var body: String?
            if post {
                switch rng.next() % 4 {
                case 0: body = pick(["", "null", "[]", "1", "\"s\"", "{", "{\"a\":", String(repeating: "[", count: 5000)])
                case 1:
                    var parts: [String] = []
                    for _ in 0..<Int(rng.next() % 5) { parts.append("\"\(pick(bodyKeys))\": \(pick(values))") }
                    body = "{" + parts.joined(separator: ", ") + "}"
                default:
                    body = "{\"ids\": [\"\(pick(numbers))\"], \"excluded\": \(pick(values)), \"exclude\": \(pick(values)), "
                        + "\"deck\": \(pick(values)), \"filter\": \(pick(values)), \"languages\": \(pick(values))}"
                }
            }
            // Never quit or submit: those end the page by design.
            let answer = try page.request(path: "/\(page.secret)/\(route)\(query)", method: post ? "POST" : "GET",
                                          body: body, headers: headers)
            #expect(Self.documented.contains(answer.status),
                    "seed \(seed) round \(round): \(post ? "POST" : "GET") \(route)\(query) -> \(answer.status)")
            guard page.process.isRunning else {
                Issue.record("seed \(seed) round \(round): the page died on \(route)\(query)")
                return
            }
        }
        #expect(try page.request(path: "/\(page.secret)/api/state").status == 200)
    }

    @Test("a thousand idle connections under a low descriptor limit do not stop the page")
    func connectionFlood() throws {
        let page = try ReviewPage.start(fileLimit: 256)
        defer { page.stop() }
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        var failures = 0
        for _ in 0..<1000 where failures < 20 {
            let fd = RawSocket.connect(port: page.port)
            if fd >= 0 { sockets.append(fd) } else { failures += 1 }
        }
        #expect(sockets.count > 300)
        let started = Date()
        let answer = try page.request(path: "/\(page.secret)/api/state")
        #expect(answer.status == 200)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(page.process.isRunning)
        for fd in sockets { close(fd) }
        sockets.removeAll()
        #expect(try page.request(path: "/\(page.secret)/").status == 200)
    }
}


/// Plain TCP connections to 127.0.0.1, for tests that must hold sockets open without speaking HTTP.
enum RawSocket {
    /// A connected socket, or -1 when the connection was not made within `timeout` milliseconds.
    static func connect(port: Int, timeout: Int32 = 100) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            var poll = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard errno == EINPROGRESS, Glibc.poll(&poll, 1, timeout) == 1,
                  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 else {
                close(fd)
                return -1
            }
        }
        return fd
    }
}
