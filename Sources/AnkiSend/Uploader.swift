import AnkiSubmission
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOSSL

/// Sends a finished submission to the study's intake (`research serve`'s `POST /submissions`) with
/// AsyncHTTPClient: HTTPS with certificate verification against the system's trust store (plus
/// `caFile` for a private CA), plain http only to this computer, no redirects. The file is streamed
/// from disk. Only the submission's bytes leave the computer (it holds the token's hash, never the
/// token). A transient failure (no connection, 5xx, 429) is retried a few times: the server keeps one
/// file per content, so a retry can never make a second copy.
public struct SubmissionSender: Sendable {
    public var url: URL
    public var caFile: String?
    public var attempts = 3
    /// Seconds to wait before the second attempt (doubled each time).
    public var retryDelay = 1.0
    /// Seconds to get a connection (AsyncHTTPClient keeps trying a refused one until then).
    public var connectTimeout: Int64 = 5
    /// Seconds the whole upload (one attempt) may take.
    public var timeout: Int64 = 600

    public init(url: URL, caFile: String? = nil) {
        self.url = url
        self.caFile = caFile
    }

    /// The study's answer to a successful upload.
    public struct Receipt: Sendable, Equatable {
        public var number: String
        public var sha256: String
        public var bytes: Int64
        /// The JSON the server sent, as received (for the receipt file).
        public var json: Data
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public enum Kind: Sendable {
            /// The address is not allowed (plain http to another computer, not http(s), a CA file that cannot be read).
            case invalidAddress
            /// No connection, TLS failure, time-out, or the server is busy (5xx, 429): try again later.
            case unreachable
            /// The server answered and refused this submission (4xx).
            case refused
        }

        public let kind: Kind
        public let description: String
        /// Whether trying again may help (not for a certificate that cannot be verified).
        public let retryable: Bool

        public init(kind: Kind, description: String, retryable: Bool = true) {
            self.kind = kind
            self.description = description
            self.retryable = retryable
        }
    }

    /// Whether `url` may be used: https anywhere, http only to a loopback address.
    public static func check(_ url: URL) throws(Failure) {
        guard let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), !host.isEmpty else {
            throw Failure(kind: .invalidAddress, description: "the study's address is not an http(s) address")
        }
        guard url.user == nil, url.password == nil else {
            throw Failure(kind: .invalidAddress, description: "the study's address must not hold a user name or password")
        }
        switch scheme {
        case "https": return
        case "http":
            guard isLoopback(host) else {
                throw Failure(kind: .invalidAddress,
                              description: "plain http is allowed only to this computer (127.0.0.1, ::1, localhost); "
                                  + "the study's address must start with https://")
            }
        default:
            throw Failure(kind: .invalidAddress, description: "the study's address must start with https://")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if bare == "localhost" || bare == "::1" { return true }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Uploads `file`; `progress(sent, total)` is called as bytes go out.
    public func send(_ file: URL, progress: @escaping @Sendable (Int64, Int64) -> Void = { _, _ in }) async throws(Failure)
        -> Receipt
    {
        try Self.check(url)
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            guard FileManager.default.isReadableFile(atPath: caFile),
                  (try? NIOSSLCertificate.fromPEMFile(caFile))?.isEmpty == false else {
                throw Failure(kind: .invalidAddress, description: "the CA file \(caFile) cannot be read as PEM certificates")
            }
            tls.additionalTrustRoots = [.file(caFile)]
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(connectTimeout), read: .seconds(120)))
        configuration.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var outcome: Result<Receipt, Failure> = .failure(
            Failure(kind: .unreachable, description: "the study's server could not be reached"))
        for attempt in 0..<max(1, attempts) {
            if attempt > 0 {
                try? await Task.sleep(nanoseconds: UInt64(retryDelay * pow(2, Double(attempt - 1)) * 1e9))
            }
            do throws(Failure) {
                outcome = .success(try await once(client, file, progress: progress))
                break
            } catch let failure {
                outcome = .failure(failure)
                if failure.kind != .unreachable || !failure.retryable { break }
            }
        }
        try? await client.shutdown()
        return try outcome.get()
    }

    private func once(_ client: HTTPClient, _ file: URL, progress: @escaping @Sendable (Int64, Int64) -> Void)
        async throws(Failure) -> Receipt
    {
        let chunks: FileChunks
        do { chunks = try FileChunks(file, progress: progress) } catch {
            throw Failure(kind: .invalidAddress, description: "the submission \(file.path) cannot be read")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/vnd.sqlite3")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .stream(chunks, length: .known(chunks.size))
        let status: UInt
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: .seconds(timeout))
            status = response.status.code
            body = try await response.body.collect(upTo: 64 * 1024)
        } catch {
            throw Failure(kind: .unreachable, description: Self.explain(error), retryable: !Self.isTLS(error))
        }
        let data = Data(body.readableBytesView)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        switch status {
        case 200, 201, 202:
            guard let object, let number = object["receipt"] as? String, let sha = object["sha256"] as? String,
                  let bytes = (object["bytes"] as? NSNumber)?.int64Value else {
                throw Failure(kind: .unreachable, description: "the server answered \(status) without a receipt "
                              + "(is the address the study's intake, ending in /submissions?)")
            }
            guard sha == chunks.sha256(), bytes == chunks.size else {
                throw Failure(kind: .unreachable, description: "the server's receipt names other content than the file sent")
            }
            return Receipt(number: Self.printable(number), sha256: sha, bytes: bytes, json: data)
        case 408, 429, 500...599:
            throw Failure(kind: .unreachable, description: "the server is busy or failed (HTTP \(status))"
                          + ((object?["error"] as? String).map { ": " + Self.printable($0) } ?? ""))
        default:
            throw Failure(kind: .refused, description: "the server refused the submission (HTTP \(status))"
                          + ((object?["error"] as? String).map { ": " + Self.printable($0) } ?? ""))
        }
    }

    static func isTLS(_ error: any Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError || String(describing: type(of: error)).contains("SSL")
    }

    static func explain(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout, .deadlineExceeded, .readTimeout:
                return "the connection to the study's server timed out"
            case .remoteConnectionClosed:
                return "the study's server closed the connection"
            default:
                return "the study's server could not be reached (\(printable(String(describing: error))))"
            }
        }
        if isTLS(error) {
            return "the study's server could not be verified (TLS: \(printable(String(describing: error))))"
        }
        return "the study's server could not be reached (\(printable(String(describing: error))))"
    }

    /// Server-supplied text for a terminal: control characters shown as `?`, at most 300 characters.
    static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(300).map {
            $0.properties.generalCategory == .control ? "?" : $0
        }))
    }
}

