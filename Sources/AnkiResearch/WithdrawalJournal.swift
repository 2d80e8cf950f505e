import Foundation

/// One withdrawal request as the endpoint recorded it. The journal holds the SHA-256 of the token
/// (what submissions carry), never the token text itself.
public struct WithdrawalRecord: Sendable, Equatable {
    public let receipt: String
    public let receivedAt: String
    public let tokenSHA256: String

    public init(receipt: String, receivedAt: String, tokenSHA256: String) {
        self.receipt = receipt
        self.receivedAt = receivedAt
        self.tokenSHA256 = tokenSHA256
    }

    var line: Data {
        // Fixed field order, no escaping needed: every value is [A-Z0-9:T-] or hex.
        Data("{\"receipt\":\"\(receipt)\",\"received_at\":\"\(receivedAt)\",\"token_sha256\":\"\(tokenSHA256)\"}\n".utf8)
    }

    init?(line: Data) {
        guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any],
              let receipt = object["receipt"] as? String, receipt.hasPrefix("W-"), receipt.count <= 40,
              let received = object["received_at"] as? String, received.count <= 40,
              let hash = object["token_sha256"] as? String, hash.utf8.count == 64,
              hash.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
        else { return nil }
        self.init(receipt: receipt, receivedAt: received, tokenSHA256: hash)
    }

    /// A receipt id: `W-` and 80 random bits in four groups of Crockford base 32. It says nothing about
    /// the token or whether it matched.
    public static func newReceipt() -> String {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        let chars = (0..<16).map { _ in alphabet[Int.random(in: 0..<32, using: &rng)] }
        return "W-" + stride(from: 0, to: 16, by: 4).map { String(chars[$0..<$0 + 4]) }.joined(separator: "-")
    }
}

/// The append-only withdrawal journal: a header line with the journal's id, then one JSON line per
/// request. A request counts as received only once its line is written and `fsync`ed. A line torn by
/// a crash is closed with a newline on the next start and skipped by readers.
public enum WithdrawalJournal {
    static let format = "anki-submit withdrawal journal"

    /// The journal's id, from its header line.
    public static func identify(_ url: URL) throws -> String {
        try read(url, from: 0, headerOnly: true).journalID
    }

    /// Reads complete lines from `offset` (0 = the start). Returns the journal id, the offset of the
    /// first record line, and each record with the offset just after it (`nil` for a damaged line).
    public static func read(_ url: URL, from offset: Int64, headerOnly: Bool = false) throws
        -> (journalID: String, firstRecord: Int64, records: [(record: WithdrawalRecord?, end: Int64)], size: Int64)
    {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ResearchError(.journal, "Cannot read the withdrawal journal \(url.path).")
        }
        defer { close(fd) }
        func readAll(from start: Int64, limit: Int = .max) throws -> Data {
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var offset = start
            while data.count < limit {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, limit - data.count), off_t(offset)) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw ResearchError(.journal, "Cannot read the withdrawal journal \(url.path).") }
                if n == 0 { break }
                data.append(contentsOf: buffer[0..<n])
                offset += Int64(n)
            }
            return data
        }
        let headerChunk = try readAll(from: 0, limit: 4096)
        guard let newline = headerChunk.firstIndex(of: 0x0A),
              let header = (try? JSONSerialization.jsonObject(with: headerChunk[headerChunk.startIndex..<newline])) as? [String: Any],
              header["format"] as? String == format, let id = header["journal_id"] as? String
        else {
            throw ResearchError(.journal, "\(url.path) is not an anki-submit withdrawal journal.")
        }
        let firstRecord = Int64(newline - headerChunk.startIndex + 1)
        var info = stat()
        fstat(fd, &info)
        let size = Int64(info.st_size)
        if headerOnly { return (id, firstRecord, [], size) }
        let start = max(offset, firstRecord)
        guard start <= size else {
            throw ResearchError(.journal, "The withdrawal journal \(url.path) is shorter than the part already applied "
                                + "(\(start) bytes): it was truncated or replaced. Restore the original journal.")
        }
        let data = try readAll(from: start)
        var records: [(WithdrawalRecord?, Int64)] = []
        var lineStart = data.startIndex
        while let end = data[lineStart...].firstIndex(of: 0x0A) {
            let line = data[lineStart..<end]
            let endOffset = start + Int64(end - data.startIndex + 1)
            if !line.isEmpty { records.append((WithdrawalRecord(line: Data(line)), endOffset)) }
            lineStart = end + 1
        }
        return (id, firstRecord, records, size)
    }
}

