import AnkiSubmission
import Foundation
import Hummingbird
import Logging

public struct WithdrawalServerOptions: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (printed at start).
    public var port = 8080
    /// Largest request body accepted; a token is 34 characters, so a few hundred bytes is plenty.
    public var maxBodyBytes = 2048
    /// Sustained withdrawal requests allowed per client and minute, and the burst above that.
    public var requestsPerMinute = 10.0
    public var burst = 5
    /// Behind a reverse proxy on the same machine: take the client from the last X-Forwarded-For entry.
    public var trustForwardedFor = false
    /// Open connections, idle and request time limits.
    public var limits = ConnectionLimits()
    /// `research serve`: where uploaded submissions go (nil: withdrawals only, as `serve-withdrawals`).
    public var intake: IntakeOptions?
    /// The study's name and contact, shown on the page (nil: a page without them, as before).
    public var study: StudyProfile?

    public init() {}
}

/// `POST /submissions` of `research serve`.
public struct IntakeOptions: Sendable {
    public var spool: IntakeSpool
    /// Largest upload accepted, in bytes.
    public var maxUploadBytes: Int64 = 256 << 20
    /// Sustained uploads allowed per client and minute, and the burst above that.
    public var uploadsPerMinute = 6.0
    public var uploadBurst = 10

    public init(spool: IntakeSpool) { self.spool = spool }
}

typealias FieldName = HTTPFields.Element.Name

/// The request context: Hummingbird's core storage plus the peer's IP address for the rate limit.
public struct WithdrawalRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let peer: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress?.ipAddress
    }
}

/// Token buckets per client, bounded in memory (idle full buckets are dropped first).
final class RateLimiter: @unchecked Sendable {
    private let lock = NSLock()
    private var buckets: [String: (tokens: Double, at: Double)] = [:]
    private let perSecond: Double
    private let burst: Double
    private let maxClients = 100_000

    init(perMinute: Double, burst: Int) {
        perSecond = perMinute / 60
        self.burst = Double(max(1, burst))
    }

    /// nil when allowed, else the seconds until the next request would be.
    func take(_ client: String, now: Double = ProcessInfo.processInfo.systemUptime) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        var bucket = buckets[client] ?? (burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * perSecond)
        bucket.at = now
        if buckets.count >= maxClients && buckets[client] == nil {
            buckets = buckets.filter { min(burst, $0.value.tokens + (now - $0.value.at) * perSecond) < burst }
        }
        guard bucket.tokens >= 1 else {
            buckets[client] = bucket
            return max(1, Int(((1 - bucket.tokens) / max(perSecond, 1e-9)).rounded(.up)))
        }
        bucket.tokens -= 1
        buckets[client] = bucket
        return nil
    }
}

/// `research serve-withdrawals`: participants send their token; the endpoint appends it (as SHA-256)
/// to the journal, flushes it to disk, and only then answers 202 with a receipt. The answer is the
/// same whether or not the token belongs to any submission: the endpoint does not even know.
public enum WithdrawalServer {
    public static func makeApplication(
        options: WithdrawalServerOptions, journal: JournalWriter, logger: Logger? = nil,
        onRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) -> Application<RouterResponder<WithdrawalRequestContext>> {
        let router = Router(context: WithdrawalRequestContext.self)
        let limiter = RateLimiter(perMinute: options.requestsPerMinute, burst: options.burst)
        let maxBody = options.maxBodyBytes
        let trustForwarded = options.trustForwardedFor
        let study = options.study
        let intake = options.intake
        @Sendable func clientAddress(_ request: Request, _ context: WithdrawalRequestContext) -> String {
            var client = context.peer ?? "unknown"
            if trustForwarded, let forwarded = request.headers[FieldName("X-Forwarded-For")!] {
                client = forwarded.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? client
            }
            return client
        }

        router.get("/") { _, _ in html(.ok, page(form: true, message: nil, study: study)) }
        router.get("/health") { _, _ in
            guard journal.healthy else {
                return json(.serviceUnavailable, ["status": "error", "error": "the journal cannot be written"])
            }
            if let intake, !intake.spool.healthy {
                return json(.serviceUnavailable, ["status": "error", "error": "the spool cannot be written"])
            }
            return json(.ok, ["status": "ok"])
        }
        if let intake {
            IntakeRoute.add(to: router, options: intake, study: study, client: clientAddress)
        }
        router.post("/withdrawals") { request, context in
            let form = (request.headers[.contentType] ?? "").lowercased().hasPrefix("application/x-www-form-urlencoded")
            func answer(_ status: HTTPResponse.Status, _ fields: [String: String], extra: HTTPFields = [:]) -> Response {
                var response = form ? html(status, page(form: status != .accepted, message: fields, study: study))
                                    : json(status, fields)
                for field in extra { response.headers.append(field) }
                return response
            }
            let client = clientAddress(request, context)
            if let wait = limiter.take(client) {
                return answer(.tooManyRequests, ["status": "rate-limited",
                                                 "error": "Too many requests from your address; try again in \(wait) s."],
                              extra: [.retryAfter: String(wait)])
            }
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBody {
                return answer(.contentTooLarge, ["status": "too-large", "error": "The request is larger than \(maxBody) bytes."])
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maxBody)
            } catch {
                return answer(.contentTooLarge, ["status": "too-large", "error": "The request is larger than \(maxBody) bytes."])
            }
            let bytes = Data(body.readableBytesView)
            let type = (request.headers[.contentType] ?? "").lowercased()
            let tokenText: String?
            if type.hasPrefix("application/json") {
                tokenText = ((try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any])?["token"] as? String
            } else if form {
                tokenText = formValue("token", in: String(decoding: bytes, as: UTF8.self))
            } else if type.hasPrefix("text/plain") {
                tokenText = String(decoding: bytes, as: UTF8.self)
            } else {
                return answer(.unsupportedMediaType, ["status": "invalid",
                    "error": "Send the token as JSON {\"token\": \"…\"}, as a form field `token`, or as text/plain."])
            }
            guard let tokenText, !tokenText.isEmpty else {
                return answer(.badRequest, ["status": "invalid", "error": "The request holds no token."])
            }
            let token: WithdrawalToken
            do {
                token = try WithdrawalToken.parse(tokenText)
            } catch let error as WithdrawalToken.ParseError {
                return answer(.badRequest, ["status": "invalid", "error": error.description])
            }
            let record = WithdrawalRecord(receipt: WithdrawalRecord.newReceipt(), receivedAt: Clock.isoNow(),
                                          tokenSHA256: token.hash)
            do {
                try await journal.append(record)
            } catch {
                return answer(.serviceUnavailable, ["status": "error",
                    "error": "Your request could not be recorded. Please try again later (sending the same token again is harmless)."],
                              extra: [.retryAfter: "60"])
            }
            return answer(.accepted, [
                "status": "received", "receipt": record.receipt,
                "message": "Your withdrawal request is recorded. If this token belongs to a submission, that "
                    + "submission will be removed from the working dataset. Keep the receipt number.",
            ])
        }

