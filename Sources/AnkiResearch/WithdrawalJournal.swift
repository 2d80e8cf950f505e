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
/// request. A request counts as received only once its line is complete, written and `fsync`ed. A
/// line torn by a crash or a full disk was never acknowledged: the writer cuts it off (`JournalWriter`);
/// readers read complete lines only and skip a damaged one.
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
///
/// The file always holds complete lines up to `end`, the offset the writer knows to be good. A write
/// that ends short (disk full) or fails is cut back to the last complete line at once, and again
/// before the next write if that cut failed, so a record never starts in the middle of a torn one and
/// every acknowledged record stays readable. The same cut repairs a line torn by a crash on start
/// (it needs no free space, unlike closing the line). A failure does not stick: each request tries
/// again, so the writer recovers by itself when space returns. One writer per journal (`flock`).
public final class JournalWriter: @unchecked Sendable {
    public let url: URL
    public let journalID: String
    private let fd: Int32
    private let condition = NSCondition()
    private var pending: [(Data, CheckedContinuation<Void, Error>)] = []
    private var running = true
    private var thread: Thread?
    private let stopped = DispatchSemaphore(value: 0)

    /// Guards the file's state below (the flush thread and health checks both use it).
    private let io = NSLock()
    /// Every byte before `end` belongs to a complete line.
    private var end: Int64
    /// Bytes after `end` that a failed cut left behind; cut again before anything else is written.
    private var tailDirty = false
    /// `errno` of the last failed write or sync; nil once one succeeds.
    private var lastFailure: Int32?

    /// The longest line a record takes (all its fields have a fixed length), with a margin.
    static let recordBytes = WithdrawalRecord(receipt: WithdrawalRecord.newReceipt(), receivedAt: Clock.isoNow(),
                                              tokenSHA256: String(repeating: "0", count: 64)).line.count + 16

    public struct WriteFailed: Error, CustomStringConvertible {
        public var description: String { "The withdrawal journal could not be written (disk full?)." }
    }

    public init(url: URL) throws {
        self.url = url
        let fd = open(url.path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ResearchError(.journal, "Cannot open or create the withdrawal journal \(url.path).") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            Foundation.close(fd)
            throw ResearchError(.serverFailure, "The withdrawal journal \(url.path) is in use by another "
                                + "`research serve-withdrawals`: one endpoint per journal.")
        }
        self.fd = fd
        var info = stat()
        fstat(fd, &info)
        if info.st_size == 0 {
            let id = UUID().uuidString.lowercased()
            let header = "{\"format\":\"\(WithdrawalJournal.format)\",\"version\":1,\"journal_id\":\"\(id)\",\"created_at\":\"\(Clock.isoNow())\"}\n"
            guard Data(header.utf8).withUnsafeBytes({ Durable.writeAll(fd, $0) }), fsync(fd) == 0 else {
                _ = ftruncate(fd, 0)   // no half header: the next start writes it anew
                Foundation.close(fd)
                throw ResearchError(.journal, "Cannot write the withdrawal journal \(url.path) (disk full?).")
            }
            Durable.syncDirectory(url.deletingLastPathComponent())
            journalID = id
            end = Int64(header.utf8.count)
        } else {
            do {
                journalID = try WithdrawalJournal.read(url, from: Int64(info.st_size)).journalID
                end = try Self.endOfLastLine(fd, size: Int64(info.st_size))
            } catch {
                Foundation.close(fd)
                throw error
            }
            // A line torn by a crash: cut it off (never acknowledged; the cut needs no free space).
            tailDirty = end < Int64(info.st_size)
            _ = repairTail()
        }
        let thread = Thread { [unowned self] in self.flushLoop() }
        thread.name = "withdrawal-journal"
        self.thread = thread
        thread.start()
    }

    /// The offset just after the last newline at or before `size`.
    static func endOfLastLine(_ fd: Int32, size: Int64) throws -> Int64 {
        var position = size
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while position > 0 {
            let length = Int(min(Int64(buffer.count), position))
            let start = position - Int64(length)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, length, off_t(start)) }
            if n < 0 && errno == EINTR { continue }
            guard n == length else { throw ResearchError(.journal, "Cannot read the withdrawal journal.") }
            if let last = buffer[0..<length].lastIndex(of: 0x0A) { return start + Int64(last) + 1 }
            position = start
        }
        return 0
    }

    /// Cuts whatever follows `end`. Call with `io` held (or before the flush thread starts).
    private func repairTail() -> Bool {
        guard tailDirty else { return true }
        if ftruncate(fd, off_t(end)) == 0 && fsync(fd) == 0 { tailDirty = false }
        return !tailDirty
    }

    /// Whether a complete record can be written now: the end of the journal is clean, no write failed
    /// for a reason other than space since the last success, and a record fits (in the journal's
    /// last allocated block or in the free space of its file system).
    public var healthy: Bool {
        condition.lock()
        let isRunning = running
        condition.unlock()
        guard isRunning else { return false }
        io.lock()
        defer { io.unlock() }
        guard repairTail() else { return false }
        if let failure = lastFailure, failure != ENOSPC, failure != EDQUOT { return false }
        var info = stat()
        var fs = statvfs()
        guard fstat(fd, &info) == 0, fstatvfs(fd, &fs) == 0 else { return false }
        let slack = Int64(info.st_blocks) * 512 - Int64(info.st_size)
        let free = Int64(fs.f_bavail) * Int64(fs.f_frsize)
        return max(slack, free) >= Int64(Self.recordBytes)
    }

    /// Appends a record; returns once it is durably on disk, complete, on a line of its own.
    public func append(_ record: WithdrawalRecord) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            condition.lock()
            if !running {
                condition.unlock()
                continuation.resume(throwing: WriteFailed())
                return
            }
            pending.append((record.line, continuation))
            condition.signal()
            condition.unlock()
        }
    }

    /// Writes a batch of lines; returns how many of them (from the first) are complete and synced.
    private func write(_ lines: [Data]) -> Int {
        io.lock()
        defer { io.unlock() }
        guard repairTail() else { return 0 }
        var data = Data()
        for line in lines { data.append(line) }
        var written = 0
        var failure: Int32?
        data.withUnsafeBytes { buffer in
            while written < buffer.count {
                let n = Foundation.write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    failure = n < 0 ? errno : ENOSPC
                    break
                }
                written += n
            }
        }
        // The complete lines among what was written; anything after them is cut.
        var complete = 0
        var completeBytes = 0
        for line in lines {
            guard completeBytes + line.count <= written else { break }
            completeBytes += line.count
            complete += 1
        }
        if completeBytes < written {
            tailDirty = true
            end += Int64(completeBytes)
            _ = repairTail()
        } else {
            end += Int64(completeBytes)
        }
        if fsync(fd) != 0 {
            // Whether the lines reached the disk is unknown: none is acknowledged. They are complete
            // lines, so they stay (a reader may already have seen them) and are harmless if applied.
            lastFailure = errno
            return 0
        }
        lastFailure = failure
        return complete
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
            condition.unlock()

            let complete = write(batch.map(\.0))
            for (index, (_, continuation)) in batch.enumerated() {
                if index < complete { continuation.resume() } else { continuation.resume(throwing: WriteFailed()) }
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
