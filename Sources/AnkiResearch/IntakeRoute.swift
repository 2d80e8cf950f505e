import AnkiSubmission
import Foundation
import Hummingbird

/// `POST /submissions` of `research serve`: the submission file is the body. It is streamed into the
/// spool (never held in memory), and answered 202 with a receipt once it is durably there under its
/// final name; the same bytes again get 200 and the same receipt. Statuses:
/// 202 stored, 200 already stored, 413 over `--max-upload` (at once when the length is announced, else
/// as soon as the body grows past it), 415 not a submission's content type, 422 not a submission
/// (not SQLite, another schema version, the quick structural check failed; nothing kept), 429 too
/// many uploads from one client, 503 the spool cannot be written (with Retry-After).
enum IntakeRoute {
    static let contentTypes: Set<String> = ["application/vnd.sqlite3", "application/x-sqlite3", "application/octet-stream"]

    static func add(to router: Router<WithdrawalRequestContext>, options: IntakeOptions, study: StudyProfile?,
                    client: @escaping @Sendable (Request, WithdrawalRequestContext) -> String) {
        let spool = options.spool
        let limiter = RateLimiter(perMinute: options.uploadsPerMinute, burst: options.uploadBurst)
        let maxBytes = options.maxUploadBytes
        let contact = study.map { " If this keeps happening, contact \($0.contactLine)." } ?? ""

        router.post("/submissions") { request, context in
            func answer(_ status: HTTPResponse.Status, _ fields: [String: Any], extra: HTTPFields = [:]) -> Response {
                var response = WithdrawalServer.json(status, fields)
                for field in extra { response.headers.append(field) }
                return response
            }
            // The body is not read on a refusal: the connection closes rather than draining it.
            let close: HTTPFields = [.connection: "close"]
            if let wait = limiter.take(client(request, context)) {
                return answer(.tooManyRequests, ["status": "rate-limited",
                                                 "error": "Too many uploads from your address; try again in \(wait) s."],
                              extra: [.connection: "close", .retryAfter: String(wait)])
            }
            let type = (request.headers[.contentType] ?? "").split(separator: ";").first
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard contentTypes.contains(type) else {
                return answer(.unsupportedMediaType, ["status": "invalid",
                    "error": "Send the submission file as the body, as application/vnd.sqlite3 or application/octet-stream."],
                              extra: close)
            }
            let tooLarge: [String: Any] = ["status": "too-large", "error": "The upload is larger than \(maxBytes) bytes."]
            if let length = request.headers[.contentLength].flatMap({ Int64($0) }), length > maxBytes {
                return answer(.contentTooLarge, tooLarge, extra: close)
            }
            let upload: Upload
            do { upload = try spool.begin() } catch {
                return answer(.serviceUnavailable, ["status": "error",
                    "error": "The study cannot store uploads right now; please try again later." + contact],
                              extra: [.connection: "close", .retryAfter: "60"])
            }
            do {
                for try await chunk in request.body {
                    if upload.bytes + Int64(chunk.readableBytes) > maxBytes {
                        upload.discard()
                        return answer(.contentTooLarge, tooLarge, extra: close)
                    }
                    try upload.write(chunk)
                }
            } catch is ResearchError {
                upload.discard()
                return answer(.serviceUnavailable, ["status": "error",
                    "error": "The study cannot store uploads right now (its disk may be full); please try again later." + contact],
                              extra: [.connection: "close", .retryAfter: "60"])
            } catch {
                // The client went away or sent a broken body: nothing is kept.
                upload.discard()
                throw error
            }
            guard upload.bytes > 0 else {
                upload.discard()
                return answer(.badRequest, ["status": "invalid", "error": "The upload is empty."])
            }
            let outcome: IntakeSpool.Outcome
            do {
                outcome = try await offload { try spool.finish(upload) }
            } catch {
                upload.discard()
                return answer(.serviceUnavailable, ["status": "error",
                    "error": "The study cannot store uploads right now (its disk may be full); please try again later." + contact],
                              extra: [.retryAfter: "60"])
            }
            switch outcome {
            case .stored(let receipt):
                return answer(.accepted, receipt.fields)
            case .duplicate(let receipt):
                return answer(.ok, receipt.fields)
            case .refused(let rejection):
                return answer(.unprocessableContent, [
                    "status": "refused", "reason": rejection.category,
                    "error": "This is not a submission the study can take (\(rejection.category): \(rejection.detail)). "
                        + "Send the anki-submission.sqlite file that `anki-submit prepare` wrote." + contact,
                ])
            }
        }
    }

    /// Runs blocking work (fsync, the SQLite check) off the server's concurrency threads.
    static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}
