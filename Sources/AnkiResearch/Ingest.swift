import AnkiSubmission
import Foundation
import GRDB

public struct IngestOptions: Sendable {
    /// Threads that copy, hash and audit files in parallel (the single writer runs besides them).
    public var jobs: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    public var policy: Policy = .standard
    /// Where private copies of submissions are checked (default: `$TMPDIR`).
    public var temporaryDirectory: URL?
    /// File name endings that count as submissions.
    public var extensions: [String] = ["sqlite"]

    public init() {}
}

public struct IngestFileResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case ingested(participant: Int)
        case skipped
        case quarantined
    }

    /// Path relative to the folder that was ingested.
    public let file: String
    public let outcome: Outcome
    /// Empty for ingested files, else a `Rejection.Category` text.
    public let category: String
    public let detail: String
    public let reviews: Int
    public let sha256: String?
}

public struct IngestProgress: Sendable {
    public var done = 0
    public var total = 0
    public var ingested = 0
    public var skipped = 0
    public var quarantined = 0
    public var reviews = 0
}

public struct IngestSummary: Sendable {
    public let folder: URL
    public let results: [IngestFileResult]
    public let seconds: Double
    public let keyCreated: Bool

    public var ingested: [IngestFileResult] { results.filter { if case .ingested = $0.outcome { return true } else { return false } } }
    public var skipped: [IngestFileResult] { results.filter { $0.outcome == .skipped } }
    public var quarantined: [IngestFileResult] { results.filter { $0.outcome == .quarantined } }
    public var reviewsIngested: Int { ingested.reduce(0) { $0 + $1.reviews } }

    /// The final table: counts by outcome and reason, then each quarantined file with its reason.
    public var table: String {
        var lines: [String] = []
        func row(_ label: String, _ count: Int, _ extra: String = "") {
            lines.append(label.padding(toLength: 44, withPad: " ", startingAt: 0)
                         + String(count).leftPadded(7) + (extra.isEmpty ? "" : "  " + extra))
        }
        lines.append("outcome".padding(toLength: 44, withPad: " ", startingAt: 0) + "  files")
        row("ingested", ingested.count, "\(reviewsIngested.formatted()) reviews")
        row("skipped", skipped.count)
        for (category, n) in Self.grouped(skipped) { row("  " + category, n) }
        row("quarantined", quarantined.count)
        for (category, n) in Self.grouped(quarantined) { row("  " + category, n) }
        row("total", results.count, String(format: "%.1f s", seconds))
        if !quarantined.isEmpty {
            lines.append("")
            lines.append("Quarantined (left where they are; nothing of them was added):")
            for r in quarantined { lines.append("  \(printable(r.file)): \(r.category): \(r.detail)") }
        }
        return lines.joined(separator: "\n")
    }

    static func grouped(_ results: [IngestFileResult]) -> [(String, Int)] {
        var counts: [String: Int] = [:]
        for r in results { counts[r.category, default: 0] += 1 }
        return counts.sorted { $0.key < $1.key }
    }

    /// Tab-separated report of every file not ingested: time, file, outcome, reason, detail, SHA-256.
    public var report: String {
        var out = "# anki-submit research ingest report, \(Clock.isoNow()), folder \(folder.path)\n"
        out += "file\toutcome\treason\tdetail\tsha256\n"
        for r in results {
            let outcome: String
            switch r.outcome {
            case .ingested(let p): outcome = "ingested as participant \(p)"
            case .skipped: outcome = "skipped"
            case .quarantined: outcome = "quarantined"
            }
            let fields = [r.file, outcome, r.category, r.detail, r.sha256 ?? ""]
            out += fields.map { printable($0, limit: 400).replacingOccurrences(of: "\t", with: " ") }.joined(separator: "\t") + "\n"
        }
        return out
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

extension Int {
    func formatted() -> String {
        let digits = String(self)
        var out = ""
        for (i, ch) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 && ch != "-" { out.append(",") }
            out.append(ch)
        }
        return String(out.reversed())
    }
}

/// `research ingest`: every submission under a folder into the working dataset. Files are copied,
/// hashed and audited by `jobs` threads in parallel; one writer adds them in path order, each in its
/// own transaction, so participant numbers follow the sorted file names and a crash loses nothing
/// that was committed.
public final class Ingest {
    public let datasetURL: URL
    public let keyFile: URL
    public let options: IngestOptions