        var config = ApplicationConfiguration(address: .hostname(options.host, port: options.port))
        config.serverName = nil
        var log = logger ?? Logger(label: "anki-submit.withdrawals")
        if logger == nil { log.logLevel = .warning }
        let server = GuardedHTTP1Channel.builder(registry: ConnectionRegistry(limits: options.limits), configuration: .init())
        return Application(router: router, server: server, configuration: config, onServerRunning: { channel in
            await onRunning(channel.localAddress?.port ?? options.port)
        }, logger: log)
    }

    static let securityHeaders: HTTPFields = [
        .cacheControl: "no-store",
        FieldName("X-Content-Type-Options")!: "nosniff",
        FieldName("Referrer-Policy")!: "no-referrer",
        FieldName("X-Frame-Options")!: "DENY",
        FieldName("Content-Security-Policy")!: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    ]

    static func json(_ status: HTTPResponse.Status, _ fields: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        var headers = securityHeaders
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8))))
    }

    static func html(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The page at `/`: a form to paste the token, and the outcome of a form post.
    static func page(form: Bool, message: [String: String]?, study: StudyProfile? = nil) -> String {
        var notice = ""
        if let message {
            if let receipt = message["receipt"] {
                notice = """
                    <p class="ok"><strong>Received.</strong> \(escape(message["message"] ?? ""))</p>
                    <p>Your receipt number: <code>\(escape(receipt))</code></p>
                    """
            } else {
                notice = "<p class=\"error\">\(escape(message["error"] ?? "Something went wrong."))</p>"
            }
        }
        let formHTML = !form ? "" : """
            <form method="post" action="/withdrawals">
              <label for="token">Your withdrawal token</label>
              <input id="token" name="token" autocomplete="off" spellcheck="false" required
                     placeholder="XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX" maxlength="80">
              <button type="submit">Withdraw my data</button>
            </form>
            """
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Withdraw your Anki data</title>
            <style>
              body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; }
              input { font: 1.1rem monospace; width: 100%; padding: .5rem; box-sizing: border-box; }
              button { margin-top: 1rem; font-size: 1rem; padding: .5rem 1rem; }
              .ok { color: #1a6b1a; } .error { color: #a31515; }
            </style></head><body>
            <h1>Withdraw your Anki data</h1>
            \(study.map { "<p>Study: <strong>\(escape($0.name))</strong>. Questions: \(escape($0.contact))</p>" } ?? "")
            <p>Paste the withdrawal token <code>anki-submit prepare</code> gave you (upper or lower case, with or
            without dashes). Your submission is then removed from the working dataset. Data already in a public
            release cannot be recalled.</p>
            \(notice)
            \(formHTML)
            <p><small>This page never tells whether a token matches a submission, and does not store the token
            itself, only a one-way hash of it.</small></p>
            </body></html>
            """
    }

    /// The value of `name` in an `application/x-www-form-urlencoded` body.
    static func formValue(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            let key = String(parts[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            if key == name {
                return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
        }
        return nil
    }
}
