import AnkiSubmission
import Foundation
import Hummingbird
import HummingbirdTesting
import AnkiTestSupport
import Testing

@testable import AnkiResearch


/// Random requests for the endpoint's routes: methods, paths, queries, headers, bodies.
struct RandomRequest: CustomStringConvertible {
    var method: HTTPRequest.Method
    var uri: String
    var headers: HTTPFields
    var body: ByteBuffer

    var description: String { "\(method) \(uri.prefix(60)) headers: \(headers.count) body: \(body.readableBytes) bytes" }

    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch, .head, .options, .trace,
                                                HTTPRequest.Method("PROPFIND")!, HTTPRequest.Method("X")!]
    static let paths = ["/", "/health", "/withdrawals", "/withdrawals/", "//withdrawals", "/WITHDRAWALS", "/index.html",
                        "/withdrawals/../health", "/%2e%2e/etc/passwd", "/withdrawals%00", "/health?", "/?a=b",
                        "/\u{e9}", "/" + String(repeating: "a", count: 3000)]
    static let types = ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                        "application/x-www-form-urlencoded", "text/plain", "text/plain; charset=latin1",
                        "multipart/form-data; boundary=x", "application/xml", "", "application/jsonx", "*/*",
                        "text/html"]

    static func token<R: RandomNumberGenerator>(_ rng: inout R) -> String {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0, 1: return WithdrawalToken.generate(using: &rng).text
        case 2: return WithdrawalToken.generate(using: &rng).text.lowercased().replacingOccurrences(of: "-", with: " ")
        case 3:
            var t = Array(WithdrawalToken.generate(using: &rng).text)
            t[Int.random(in: 0..<t.count, using: &rng)] = "Z"
            return String(t)
        case 4: return randomText(&rng, length: Int.random(in: 0..<80, using: &rng))
        default: return String(repeating: "A", count: Int.random(in: 0..<5000, using: &rng))
        }
    }

    static func randomText<R: RandomNumberGenerator>(_ rng: inout R, length: Int) -> String {
        String(String.UnicodeScalarView((0..<length).compactMap { _ in
            Unicode.Scalar(UInt32.random(in: 1..<0x800, using: &rng))
        }))
    }

    static func bytes<R: RandomNumberGenerator>(_ rng: inout R, count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    static func make<R: RandomNumberGenerator>(_ rng: inout R) -> RandomRequest {
        let method = Bool.random(using: &rng) ? .post : methods.randomElement(using: &rng)!
        // Half of them at the withdrawal route itself, the rest anywhere.
        var uri = Bool.random(using: &rng) ? "/withdrawals"
            : Int.random(in: 0..<4, using: &rng) == 0
            ? "/" + (randomText(&rng, length: Int.random(in: 0..<40, using: &rng))
                .addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "")
            : paths.randomElement(using: &rng)!
        if Bool.random(using: &rng) {
            let key = ["token", "a", "", "%zz", "x[]"].randomElement(using: &rng)!
            let value = token(&rng).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            uri += (uri.contains("?") ? "&" : "?") + "\(key)=\(value)"
        }
        var headers: HTTPFields = [:]
        if Int.random(in: 0..<5, using: &rng) > 0 { headers[.contentType] = types.randomElement(using: &rng)! }
        let bodyKind = Int.random(in: 0..<8, using: &rng)
        var body: [UInt8]
        switch bodyKind {
        case 0: body = []
        case 1: body = bytes(&rng, count: Int.random(in: 1..<4096, using: &rng))
        case 2: body = Array("{\"token\":\"\(token(&rng))\"}".utf8)
        case 3: body = Array("token=\(token(&rng).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")".utf8)
        case 4: body = Array(token(&rng).utf8)
        case 5: body = Array("{\"token\": \(["null", "1", "[]", "{}", "true", "\"\""].randomElement(using: &rng)!)}".utf8)
        case 6: body = [UInt8](repeating: 0x7B, count: Int.random(in: 2048..<300_000, using: &rng))   // huge
        default: body = Array("[\"\(token(&rng))\"]".utf8)
        }
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: headers[.contentLength] = String(Int.random(in: 0..<Int.max, using: &rng))
        case 1: headers[.contentLength] = ["-1", "abc", "1e9", "", "0x10"].randomElement(using: &rng)!
        default: break
        }
        for _ in 0..<Int.random(in: 0..<4, using: &rng) {
            let name = ["X-Forwarded-For", "Accept", "Cookie", "X-" + String(UInt32.random(in: 0...UInt32.max, using: &rng)),
                        "Connection", "Expect"].randomElement(using: &rng)!
            let value = String(String.UnicodeScalarView((0..<Int.random(in: 0..<200, using: &rng)).map { _ in
                Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng))
            }))
            headers.append(HTTPFields.Element(name: HTTPFields.Element.Name(name)!, value: value))
        }
        return RandomRequest(method: method, uri: uri, headers: headers, body: ByteBuffer(bytes: body))
    }
}

