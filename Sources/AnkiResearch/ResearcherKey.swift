import AnkiSubmission
import Crypto
import Foundation

/// The researcher's secret: 256 random bits in a file only its owner can read. Token hashes from
/// submissions are stored only as HMAC-SHA256 under this key, so a leaked working dataset cannot be
/// used to test whether a token (or a submission file) is in it. Keep the file away from the dataset.
public struct ResearcherKey: Sendable, CustomStringConvertible {
    static let header = "anki-submit researcher key v1"
    private let bytes: [UInt8]

    /// Never prints the key.
    public var description: String { "<researcher key>" }

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// HMAC-SHA256 of `text` (a submission's token hash, a file's SHA-256), lower-case hex.
    public func hmac(_ text: String) -> String {
        Array(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: bytes))).hex
    }

    /// What the dataset stores to recognize its key (never the key, nor anything that tests a token).
    var check: String { hmac("anki-submit dataset key check v1") }

    /// Loads the key, or creates it (mode 0600) when the file does not exist and `create` allows.
    public static func load(_ url: URL, create: Bool) throws -> (key: ResearcherKey, created: Bool) {
        var info = stat()
        if lstat(url.path, &info) != 0 {
            guard errno == ENOENT else {
                throw ResearchError(.keyFile, "Cannot read the key file \(url.path).")
            }
            guard create else {
                throw ResearchError(.keyFile, "The key file \(url.path) does not exist. It was created by the first "
                                    + "ingest into this dataset; without it no token can be matched.")
            }
            return (try make(url), true)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ResearchError(.keyFile, "The key file \(url.path) is not a regular file.")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw ResearchError(.keyFile, "The key file \(url.path) can be read by other users; "
                                + "run `chmod 600 \(url.path)` and check who has seen it.")
        }
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw ResearchError(.keyFile, "Cannot read the key file \(url.path).")
        }
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.count >= 2, lines[0] == header, let bytes = decodeHex(lines[1]), bytes.count == 32 else {
            throw ResearchError(.keyFile, "\(url.path) is not an anki-submit researcher key file.")
        }
        return (ResearcherKey(bytes: bytes), false)
    }

    private static func make(_ url: URL) throws -> ResearcherKey {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let text = "\(header)\n\(bytes.hex)\nKeep this file private and away from the dataset; back it up.\n"
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw ResearchError(.keyFile, "Cannot create the key file \(url.path).") }
        fchmod(fd, 0o600)
        let ok = Data(text.utf8).withUnsafeBytes { Durable.writeAll(fd, $0) } && fsync(fd) == 0
        close(fd)
        guard ok else {
            unlink(url.path)
            throw ResearchError(.keyFile, "Cannot write the key file \(url.path).")
        }
        Durable.syncDirectory(url.deletingLastPathComponent())
        return ResearcherKey(bytes: bytes)
    }

    static func decodeHex(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var i = 0
        while i < chars.count {
            guard let hi = value(chars[i]), let lo = value(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
