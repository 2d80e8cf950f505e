import AnkiPipeline
import AnkiScanner
import AnkiSend
import AnkiSubmission
import Foundation
import Hummingbird
import Logging

/// What "Create submission" produced, or why it could not.
public enum SubmitOutcome: Sendable {
    case created(token: String, submission: String, tokenFile: String, counts: [String: Int])
    case refused(String)
}

/// The participant's local review page. Every request must carry the random secret in its path
/// (others get 403), come to `127.0.0.1:<port>` (so another site cannot reach it through a DNS name
/// pointing at this machine), and, when it changes anything, carry the page's CSRF token and come from
/// the page's own origin. Every response forbids inline scripts and every external resource.
public final class ReviewServer: @unchecked Sendable {
    public let session: ReviewSession
    /// The random part of the page's address: `/<secret>/`.
    public let secret: String
    let csrfToken: String
    let onSubmit: @Sendable (Decisions) async -> SubmitOutcome
    let onFinished: @Sendable () -> Void
    let saveDirectory: String
    /// Bounds the connections and how long each may take (idle, slow headers, slow bodies).
    public let connectionGuard: ConnectionGuard

    private let lock = NSLock()
    private var boundPort = 0
    private var finished = false
    private var submitting = false
    /// The study the participant donates to (its name, contact and texts on the page), if known.
    public let study: StudyProfile?
    /// Sends the created submission ("Send to the study"); nil: the page only says where the file is.
    let sender: SubmissionSender?
    private var createdSubmission: URL?
    private var sendState = SendState()
    /// The study's receipt once "Send to the study" succeeded (the command prints it too).
    public var receipt: SubmissionSender.Receipt? { lock.withLock { sendState.receipt } }

    struct SendState {
        var phase = "idle"   // idle, sending, sent, failed
        var sent: Int64 = 0
        var total: Int64 = 0
        var receipt: SubmissionSender.Receipt?
        var receiptFile: String?
        var error: String?
        var closed = false
    }

    /// Largest request body: a decisions file excluding every one of 50k notes fits easily.
    static let maxBodyBytes = 4 << 20

    public init(session: ReviewSession, saveDirectory: String,
                onSubmit: @escaping @Sendable (Decisions) async -> SubmitOutcome,
                onFinished: @escaping @Sendable () -> Void = {}, limits: ConnectionLimits = ConnectionLimits(),
                study: StudyProfile? = nil, sender: SubmissionSender? = nil) {
        self.session = session
        self.study = study
        self.sender = sender
        connectionGuard = ConnectionGuard(limits: limits)
        self.saveDirectory = saveDirectory
        self.onSubmit = onSubmit
        self.onFinished = onFinished
        secret = Self.randomToken(bytes: 32)
        csrfToken = Self.randomToken(bytes: 32)
    }

    public var port: Int { lock.withLock { boundPort } }
    public var address: String { "http://127.0.0.1:\(port)/\(secret)/" }
    public var isFinished: Bool { lock.withLock { finished } }