    public init(dataset: URL, keyFile: URL, options: IngestOptions = IngestOptions()) {
        self.datasetURL = dataset
        self.keyFile = keyFile
        self.options = options
    }

    /// Submission files under `folder`, recursively, sorted; hidden files and folders are left out,
    /// symbolic links are reported rather than followed.
    public static func discover(_ folder: URL, extensions: [String]) throws -> [(url: URL, relative: String)] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ResearchError(.dataset, "\(folder.path) is not a folder of submissions.")
        }
        let base = folder.standardizedFileURL.path
        var found: [(URL, String)] = []
        var stack = [base]
        while let dir = stack.popLast() {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for name in names where !name.hasPrefix(".") {
                let path = dir + "/" + name
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                let kind = info.st_mode & S_IFMT
                if kind == S_IFDIR {
                    stack.append(path)
                } else if extensions.contains(where: { name.lowercased().hasSuffix("." + $0.lowercased()) }) {
                    found.append((URL(fileURLWithPath: path), String(path.dropFirst(base.count + 1))))
                }
            }
        }
        return found.sorted { $0.1 < $1.1 }
    }

    public func run(folder: URL, progress: @escaping (IngestProgress) -> Void = { _ in }) throws -> IngestSummary {
        let started = Date()
        let dataset = try Dataset.open(datasetURL, mode: .create, command: "research ingest")
        defer { dataset.close() }
        let (key, keyCreated) = try dataset.researcherKey(keyFile)
        // The dataset itself may live in the folder; it is never a submission.
        let own = datasetURL.standardizedFileURL.resolvingSymlinksInPath().path
        let files = try Self.discover(folder, extensions: options.extensions)
            .filter { $0.url.standardizedFileURL.resolvingSymlinksInPath().path != own }

        var known = KnownContent()
        try dataset.queue.read { db in
            for row in try Row.fetchAll(db, sql: "SELECT content_sha256, participant FROM submissions") {
                known.ingested[row[0]] = row[1]
            }
            known.withdrawnContent = Set(try String.fetchAll(db, sql: "SELECT content_hmac FROM tombstones WHERE content_hmac IS NOT NULL"))
        }

        let work = try PrivateFolder(under: options.temporaryDirectory)
        defer { work.remove() }
        let checker = SubmissionCheck(policy: options.policy, key: key, known: known, workDirectory: work.url)
        let writer = IngestWriter(policy: options.policy, key: key)
        let jobs = max(1, min(options.jobs, files.count))
        let queue = OrderedWork<CheckResult>(count: files.count, window: jobs * 2)
        let urls = files.map(\.url)
        let group = DispatchGroup()
        for _ in 0..<jobs {
            group.enter()
            let thread = Thread {
                while let index = queue.claim() { queue.deliver(index, checker.check(urls[index], index: index)) }
                group.leave()
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        defer {
            queue.cancel()
            group.wait()
        }

        var results: [IngestFileResult] = []
        var state = IngestProgress(total: files.count)
        var seenThisRun: [String: String] = [:]
        progress(state)
        for file in files {
            guard let result = queue.next() else { break }
            let outcome: IngestFileResult
            switch result {
            case .skipped(let sha, let why):
                outcome = IngestFileResult(file: file.relative, outcome: .skipped, category: why.category, detail: why.detail,
                                           reviews: 0, sha256: sha)
            case .quarantined(let sha, let why):
                outcome = IngestFileResult(file: file.relative, outcome: .quarantined, category: why.category,
                                           detail: why.detail, reviews: 0, sha256: sha)
            case .valid(let submission):
                defer { try? FileManager.default.removeItem(at: submission.copy) }
                outcome = try write(submission, file: file.relative, writer: writer, key: key, dataset: dataset,
                                    seen: &seenThisRun)
            }
            results.append(outcome)
            state.done += 1
            switch outcome.outcome {
            case .ingested:
                state.ingested += 1
                state.reviews += outcome.reviews
            case .skipped: state.skipped += 1
            case .quarantined: state.quarantined += 1
            }
            progress(state)
        }
        return IngestSummary(folder: folder, results: results, seconds: Date().timeIntervalSince(started), keyCreated: keyCreated)
    }

    /// The writer's own checks (authoritative: the dataset is locked), then the transaction.
    private func write(_ submission: ValidatedSubmission, file: String, writer: IngestWriter, key: ResearcherKey,
                       dataset: Dataset, seen: inout [String: String]) throws -> IngestFileResult {
        func result(_ outcome: IngestFileResult.Outcome, _ why: Rejection?) -> IngestFileResult {
            IngestFileResult(file: file, outcome: outcome, category: why?.category ?? "", detail: why?.detail ?? "",
                             reviews: why == nil ? submission.reviews : 0, sha256: submission.sha256)
        }
        if let first = seen[submission.sha256] {
            return result(.skipped, Rejection(.duplicate, "same bytes as \(printable(first))"))
        }
        let tokenHMAC = key.hmac(submission.manifest.tokenHash)
        let (withdrawn, holder) = try dataset.queue.read { db -> (Bool, Int?) in
            let row = try Row.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM tombstones WHERE token_hmac = ?1), "
                                       + "(SELECT participant FROM participants WHERE token_hmac = ?1)", arguments: [tokenHMAC])
            return ((row?[0] as Bool?) ?? false, row?[1] as Int?)
        }
        if withdrawn {
            return result(.skipped, Rejection(.withdrawn, "its participant withdrew it (the token was sent in)"))
        }
        if let holder {
            return result(.quarantined, Rejection(.tokenReused, "participant \(holder) was ingested with the same "
                                                  + "withdrawal token from a different file (tampered copy?)"))
        }
        do {
            let participant = try dataset.queue.writeWithoutTransaction { db in try writer.add(submission, to: db) }
            seen[submission.sha256] = file
            return result(.ingested(participant: participant), nil)
        } catch let rejection as Rejection {
            return result(.quarantined, rejection)
        }
    }
}

