import AnkiSubmission
import Crypto
import Foundation
import NIOCore

/// The folder `research serve` keeps uploaded submissions in, for `research ingest SPOOL`.
///
/// An upload is written under a hidden temporary name (`.upload-<random>.part`, created new, mode
/// 0600) while it arrives, hashed on the way; once complete it is fsynced, checked quickly, and renamed
/// to `<sha256>.sqlite`, then the folder is fsynced. Ingest looks only at visible `*.sqlite` files, so
/// an upload cut off by a crash or `kill -9` is never ingested (and is removed when the server starts
/// again). The name is the content's hash: the same bytes sent again find their file and get the same
/// receipt, and no second file is made.
public final class IntakeSpool: Sendable {
    public let folder: URL

    static let temporaryPrefix = ".upload-"
    static let temporarySuffix = ".part"

    /// Opens (creating, mode 0700) the spool folder and removes uploads left unfinished by a crash.
    public init(folder: URL) throws {
        self.folder = folder
        var info = stat()
        if lstat(folder.path, &info) != 0 {
            guard mkdir(folder.path, 0o700) == 0 else {
                throw ResearchError(.spool, "Cannot create the spool folder \(folder.path) (\(String(cString: strerror(errno)))).")
            }
        } else if (info.st_mode & S_IFMT) != S_IFDIR {
            throw ResearchError(.spool, "The spool \(folder.path) is not a folder (symbolic links are not followed).")
        }
        guard access(folder.path, W_OK | X_OK) == 0 else {
            throw ResearchError(.spool, "The spool folder \(folder.path) is not writable.")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix(Self.temporaryPrefix) && name.hasSuffix(Self.temporarySuffix) {
            unlink(folder.appendingPathComponent(name).path)
        }
    }

    /// Whether the folder can still be written (for `/health`).
    public var healthy: Bool { access(folder.path, W_OK | X_OK) == 0 }

    /// A new upload's private temporary file.
    func begin() throws -> Upload {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<8 {
            let name = Self.temporaryPrefix + String(random.next(), radix: 16) + Self.temporarySuffix
            let url = folder.appendingPathComponent(name)
            let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 { return Upload(fd: fd, url: url) }
            if errno != EEXIST { break }
        }
        throw ResearchError(.spool, "cannot create a file in the spool")
    }

    /// The receipt for content already in the spool, if it is there.
    func existing(sha256: String, bytes: Int64) -> IntakeReceipt? {
        var info = stat()
        guard lstat(folder.appendingPathComponent(sha256 + ".sqlite").path, &info) == 0,
              (info.st_mode & S_IFMT) == S_IFREG, Int64(info.st_size) == bytes else { return nil }
        return IntakeReceipt(sha256: sha256, bytes: bytes)
    }

    public enum Outcome: Sendable {
        case stored(IntakeReceipt)
        case duplicate(IntakeReceipt)
        case refused(Rejection)
    }

    /// Completes an upload: durably on disk, checked, then under its final name (or discarded).
    func finish(_ upload: Upload) throws -> Outcome {
        let (sha, bytes) = upload.digest()
        if let receipt = existing(sha256: sha, bytes: bytes) {
            upload.discard()
            return .duplicate(receipt)
        }
        guard fsync(upload.fd) == 0 else {
            upload.discard()
            throw ResearchError(.spool, "cannot flush an upload to disk")
        }
        upload.closeFile()
        if let rejection = SubmissionCheck.quick(upload.url) {
            upload.discard()
            return .refused(rejection)
        }
        let final = folder.appendingPathComponent(sha + ".sqlite")
        // link(2), not rename(2): a concurrent upload of the same bytes that finished first keeps its
        // file, and this one is a duplicate of it.
        if link(upload.url.path, final.path) != 0 {
            let failure = errno
            upload.discard()
            if failure == EEXIST, let receipt = existing(sha256: sha, bytes: bytes) { return .duplicate(receipt) }
            throw ResearchError(.spool, "cannot name an upload in the spool")
        }
        upload.discard()
        Durable.syncDirectory(folder)
        return .stored(IntakeReceipt(sha256: sha, bytes: bytes))
    }
}

/// One upload as it arrives: its temporary file, the bytes so far and their running SHA-256.
final class Upload: @unchecked Sendable {
    private(set) var fd: Int32
    let url: URL
    private var hasher = SHA256()
    private(set) var bytes: Int64 = 0

    init(fd: Int32, url: URL) {
        self.fd = fd
        self.url = url
    }

    func write(_ buffer: ByteBuffer) throws {
        let ok = buffer.withUnsafeReadableBytes { raw -> Bool in
            hasher.update(bufferPointer: raw)
            return Durable.writeAll(fd, raw)
        }
        guard ok else { throw ResearchError(.spool, "cannot write an upload to the spool (disk full?)") }
        bytes += Int64(buffer.readableBytes)
    }

    func digest() -> (String, Int64) { (Array(hasher.finalize()).hex, bytes) }

    func closeFile() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    /// Closes and removes the temporary file.
    func discard() {
        closeFile()
        unlink(url.path)
    }

    deinit { if fd >= 0 { close(fd) } }
}

/// What the participant gets for a submission that reached the spool. It depends only on the content,
/// so a retry of the same bytes gets the very same receipt.
public struct IntakeReceipt: Sendable, Equatable {
    public let sha256: String
    public let bytes: Int64

    /// A short number to quote: the first 16 hex digits of the content's SHA-256, in groups of four.
    public var number: String {
        let head = Array(sha256.uppercased().prefix(16))
        return stride(from: 0, to: head.count, by: 4).map { String(head[$0..<min($0 + 4, head.count)]) }
            .joined(separator: "-")
    }

    public var fields: [String: Any] {
        ["status": "received", "receipt": number, "sha256": sha256, "bytes": bytes,
         "message": "The study received your submission. Keep this receipt; it names exactly this file."]
    }
}