/// The file as an async sequence of 256 KiB buffers, read as the upload goes (never the whole file in
/// memory), hashing what was read so the receipt can be checked against what was sent.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let url: URL
    let size: Int64
    let progress: @Sendable (Int64, Int64) -> Void
    private let digest = DigestBox()

    init(_ url: URL, progress: @escaping @Sendable (Int64, Int64) -> Void) throws {
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        guard let size = (attributes[.size] as? NSNumber)?.int64Value else { throw CocoaError(.fileReadUnknown) }
        self.url = url
        self.size = size
        self.progress = progress
    }

    func sha256() -> String? { digest.value }

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle
        let size: Int64
        let progress: @Sendable (Int64, Int64) -> Void
        let digest: DigestBox
        var sent: Int64 = 0
        var hasher = SHA256()

        mutating func next() async throws -> ByteBuffer? {
            guard let data = try handle.read(upToCount: 256 * 1024), !data.isEmpty else {
                try? handle.close()
                digest.value = hasher.finalize().map { String(format: "%02x", $0) }.joined()
                return nil
            }
            sent += Int64(data.count)
            hasher.update(data: data)
            progress(sent, size)
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        let handle = (try? FileHandle(forReadingFrom: url)) ?? FileHandle.nullDevice
        return AsyncIterator(handle: handle, size: size, progress: progress, digest: digest)
    }
}

final class DigestBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?
    var value: String? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// What both the terminal and the page do around an upload: the receipt file beside the submission,
/// and the words for a failure (where the file is, whom to contact).
public enum StudySending {
    /// `anki-submission.sqlite` -> `anki-submission.receipt.json`, in the same folder.
    public static func receiptURL(for submission: URL) -> URL {
        submission.deletingPathExtension().appendingPathExtension("receipt.json")
    }

    /// Saves the study's receipt beside the submission (a temporary name, then renamed; mode 0600).
    /// It holds the receipt number, the content's SHA-256, the size, the address and the time: no token.
    @discardableResult
    public static func saveReceipt(_ receipt: SubmissionSender.Receipt, url: URL, for submission: URL) throws -> URL {
        let target = receiptURL(for: submission)
        let object: [String: Any] = [
            "receipt": receipt.number, "sha256": receipt.sha256, "bytes": receipt.bytes,
            "sent_to": url.absoluteString, "submission": submission.lastPathComponent,
            "sent_at": ISO8601DateFormatter().string(from: Date()),
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        let temp = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).partial")
        unlink(temp.path)
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission) }
        let ok = (data + Data("\n".utf8)).withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(temp.path, target.path) == 0 else {
            unlink(temp.path)
            throw CocoaError(.fileWriteOutOfSpace)
        }
        return target
    }

    /// The participant's way on when sending failed: the file stays, and whom to send it to.
    public static func fallback(submission: URL, study: StudyProfile?) -> String {
        var text = "Your submission is still on this computer: \(submission.path). "
        if let study {
            text += "Send it to \(study.name) as the study's instructions say, or contact \(study.contact)."
        } else {
            text += "Send it as the study's instructions say."
        }
        return text + " Never send your withdrawal token with it."
    }
}