/// Hands out indexes to worker threads and returns their results in index order, never letting the
/// workers run more than `window` files ahead of the consumer (bounded disk and memory use).
final class OrderedWork<Result: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private let count: Int
    private let window: Int
    private var nextToClaim = 0
    private var nextToConsume = 0
    private var results: [Int: Result] = [:]
    private var cancelled = false

    init(count: Int, window: Int) {
        self.count = count
        self.window = max(1, window)
    }

    func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && nextToClaim < count && nextToClaim >= nextToConsume + window { condition.wait() }
        guard !cancelled, nextToClaim < count else { return nil }
        nextToClaim += 1
        return nextToClaim - 1
    }

    func deliver(_ index: Int, _ result: Result) {
        condition.lock()
        results[index] = result
        condition.broadcast()
        condition.unlock()
    }

    func next() -> Result? {
        condition.lock()
        defer { condition.unlock() }
        guard nextToConsume < count else { return nil }
        while results[nextToConsume] == nil { condition.wait() }
        let result = results.removeValue(forKey: nextToConsume)
        nextToConsume += 1
        condition.broadcast()
        return result
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// A private (0700) folder for copies of submissions, removed on every exit path, Ctrl-C included.
final class PrivateFolder: @unchecked Sendable {
    let url: URL
    private var signalSources: [DispatchSourceSignal] = []

    init(under parent: URL?) throws {
        let base = (parent ?? URL(fileURLWithPath: NSTemporaryDirectory())).path
        var template = Array((base + "/anki-research-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw ResearchError(.writeFailure, "Cannot create a private temporary folder under \(base).")
        }
        url = URL(fileURLWithPath: String(cString: made), isDirectory: true)
        let path = url.path
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                try? FileManager.default.removeItem(atPath: path)
                FileHandle.standardError.write(Data("\nanki-submit: interrupted; nothing partial was kept (every file is added in one transaction).\n".utf8))
                exit(130)
            }
            source.resume()
            signalSources.append(source)
        }
    }

    func remove() {
        for source in signalSources { source.cancel() }
        for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig, SIG_DFL) }
        try? FileManager.default.removeItem(at: url)
    }
}