/// Appends records with group commit: requests that arrive while a flush is running are written and
/// `fsync`ed together, and each caller resumes only after its own line is on disk.
public final class JournalWriter: @unchecked Sendable {
    public let url: URL
    public let journalID: String
    private let fd: Int32
    private let condition = NSCondition()
    private var pending: [(Data, CheckedContinuation<Void, Error>)] = []
    private var running = true
    private var failed = false
    private var thread: Thread?
    private let stopped = DispatchSemaphore(value: 0)

    public struct WriteFailed: Error, CustomStringConvertible {
        public var description: String { "The withdrawal journal could not be written (disk full?)." }
    }

    public init(url: URL) throws {
        self.url = url
        let fd = open(url.path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ResearchError(.journal, "Cannot open or create the withdrawal journal \(url.path).") }
        self.fd = fd
        var info = stat()
        fstat(fd, &info)
        if info.st_size == 0 {
            let id = UUID().uuidString.lowercased()
            let header = "{\"format\":\"\(WithdrawalJournal.format)\",\"version\":1,\"journal_id\":\"\(id)\",\"created_at\":\"\(Clock.isoNow())\"}\n"
            guard Data(header.utf8).withUnsafeBytes({ Durable.writeAll(fd, $0) }), fsync(fd) == 0 else {
                Foundation.close(fd)
                throw ResearchError(.journal, "Cannot write the withdrawal journal \(url.path).")
            }
            Durable.syncDirectory(url.deletingLastPathComponent())
            journalID = id
        } else {
            do {
                journalID = try WithdrawalJournal.read(url, from: Int64(info.st_size)).journalID
            } catch {
                Foundation.close(fd)
                throw error
            }
            // Close a line torn by a crash so the next record starts on its own line.
            var last: UInt8 = 0
            if pread(fd, &last, 1, off_t(info.st_size - 1)) == 1, last != 0x0A {
                _ = withUnsafeBytes(of: UInt8(0x0A)) { Durable.writeAll(fd, $0) }
                fsync(fd)
            }
        }
        let thread = Thread { [unowned self] in self.flushLoop() }
        thread.name = "withdrawal-journal"
        self.thread = thread
        thread.start()
    }

    /// True while every write so far succeeded.
    public var healthy: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !failed && running
    }

    /// Appends a record; returns once it is durably on disk.
    public func append(_ record: WithdrawalRecord) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            condition.lock()
            if failed || !running {
                condition.unlock()
                continuation.resume(throwing: WriteFailed())
                return
            }
            pending.append((record.line, continuation))
            condition.signal()
            condition.unlock()
        }
    }

    private func flushLoop() {
        while true {
            condition.lock()
            while pending.isEmpty && running { condition.wait() }
            if pending.isEmpty && !running {
                condition.unlock()
                break
            }
            let batch = pending
            pending = []
            let alreadyFailed = failed
            condition.unlock()

            var data = Data()
            for (line, _) in batch { data.append(line) }
            let ok = !alreadyFailed && data.withUnsafeBytes({ Durable.writeAll(fd, $0) }) && fsync(fd) == 0
            if !ok {
                condition.lock()
                failed = true
                condition.unlock()
            }
            for (_, continuation) in batch {
                if ok { continuation.resume() } else { continuation.resume(throwing: WriteFailed()) }
            }
        }
        stopped.signal()
    }

    /// Flushes what is pending and closes the file.
    public func close() {
        condition.lock()
        let wasRunning = running
        running = false
        condition.signal()
        condition.unlock()
        if wasRunning {
            stopped.wait()
            Foundation.close(fd)
        }
    }

    deinit {
        close()
    }
}