    static func randomToken(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The Hummingbird application: bound to 127.0.0.1 only, port 0 (a free one) unless given.
    public func makeApplication(port: Int = 0, onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> Application<ReviewResponder>
    {
        var configuration = ApplicationConfiguration(address: .hostname("127.0.0.1", port: port))
        configuration.serverName = nil
        var logger = Logger(label: "anki-submit.review")
        logger.logLevel = .critical
        return Application(responder: ReviewResponder(server: self), server: connectionGuard.server(),
                           configuration: configuration,
                           onServerRunning: { [self] channel in
                               let actual = channel.localAddress?.port ?? port
                               lock.withLock { boundPort = actual }
                               await onRunning(actual)
                           }, logger: logger)
    }

    // MARK: Request handling

    func respond(to request: Request) async -> Response {
        let path = request.uri.path
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard let first = segments.first, Self.constantTimeEqual(String(first), secret) else {
            return Self.plain(.forbidden, "Forbidden: open the address that anki-submit printed in your terminal.")
        }
        guard hostIsLoopback(request) else {
            return Self.plain(.forbidden, "Forbidden: this page only answers at 127.0.0.1.")
        }
        let route = segments.dropFirst().joined(separator: "/")
        let sendOpen = lock.withLock { createdSubmission != nil && sender != nil && !sendState.closed }
        if isFinished && route != "" && !(sendOpen && Self.sendRoutes.contains(route)) {
            return Self.json(.gone, ["error": "The submission was created and this page is closed."])
        }
        switch (request.method, route) {
        case (.get, ""), (.head, ""):
            if segments.count == 1 {
                // `/<secret>` without the slash: relative addresses need it.
                var response = Self.plain(.seeOther, "")
                response.headers[.location] = "/\(secret)/"
                return response
            }
            return page()
        case (.get, "app.js"): return Self.asset(ReviewAssets.script, type: "text/javascript; charset=utf-8")
        case (.get, "app.css"): return Self.asset(ReviewAssets.style, type: "text/css; charset=utf-8")
        case (.get, "api/state"): return Self.json(.ok, state())
        case (.get, "api/send"): return Self.json(.ok, sendStatus())
        case (.get, "api/languages"):
            return Self.json(.ok, ["languages": session.languages.languages.map { language -> [String: Any] in
                var entry: [String: Any] = ["code": language.code, "name": language.name, "rank": language.rank]
                if let own = language.ownName { entry["own"] = own }
                return entry
            }])
        case (.get, "api/notes"):
            var parameters: [String: String] = [:]
            for (key, value) in request.uri.queryParameters { parameters[String(key)] = String(value) }
            return Self.json(.ok, notes(parameters))
        case (.get, "api/decisions"):
            var response = Self.raw(.ok, session.currentDecisions.json(), type: "application/json; charset=utf-8")
            response.headers[.contentDisposition] = "attachment; filename=\"anki-submit-decisions.json\""
            return response
        case (.post, _):
            if let refusal = checkStateChange(request) { return refusal }
            let body: Data
            do {
                body = Data(try await request.body.collect(upTo: Self.maxBodyBytes).readableBytesView)
            } catch {
                return Self.json(.contentTooLarge, ["error": "The request is too large."])
            }
            return await post(route, body: body)
        default:
            return Self.json(.notFound, ["error": "Not found."])
        }
    }

    /// A state-changing request must carry the page's CSRF token and come from the page's origin.
    func checkStateChange(_ request: Request) -> Response? {
        let origin = "http://127.0.0.1:\(port)"
        let sentOrigin = request.headers[.origin]
        let fetchSite = request.headers[FieldName("Sec-Fetch-Site")!]
        let sameOrigin: Bool
        if let sentOrigin {
            sameOrigin = sentOrigin == origin
        } else if let fetchSite {
            sameOrigin = fetchSite == "same-origin"
        } else {
            sameOrigin = false
        }
        guard sameOrigin else { return Self.json(.forbidden, ["error": "Forbidden: cross-origin request."]) }
        guard let token = request.headers[FieldName("X-CSRF-Token")!], Self.constantTimeEqual(token, csrfToken) else {
            return Self.json(.forbidden, ["error": "Forbidden: missing or wrong CSRF token; reload the page."])
        }
        guard (request.headers[.contentType] ?? "").lowercased().hasPrefix("application/json") else {
            return Self.json(.unsupportedMediaType, ["error": "Send JSON."])
        }
        return nil
    }

    func hostIsLoopback(_ request: Request) -> Bool {
        guard let host = request.head.authority else { return false }
        return host == "127.0.0.1:\(port)"
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<x.count { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    func post(_ route: String, body: Data) async -> Response {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        switch route {
        case "api/notes/exclude":
            guard let ids = object?["ids"] as? [String], let excluded = object?["excluded"] as? Bool else {
                return Self.json(.badRequest, ["error": "Expected {\"ids\": [...], \"excluded\": true|false}."])
            }
            let changed = session.setExcluded(ids.compactMap { Int64($0) }, excluded: excluded)
            return Self.json(.ok, ["changed": changed, "summary": session.summary().jsonObject])
        case "api/bulk":
            guard let object, let exclude = object["exclude"] as? Bool else {
                return Self.json(.badRequest, ["error": "Expected {\"filter\", \"q\", \"deck\", \"tag\", \"exclude\"}."])
            }
            var query = ReviewSession.Query()
            if let filter = (object["filter"] as? String).flatMap(ReviewSession.Filter.init(rawValue:)) { query.filter = filter }
            query.search = object["q"] as? String ?? ""
            query.deck = (object["deck"] as? String).flatMap { Int64($0) }
            if let tag = object["tag"] as? String, !tag.isEmpty { query.tag = tag }
            let changed = session.bulk(query, exclude: exclude)
            return Self.json(.ok, ["changed": changed, "summary": session.summary().jsonObject])
        case "api/quit":
            lock.withLock { finished = true }
            onFinished()
            return Self.json(.ok, ["quit": true])
        case "api/tags":
            guard let name = object?["name"] as? String, let removed = object?["removed"] as? Bool else {
                return Self.json(.badRequest, ["error": "Expected {\"name\": ..., \"removed\": ...}."])
            }
            guard session.setTag(name, removed: removed) else { return Self.json(.badRequest, ["error": "Unknown tag."]) }
            return Self.json(.ok, state())
        case "api/survey":
            guard let object else { return Self.json(.badRequest, ["error": "Expected a JSON object."]) }
            let codes = object["languages"] as? [String] ?? []
            let domain = object["domain"] as? String ?? ""
            let keepDomain = object["domain_confirmed"] as? Bool ?? false
            let consent = object["consent_public"] as? Bool
            let confirmed = object["special_confirmed"] as? Bool ?? false
            do {
                try session.setSurvey(languages: codes, domain: domain, domainConfirmed: keepDomain, consentPublic: consent,
                                      specialConfirmed: confirmed)
            } catch let error as Decisions.Invalid {
                return Self.json(.badRequest, ["error": error.description])
            } catch {
                return Self.json(.badRequest, ["error": "The survey answers could not be read."])
            }
            var result = state()
            result["domain_concerns"] = session.surveyConcerns(domain).map(\.jsonObject)
            return Self.json(.ok, result)
        case "api/decisions":
            do {
                let loaded = try Decisions(json: body, languages: session.languages)
                try session.load(loaded)
            } catch let error as Decisions.Invalid {
                return Self.json(.badRequest, ["error": error.description])
            } catch {
                return Self.json(.badRequest, ["error": "That file is not a decisions file."])
            }
            return Self.json(.ok, state())
        case "api/submit":
            return await submit()
        case "api/send":
            return startSending()
        case "api/close":
            let wasOpen = lock.withLock { () -> Bool in
                defer { sendState.closed = true }
                return createdSubmission != nil && !sendState.closed
            }
            if wasOpen { onFinished() }
            return Self.json(.ok, ["closed": true])
        default:
            return Self.json(.notFound, ["error": "Not found."])
        }
    }

    func submit() async -> Response {
        let busy = lock.withLock { () -> Bool in
            if submitting { return true }
            submitting = true
            return false
        }
        if busy { return Self.json(.conflict, ["error": "The submission is already being created."]) }
        defer { lock.withLock { submitting = false } }
        let decisions = session.currentDecisions
        guard decisions.consentPublic != nil else {
            return Self.json(.badRequest, ["error": "Please answer the question about the public release first."])
        }
        if session.summary().needsSpecialNotice && !decisions.specialCategoryConfirmed {
            return Self.json(.badRequest, ["error": "Please read the notice about health, religion and politics and tick the box first."])
        }
        guard session.summary().notesKept > 0 else {
            return Self.json(.badRequest, ["error": "Every note is excluded: there would be nothing to submit."])
        }
        if !decisions.domainConfirmed && !session.surveyConcerns(decisions.domain).isEmpty {
            return Self.json(.badRequest, ["error": "Please look at the words marked in your interests answer: change them, or tick \"Keep my answer as written\"."])
        }
        switch await onSubmit(decisions) {
        case .refused(let message):
            return Self.json(.unprocessableContent, ["error": message])
        case .created(let token, let submission, let tokenFile, let counts):
            lock.withLock {
                finished = true
                createdSubmission = URL(fileURLWithPath: submission)
            }
            // With somewhere to send it, the page stays open for "Send to the study" until it is sent
            // or the participant presses "Finish".
            if sender == nil { onFinished() }
            return Self.json(.ok, ["token": token, "submission": submission, "token_file": tokenFile, "counts": counts])
        }
    }

    static let sendRoutes: Set<String> = ["api/send", "api/close"]

    /// Starts the upload of the created submission (again, after a failure); answers its status.
    func startSending() -> Response {
        guard let sender else { return Self.json(.notFound, ["error": "This page has no study to send to."]) }
        let submission: URL? = lock.withLock {
            guard let file = createdSubmission, sendState.phase == "idle" || sendState.phase == "failed" else { return nil }
            sendState = SendState(phase: "sending")
            return file
        }
        guard let submission else {
            if lock.withLock({ createdSubmission == nil }) {
                return Self.json(.conflict, ["error": "Create the submission first."])
            }
            return Self.json(.ok, sendStatus())
        }
        let study = self.study
        let onFinished = self.onFinished
        Task.detached { [self] in
            do {
                let receipt = try await sender.send(submission) { sent, total in
                    self.lock.withLock {
                        self.sendState.sent = sent
                        self.sendState.total = total
                    }
                }
                let file = try? StudySending.saveReceipt(receipt, url: sender.url, for: submission)
                lock.withLock {
                    sendState.phase = "sent"
                    sendState.receipt = receipt
                    sendState.receiptFile = file?.path
                }
                // The page polls every fraction of a second: it sees the receipt before the program ends.
                DispatchQueue.global().asyncAfter(deadline: .now() + 3) { [self] in
                    let wasOpen = lock.withLock { () -> Bool in
                        defer { sendState.closed = true }
                        return !sendState.closed
                    }
                    if wasOpen { onFinished() }
                }
            } catch {
                let reason = (error as? SubmissionSender.Failure)?.description ?? "an unexpected error"
                lock.withLock {
                    sendState.phase = "failed"
                    sendState.error = "The submission could not be sent (\(reason)). "
                        + StudySending.fallback(submission: submission, study: study)
                }
            }
        }
        return Self.json(.accepted, sendStatus())
    }

    func sendStatus() -> [String: Any] {
        lock.withLock {
            var status: [String: Any] = ["state": sendState.phase, "sent": sendState.sent, "total": sendState.total]
            if let receipt = sendState.receipt { status["receipt"] = receipt.number }
            if let file = sendState.receiptFile { status["receipt_file"] = file }
            if let error = sendState.error { status["error"] = error }
            return status
        }
    }

    func state() -> [String: Any] {
        let decisions = session.currentDecisions
        let removed = Set(decisions.removedTags.map { $0.lowercased() })
        return [
            "summary": session.summary().jsonObject,
            "tags": session.tags.map { ["name": $0.name, "notes": $0.notes, "removed": removed.contains($0.name.lowercased())] },
            "decks": session.decks.map { ["id": String($0.id), "name": $0.name, "notes": $0.notes] },
            "survey": [
                "languages": decisions.languages, "domain": decisions.domain, "domain_confirmed": decisions.domainConfirmed,
                "consent_public": decisions.consentPublic.map { $0 as Any } ?? NSNull(),
                "special_confirmed": decisions.specialCategoryConfirmed,
            ] as [String: Any],
            "save_directory": saveDirectory,
            "study": study?.jsonObject ?? NSNull(),
            "sending": sender.map { ["address": $0.url.absoluteString] as [String: Any] } ?? NSNull(),
        ]
    }

    func notes(_ parameters: [String: String]) -> [String: Any] {
        var query = ReviewSession.Query()
        if let filter = parameters["filter"].flatMap({ ReviewSession.Filter(rawValue: String($0)) }) { query.filter = filter }
        query.search = parameters["q"] ?? ""
        query.deck = parameters["deck"].flatMap { Int64($0) }
        if let tag = parameters["tag"], !tag.isEmpty { query.tag = tag }
        query.page = parameters["page"].flatMap { Int($0) } ?? 0
        query.pageSize = parameters["size"].flatMap { Int($0) } ?? 25
        let (total, notes) = session.page(query)
        var css: [String: String] = [:]
        for note in notes where css[String(note.noteTypeID)] == nil {
            css[String(note.noteTypeID)] = session.css(forNoteType: note.noteTypeID)
        }
        return [
            "total": total, "page": query.page, "size": query.pageSize, "css": css,
            "notes": notes.map { note -> [String: Any] in
                [
                    "id": String(note.id), "excluded": note.excluded, "note_type": String(note.noteTypeID),
                    "note_type_name": note.noteTypeName, "deck": note.deck, "tags": note.tags, "reviews": note.reviews,
                    "findings": note.findings.map {
                        ["kind": $0.kind, "label": FindingLabels.label($0.kind), "category": $0.category.rawValue,
                         "text": $0.text, "detector": $0.detector, "where": Self.place($0.field)]
                    },
                    "cards": note.cards.map { ["name": $0.name, "question": $0.question, "answer": $0.answer] },
                ]
            },
        ]
    }

    static func place(_ field: Int) -> String {
        switch field {
        case Finding.tagsField: return "tags"
        case Finding.mediaNameField: return "media file name"
        case Finding.surveyField: return "survey"
        default: return "field \(field + 1)"
        }
    }

    func page() -> Response {
        let nonce = Self.randomToken(bytes: 18)
        let html = ReviewAssets.page.replacingOccurrences(of: "{{CSRF}}", with: csrfToken)
            .replacingOccurrences(of: "{{NONCE}}", with: nonce)
        var response = Self.raw(.ok, Data(html.utf8), type: "text/html; charset=utf-8", nonce: nonce)
        response.headers[FieldName("Cross-Origin-Opener-Policy")!] = "same-origin"
        return response
    }

    // MARK: Responses

    /// The policy every response carries. Scripts only from this server's files, no inline script, no
    /// event handler attributes; the only `<style>` elements allowed are the card styles the page adds
    /// with this response's nonce; nothing from anywhere else, no frames, no form posts, no plugins.
    public static func contentSecurityPolicy(nonce: String?) -> String {
        let styleElements = nonce.map { "'self' 'nonce-\($0)'" } ?? "'self'"
        return "default-src 'none'; script-src 'self'; style-src-elem \(styleElements); style-src-attr 'unsafe-inline'; "
            + "img-src 'self' data:; font-src 'none'; connect-src 'self'; media-src 'none'; object-src 'none'; "
            + "frame-src 'none'; child-src 'none'; worker-src 'none'; manifest-src 'none'; form-action 'none'; "
            + "frame-ancestors 'none'; base-uri 'none'"
    }

    static func headers(type: String, nonce: String? = nil) -> HTTPFields {
        [
            .contentType: type,
            .cacheControl: "no-store",
            FieldName("Content-Security-Policy")!: contentSecurityPolicy(nonce: nonce),
            FieldName("X-Content-Type-Options")!: "nosniff",
            FieldName("Referrer-Policy")!: "no-referrer",
            FieldName("X-Frame-Options")!: "DENY",
            FieldName("Cross-Origin-Resource-Policy")!: "same-origin",
            FieldName("Permissions-Policy")!: "camera=(), microphone=(), geolocation=(), payment=()",
        ]
    }

    static func raw(_ status: HTTPResponse.Status, _ data: Data, type: String, nonce: String? = nil) -> Response {
        Response(status: status, headers: headers(type: type, nonce: nonce), body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func asset(_ text: String, type: String) -> Response { raw(.ok, Data(text.utf8), type: type) }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        raw(status, Data((text.isEmpty ? "" : text + "\n").utf8), type: "text/plain; charset=utf-8")
    }

    static func json(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return raw(status, data, type: "application/json; charset=utf-8")
    }
}

/// Sends every request, whatever its path or method, through [ReviewServer.respond].
public struct ReviewResponder: HTTPResponder {
    public typealias Context = BasicRequestContext
    let server: ReviewServer

    public func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        await server.respond(to: request)
    }
}

typealias FieldName = HTTPFields.Element.Name