@Suite("research serve-withdrawals: random requests")
struct EndpointPropertyTests {
    /// The statuses the README documents for the endpoint.
    static let documented: Set<Int> = [200, 202, 400, 404, 405, 413, 415, 429, 503]

    @Test("random methods, paths, queries, headers and bodies: always a documented status, health stays ok",
          arguments: [UInt64(1), 2, 3, 4])
    func randomRequests(seed: UInt64) async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        var options = WithdrawalServerOptions()
        options.requestsPerMinute = 6000
        options.burst = 150
        let journal = try JournalWriter(url: ws.journal)
        defer { journal.close() }
        let app = WithdrawalServer.makeApplication(options: options, journal: journal)
        try await app.test(.router) { client in
            var rng = SeededGenerator(seed: seed)
            var seen: [Int: Int] = [:]
            for i in 0..<300 {
                let request = RandomRequest.make(&rng)
                let status = try await client.execute(uri: request.uri, method: request.method, headers: request.headers,
                                                      body: request.body) { response in
                    if response.status == .accepted {
                        let object = try? JSONSerialization.jsonObject(with: bodyData(response.body)) as? [String: String]
                        #expect(object?["receipt"]?.hasPrefix("W-") == true || response.headers[.contentType]?.hasPrefix("text/html") == true)
                    }
                    return response.status.code
                }
                seen[status, default: 0] += 1
                #expect(Self.documented.contains(status), "seed \(seed), request \(i): \(request) -> \(status)")
            }
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok, "seed \(seed): unhealthy after random requests")
            }
            // Still taking requests.
            try await client.execute(uri: "/withdrawals", method: .post, headers: [.contentType: "text/plain"],
                                     body: ByteBuffer(string: WithdrawalToken.generate().text)) { response in
                #expect(response.status == .accepted, "seed \(seed): a valid request refused after random requests")
            }
            report("random requests, seed \(seed): " + seen.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " "))
            #expect(seen[400, default: 0] > 0 && seen[413, default: 0] > 0)
        }
        // Every record in the journal is complete and readable.
        #expect(try WithdrawalJournal.read(ws.journal, from: 0).records.allSatisfy { $0.record != nil })
    }
}

@Suite("research serve: random requests with the spool")
struct IntakePropertyTests {
    /// The statuses the README documents for `research serve` (uploads and withdrawals).
    static let documented: Set<Int> = [200, 202, 400, 404, 405, 413, 415, 422, 429, 503]

    @Test("random requests, half of them at /submissions: always a documented status, nothing in the spool, health ok",
          arguments: [UInt64(1), 2])
    func randomRequests(seed: UInt64) async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let spool = ws.root.appendingPathComponent("spool")
        var options = WithdrawalServerOptions()
        options.requestsPerMinute = 6000
        options.burst = 150
        var intake = IntakeOptions(spool: try IntakeSpool(folder: spool))
        intake.maxUploadBytes = 2048
        intake.uploadsPerMinute = 6000
        intake.uploadBurst = 150
        options.intake = intake
        let journal = try JournalWriter(url: ws.journal)
        defer { journal.close() }
        let app = WithdrawalServer.makeApplication(options: options, journal: journal)
        try await app.test(.router) { client in
            var rng = SeededGenerator(seed: seed)
            var seen: [Int: Int] = [:]
            for i in 0..<300 {
                var request = RandomRequest.make(&rng)
                if Bool.random(using: &rng) {
                    request.uri = "/submissions" + (request.uri.contains("?") ? "?x=1" : "")
                    if Bool.random(using: &rng) {
                        request.headers[.contentType] = ["application/vnd.sqlite3", "application/octet-stream",
                                                         "Application/VND.sqlite3; x=y"].randomElement(using: &rng)!
                    }
                    if Int.random(in: 0..<4, using: &rng) == 0 {
                        request.body = ByteBuffer(bytes: Array("SQLite format 3\u{0}".utf8)
                                                  + RandomRequest.bytes(&rng, count: Int.random(in: 0..<3000, using: &rng)))
                    }
                }
                let status = try await client.execute(uri: request.uri, method: request.method, headers: request.headers,
                                                      body: request.body) { $0.status.code }
                seen[status, default: 0] += 1
                #expect(Self.documented.contains(status), "seed \(seed), request \(i): \(request) -> \(status)")
            }
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok, "seed \(seed): unhealthy after random requests")
            }
            #expect(seen[422, default: 0] > 0 && seen[413, default: 0] > 0 && seen[415, default: 0] > 0)
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: spool.path)) ?? []
        #expect(left.isEmpty, "seed \(seed): \(left)")
    }
}
