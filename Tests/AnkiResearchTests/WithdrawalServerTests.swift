import AnkiSubmission
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import AnkiResearch

@Suite("research serve-withdrawals: the HTTP endpoint")
struct WithdrawalServerTests {
    static func token() -> String { WithdrawalToken.generate().text }

    func withServer(_ configure: (inout WithdrawalServerOptions) -> Void = { _ in },
                    _ body: @Sendable (any TestClientProtocol, URL) async throws -> Void) async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        var options = WithdrawalServerOptions()
        options.requestsPerMinute = 600
        options.burst = 100
        configure(&options)
        let journal = try JournalWriter(url: ws.journal)
        defer { journal.close() }
        let app = WithdrawalServer.makeApplication(options: options, journal: journal)
        let url = ws.journal
        try await app.test(.router) { client in try await body(client, url) }
    }

    static func json(_ object: [String: String]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    static let jsonHeaders: HTTPFields = [.contentType: "application/json"]

    static func records(_ url: URL) throws -> [WithdrawalRecord] {
        try WithdrawalJournal.read(url, from: 0).records.compactMap(\.record)
    }

    @Test("a well-formed token: 202 with a receipt, only after the record is in the journal")
    func accepted() async throws {
        let token = Self.token()
        try await withServer { client, journal in
            try await client.execute(uri: "/withdrawals", method: .post, headers: Self.jsonHeaders,
                                     body: Self.json(["token": token.lowercased().replacingOccurrences(of: "-", with: " ")])) { response in
                #expect(response.status == .accepted)
                let object = try JSONSerialization.jsonObject(with: bodyData(response.body)) as? [String: String]
                let receipt = try #require(object?["receipt"])
                #expect(receipt.hasPrefix("W-"))
                let records = try Self.records(journal)
                #expect(records.map(\.receipt) == [receipt])
                #expect(records[0].tokenSHA256 == WithdrawalToken.sha256Hex(token))
                #expect(response.headers[.cacheControl] == "no-store")
            }
            // The journal holds the hash, never the token.
            let bytes = try Data(contentsOf: journal)
            #expect(!bytes.contains(text: token))
            #expect(!bytes.contains(text: token.replacingOccurrences(of: "-", with: "")))
        }
    }

    @Test("malformed tokens get 400 and are not journaled: length, alphabet, check character, missing")
    func malformed() async throws {
        var typo = Array(Self.token())
        typo[0] = typo[0] == "A" ? "B" : "A"
        let bodies: [(String, String)] = [
            ("ABCD-EFGH", "has 28 letters and digits"),
            (String(Self.token().dropLast(2)) + "U!", "uses only digits"),
            (String(typo), "typo"),
            ("", "holds no token"),
        ]
        try await withServer { client, journal in
            for (token, message) in bodies {
                try await client.execute(uri: "/withdrawals", method: .post, headers: Self.jsonHeaders,
                                         body: Self.json(["token": token])) { response in
                    #expect(response.status == .badRequest)
                    #expect(bodyText(response.body).contains(message))
                }
            }
            try await client.execute(uri: "/withdrawals", method: .post, headers: Self.jsonHeaders,
                                     body: ByteBuffer(string: "{not json")) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/withdrawals", method: .post, headers: [.contentType: "application/xml"],
                                     body: ByteBuffer(string: "<token/>")) { #expect($0.status == .unsupportedMediaType) }
            #expect(try Self.records(journal).isEmpty)
        }
    }

    @Test("the answer is identical whether or not the token belongs to a submission")
    func noOracle() async throws {
        try await withServer { client, _ in
            var shapes: Set<String> = []
            for _ in 0..<3 {
                try await client.execute(uri: "/withdrawals", method: .post, headers: Self.jsonHeaders,
                                         body: Self.json(["token": Self.token()])) { response in
                    let object = try JSONSerialization.jsonObject(with: bodyData(response.body)) as? [String: String] ?? [:]
                    shapes.insert("\(response.status.code) \(object.keys.sorted()) \(object["message"] ?? "")")
                }
            }
            #expect(shapes.count == 1)
        }
    }

    @Test("bodies over the limit get 413, by header or by streaming")
    func bodyLimit() async throws {
        try await withServer({ $0.maxBodyBytes = 256 }) { client, journal in
            let big = Self.json(["token": Self.token(), "padding": String(repeating: "x", count: 1000)])
            try await client.execute(uri: "/withdrawals", method: .post, headers: Self.jsonHeaders, body: big) { response in
                #expect(response.status == .contentTooLarge)
            }
            #expect(try Self.records(journal).isEmpty)
        }
    }

    @Test("each client gets a burst, then 429 with Retry-After")
    func rateLimit() async throws {
        // One token back every 100 minutes: however slow the machine (each accepted request waits for
        // fsync), no token comes back during the test; the refill itself is tested on the limiter.
        try await withServer({ $0.requestsPerMinute = 0.01; $0.burst = 3 }) { client, journal in
            var statuses: [Int] = []
            for _ in 0..<5 {
                try await client.execute(uri: "/withdrawals", method: .post, headers: Self.jsonHeaders,
                                         body: Self.json(["token": Self.token()])) { response in
                    statuses.append(response.status.code)
                    if response.status == .tooManyRequests { #expect(response.headers[.retryAfter] != nil) }
                }
            }
            #expect(statuses == [202, 202, 202, 429, 429])
            #expect(try Self.records(journal).count == 3)
        }
    }

    @Test("the limiter refills at its rate, per client, up to the burst")
    func limiterRefill() {
        let limiter = RateLimiter(perMinute: 6, burst: 3)   // one token every 10 s
        for _ in 0..<3 { #expect(limiter.take("a", now: 100) == nil) }
        #expect(limiter.take("a", now: 100) == 10)
        #expect(limiter.take("b", now: 100) == nil)          // another client has its own bucket
        #expect(limiter.take("a", now: 105) == 5)
        #expect(limiter.take("a", now: 111) == nil)          // a token back after 10 s
        #expect(limiter.take("a", now: 111) != nil)
        for _ in 0..<3 { #expect(limiter.take("a", now: 1000) == nil) }   // never more than the burst
        #expect(limiter.take("a", now: 1000) != nil)
    }

    @Test("the form at / and a form post answer in HTML; /health answers ok")
    func formAndHealth() async throws {
        let token = Self.token()
        try await withServer { client, journal in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
                let page = bodyText(response.body)
                #expect(page.contains("<form method=\"post\" action=\"/withdrawals\">"))
                #expect(page.contains("name=\"token\""))
            }
            let body = "token=" + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token)
            try await client.execute(uri: "/withdrawals", method: .post,
                                     headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == .accepted)
                let page = bodyText(response.body)
                #expect(page.contains("Your receipt number"))
                #expect(!page.contains(token))
            }
            try await client.execute(uri: "/withdrawals", method: .post,
                                     headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: "token=nonsense")) { response in
                #expect(response.status == .badRequest)
                #expect(bodyText(response.body).contains("<form"))
            }
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(bodyText(response.body).contains("\"ok\""))
            }
            #expect(try Self.records(journal).count == 1)
        }
    }

    @Test("the journal survives a torn last line: it is cut off on restart, never merged with the next record")
    func tornJournal() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        do {
            let writer = try JournalWriter(url: ws.journal)
            try await writer.append(WithdrawalRecord(receipt: "W-AAAA-BBBB-CCCC-DDDD", receivedAt: "2025-01-01T00:00:00Z",
                                                     tokenSHA256: String(repeating: "a", count: 64)))
            writer.close()
        }
        let handle = try FileHandle(forWritingTo: ws.journal)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"receipt\":\"W-TORN".utf8))
        try handle.close()
        let writer = try JournalWriter(url: ws.journal)
        try await writer.append(WithdrawalRecord(receipt: "W-EEEE-FFFF-GGGG-HHHH", receivedAt: "2025-01-01T00:00:01Z",
                                                 tokenSHA256: String(repeating: "b", count: 64)))
        writer.close()
        let read = try WithdrawalJournal.read(ws.journal, from: 0)
        #expect(read.records.count == 2)
        #expect(read.records.map { $0.record?.receipt } == ["W-AAAA-BBBB-CCCC-DDDD", "W-EEEE-FFFF-GGGG-HHHH"])
    }
}

func bodyData(_ buffer: ByteBuffer) -> Data { Data(buffer.readableBytesView) }

func bodyText(_ buffer: ByteBuffer) -> String { String(decoding: buffer.readableBytesView, as: UTF8.self) }
