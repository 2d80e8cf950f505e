import AnkiPCRE2
import AnkiReader
import AnkiSubmission
import Foundation
import GRDB

/// One thing wrong with a submission: the rule it breaks and a description without content.
public struct AuditFinding: Sendable, Equatable, CustomStringConvertible {
    public let rule: String
    public let message: String
    public var description: String { "[\(rule)] \(message)" }
}

/// Checks a submission against the policy. Used by `anki-submit audit`, by `prepare` on its own output
/// before the rename, and by the researcher's ingest. Without a source it checks what the file alone
/// shows; with the source collection it also proves that nothing original survived and that time
/// moved by one constant.
public struct SubmissionAudit: Sendable {
    public let policy: Policy
    /// The work any one query over the submission may do (see `ForeignDatabase.Budget`).
    public var queryBudget: ForeignDatabase.Budget

    public init(policy: Policy = .standard, queryBudget: ForeignDatabase.Budget = .default) {
        self.policy = policy
        self.queryBudget = queryBudget
    }

    /// The finding for a query stopped by its budget (`ForeignDatabase`): the file holds something
    /// built to stall the audit, or is damaged.
    static func overBudget(_ findings: inout Findings) {
        findings.add("budget", "a query over the submission took far more work than any real submission needs "
                     + "(a damaged file, or one built to stall the check)")
    }

    /// The participant's collection and the time zone review days were computed in.
    public struct Source {
        public let collection: AnkiCollection
        public let timeZone: TimeZone
        public init(collection: AnkiCollection, timeZone: TimeZone) {
            self.collection = collection
            self.timeZone = timeZone
        }
    }

    public struct Unreadable: Error, CustomStringConvertible {
        public let description: String
    }

    public func audit(submission url: URL, source: Source? = nil) throws -> [AuditFinding] {
        try start(submission: url, source: source, contentThreads: 2).finish()
    }

    /// Starts the audit with the checks that need no review log and no manifest (notes, cards, decks,
    /// note types, fields, presets, `col`, and their comparison with the source) and returns at once;
    /// `finish` checks the rest. `prepare` starts it as soon as those tables are committed, so that it
    /// runs on the second core while the review log is written (the file is in WAL mode then, so these
    /// readers never block that writer); `audit` starts and finishes at once.
    ///
    /// `contentThreads` 2 runs the source comparison and the file's own checks side by side; 1 runs
    /// them one after the other, leaving a core for the caller.
    ///
    /// With `followingReviewLog`, the source comparison of the review log also starts before the log
    /// is complete: the writer reports with `PendingAudit.reviewsCommitted(rows:below:)` how far it has
    /// committed the log, and each committed span is compared on the content thread once its other
    /// checks are done; `finish` compares what is left and proves that no span it already compared
    /// changed afterwards.
    public func start(submission url: URL, source: Source?, contentThreads: Int,
                      followingReviewLog: Bool = false) throws -> PendingAudit {
        let pending = PendingAudit(policy: policy, source: source.map(UncheckedSource.init))
        pending.queue = try open(url)
        do {
            try pending.queue!.read { db in
                try SchemaRule.check(db, &pending.fileFindings)
                if pending.fileFindings.items.isEmpty { try ValueTypeRule.check(db, &pending.fileFindings) }
            }
        } catch let error as DatabaseError {
            if ForeignDatabase.isOverBudget(error) {
                Self.overBudget(&pending.fileFindings)
            } else {
                pending.fileFindings.add("readable", "the submission cannot be read completely (\(error.resultCode))")
            }
        }
        // Without the expected tables, or with values of the wrong type, the other rules would only fail
        // or misread: these findings are all.
        guard pending.fileFindings.items.isEmpty else {
            pending.schemaFailed = true
            return pending
        }
        if let source {
            // The collection is attached once per connection, outside any transaction (a read
            // transaction cannot detach it again).
            let rules = SourceRules(policy: policy, source: source)
            pending.sourceQueue = try open(url)
            for queue in [pending.queue!, pending.sourceQueue!] {
                try queue.inDatabase { db in try rules.attachSource(db) }
            }
        }
        var jobs: [@Sendable (PendingAudit) -> Void] = [{ $0.checkSourceContent() }, { $0.checkFileContent() }]
        if followingReviewLog && source != nil && contentThreads <= 1 { jobs.append { $0.followReviewLog() } }
        pending.run(threads: contentThreads, jobs)
        return pending
    }

    /// The same audit on a connection the caller opened on the submission (as `main`, read-only),
    /// inside a read transaction: ingest checks each file on one connection instead of opening it
    /// once per step. Throws `Unreadable` exactly when `audit(submission:)` would.
    public func audit(_ db: Database) throws -> [AuditFinding] {
        try auditScanning(db).findings
    }

    /// The quick structural part of the audit only: exactly the submission schema's objects, and a
    /// manifest with every key, this schema version and counts that match the tables. What the intake
    /// server checks before it keeps an upload (ingest runs the whole audit later); reads no row of
    /// the content tables beyond counting them. Throws `Unreadable` as `audit(_:)` does.
    public static func structure(_ db: Database) throws -> [AuditFinding] {
        do {
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master")
        } catch {
            throw Unreadable(description: "the submission is not a readable SQLite submission.")
        }
        var findings = Findings()
        do {
            try SchemaRule.check(db, &findings)
            if findings.items.isEmpty { try ManifestRule.check(db, &findings) }
        } catch let error as DatabaseError {
            if ForeignDatabase.isOverBudget(error) {
                overBudget(&findings)
            } else {
                findings.add("readable", "the submission cannot be read completely (\(error.resultCode))")
            }
        }
        return findings.items
    }

    /// `audit(_:)`, also returning what the value-type rule saw of the tables (nil when the schema rule
    /// found something), for ingest's writer.
    public func auditScanning(_ db: Database) throws -> (findings: [AuditFinding], scan: ValueTypeRule.Scan?) {
        do {
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master")
        } catch {
            throw Unreadable(description: "the submission is not a readable SQLite submission.")
        }
        var findings = Findings()
        var scan: ValueTypeRule.Scan?
        do {
            try SchemaRule.check(db, &findings)
            if findings.items.isEmpty { scan = try ValueTypeRule.check(db, &findings) }
            if findings.items.isEmpty { try fileRules(db, &findings) }
        } catch let error as DatabaseError {
            if ForeignDatabase.isOverBudget(error) {
                Self.overBudget(&findings)
            } else {
                findings.add("readable", "the submission cannot be read completely (\(error.resultCode))")
            }
        }
        return (findings.items, scan)
    }

    /// The rules that need only the submission, after the schema rule has passed.
    private func fileRules(_ db: Database, _ findings: inout Findings) throws {
        try Self.contentFileRules(db, policy: policy, &findings)
        try Self.reviewLogFileRules(db, &findings)
    }

    /// The file's own rules that read neither the review log nor the manifest.
    static func contentFileRules(_ db: Database, policy: Policy, _ findings: inout Findings) throws {
        try DenseIDRule.check(db, &findings)
        try ReferenceRule.checkContent(db, &findings)
        try DeckNameRule.check(db, policy: policy, &findings)
        try CardDataRule.check(db, policy: policy, &findings)
        try MediaNameRule.check(db, policy: policy, &findings)
    }

    /// The file's own rules over what is written last: the review log and the manifest.
    static func reviewLogFileRules(_ db: Database, _ findings: inout Findings) throws {
        try ManifestRule.check(db, &findings)
        try ReferenceRule.checkReviewLog(db, &findings)
    }

    private func open(_ url: URL) throws -> DatabaseQueue {
        do {
            let queue = try ForeignDatabase.open(url, label: "anki-submit.audit", budget: queryBudget)
            _ = try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master") }
            return queue
        } catch {
            throw Unreadable(description: "\(url.lastPathComponent) is not a readable SQLite submission.")
        }
    }
}

/// An audit under way (see `SubmissionAudit.start`). Its checks run on threads of their own, each on
/// its own read-only connection; their findings are read only after those threads are joined.
public final class PendingAudit: @unchecked Sendable {
    let policy: Policy
    let source: UncheckedSource?
    var queue: DatabaseQueue?
    var sourceQueue: DatabaseQueue?
    var fileFindings = Findings()
    var sourceFindings = Findings()
    var shift: Int64?
    var schemaFailed = false
    /// The review log's comparison with the source, first and second half (each written by one thread).
    var firstHalf: SourceRules.ReviewPass?
    var secondHalf: SourceRules.ReviewPass?
    private var running: [DispatchSemaphore] = []
    private var finished = false
    /// The writer's commits of the review log, in order (after each, its first `rows` rows are final
    /// and hold every stored id below `below`), and whether it has finished; guarded by `progress`.
    private let progress = NSCondition()
    private var commits: [(rows: Int64, below: Int64)] = []
    private var writingDone = false
    /// Spans of the review log compared while it was written, in order, each with its pass (nil when
    /// the log was still empty) and the stored reviews it then held; `followedTo` and `followedRows`
    /// are the id and rowid where the next span starts (nil: at the beginning). Written by the content
    /// thread, read after `join`.
    private var followed: [(span: SourceRules.ReviewSpan, pass: SourceRules.ReviewPass?, stored: Int)] = []
    private var followedTo: Int64?
    private var followedToRow: Int64?
    /// The stored cards as the review-log passes need them, read once (after the shift is known).
    private var storedCards: SourceRules.StoredCards?

    init(policy: Policy, source: UncheckedSource?) {
        self.policy = policy
        self.source = source
    }

    /// Runs `jobs` on `threads` new threads (one after the other on each), without waiting.
    func run(threads: Int, _ jobs: [@Sendable (PendingAudit) -> Void]) {
        let lanes = threads <= 1 ? [jobs] : jobs.map { [$0] }
        for lane in lanes {
            let done = DispatchSemaphore(value: 0)
            running.append(done)
            Thread.detachNewThread {
                defer { done.signal() }
                for job in lane { job(self) }
            }
        }
    }

    private func join() {
        for done in running { done.wait() }
        running = []
    }

    /// Waits for the checks started so far, then checks the review log and the manifest (the source
    /// comparison on a second thread) and returns every finding. Call it once the file is complete.
    public func finish() throws -> [AuditFinding] {
        progress.lock()
        writingDone = true
        progress.broadcast()
        progress.unlock()
        join()
        defer { close() }
        if schemaFailed || finished { return fileFindings.items }
        // What the content thread has not compared yet is split in two halves, compared with the
        // source on two threads: the first, then the proof that the spans compared earlier did not
        // change, on one; the file's own manifest checks, then the second half, on the other.
        let rest = followedTo, restRow = followedToRow
        var middle: (row: Int64, id: Int64)?
        if source != nil {
            read(queue, into: \.fileFindings) { db, _ in middle = try SourceRules.middleReview(db, fromRow: restRow) }
        }
        let split = middle
        if source != nil, storedCards == nil, let shift {
            read(queue, into: \.fileFindings) { db, _ in self.storedCards = try SourceRules.StoredCards(db, shift: shift) }
        }
        run(threads: 1, [{ audit in
            audit.checkSourceReviewLog(.init(fromRow: restRow, toRow: split?.row, from: rest, to: split?.id))
            audit.checkFollowedSpansUnchanged()
        }])
        // The review log's references are counted by the passes that compare it with the source, when
        // they saw every stored review of dense card counters; otherwise in one more pass below.
        var storedReviews = 0
        read(queue, into: \.fileFindings) { db, findings in
            storedReviews = try ManifestRule.check(db, &findings)["revlog"] ?? 0
        }
        if let source {
            read(queue, into: \.fileFindings) { db, findings in
                let rules = SourceRules(policy: self.policy, source: source.source)
                try rules.checkStringsAgainstSource(db, .manifest, &findings)
                if let split {
                    let span = SourceRules.ReviewSpan(fromRow: split.row, from: split.id)
                    self.secondHalf = try rules.checkReviewLog(db, shift: self.shift, span: span,
                                                               cards: self.storedCards, &findings)
                }
            }
        }
        join()
        let passes = (followed.map(\.pass) + [firstHalf, secondHalf]).compactMap { $0 }
        if source != nil { SourceRules.report(passes, &sourceFindings) }
        if !passes.isEmpty && passes.allSatisfy(\.cardsDense) && passes.map(\.stored).reduce(0, +) == storedReviews {
            ReferenceRule.report(danglingCards: passes.map(\.danglingCard).reduce(0, +),
                                 negativeDays: passes.map(\.negativeDay).reduce(0, +), &fileFindings)
        } else {
            read(queue, into: \.fileFindings) { db, findings in try ReferenceRule.checkReviewLog(db, &findings) }
        }
        var findings = fileFindings
        findings.merge(sourceFindings)
        return findings.items
    }

    /// Waits for the checks under way and closes the connections, without checking more: for a
    /// caller that failed while the audit was running.
    public func abandon() {
        progress.lock()
        writingDone = true
        progress.broadcast()
        progress.unlock()
        join()
        close()
    }

    /// The writer has committed every review whose stored id is below `storedID`, as the first `rows`
    /// rows of the log (see `start`).
    public func reviewsCommitted(rows: Int64, below storedID: Int64) {
        progress.lock()
        if commits.last.map({ storedID > $0.below && rows >= $0.rows }) ?? true {
            commits.append((rows, storedID))
            progress.broadcast()
        }
        progress.unlock()
    }

    /// Compares each span of the review log the writer reports committed, one commit at a time, until
    /// it reports the end: then `finish` splits what is left between two threads, so the span this
    /// thread is comparing is all it waits for.
    func followReviewLog() {
        guard let source else { return }
        while true {
            progress.lock()
            while !writingDone && followed.count >= commits.count { progress.wait() }
            let commit = writingDone ? nil : commits[followed.count]
            let from = followedTo, fromRow = followedToRow
            progress.unlock()
            guard let commit else { return }
            let bound = commit.below, toRow = commit.rows + 1
            let span = SourceRules.ReviewSpan(fromRow: fromRow, toRow: toRow, from: from, to: bound)
            var pass: SourceRules.ReviewPass?
            var stored = 0
            read(sourceQueue, into: \.sourceFindings) { db, findings in
                if self.storedCards == nil, let shift = self.shift {
                    self.storedCards = try SourceRules.StoredCards(db, shift: shift)
                }
                pass = try SourceRules(policy: self.policy, source: source.source)
                    .checkReviewLog(db, shift: self.shift, span: span, cards: self.storedCards, &findings)
                stored = try pass?.stored ?? SourceRules.storedReviews(db, in: span)
            }
            progress.lock()
            followed.append((span, pass, stored))
            followedTo = bound
            followedToRow = toRow
            progress.broadcast()
            progress.unlock()
        }
    }

    /// Waits until `count` spans of the review log have been compared while it was written, or the
    /// writer has finished (for tests that change the log behind the audit's back).
    func waitForFollowedSpans(_ count: Int) {
        progress.lock()
        while followed.count < count && !writingDone { progress.wait() }
        progress.unlock()
    }

    private func close() {
        finished = true
        try? queue?.close()
        try? sourceQueue?.close()
        queue = nil
        sourceQueue = nil
    }

    func checkSourceContent() {
        guard let source else { return }
        read(sourceQueue, into: \.sourceFindings) { db, findings in
            self.shift = try SourceRules(policy: self.policy, source: source.source).checkContent(db, &findings)
        }
    }

    func checkFileContent() {
        read(queue, into: \.fileFindings) { db, findings in
            try SubmissionAudit.contentFileRules(db, policy: self.policy, &findings)
        }
        guard let source else { return }
        read(queue, into: \.fileFindings) { db, findings in
            try SourceRules(policy: self.policy, source: source.source).checkStringsAgainstSource(db, .content, &findings)
        }
    }

    /// Each span compared while the log was written must hold exactly the reviews it held then.
    func checkFollowedSpansUnchanged() {
        guard !followed.isEmpty else { return }
        read(sourceQueue, into: \.sourceFindings) { db, findings in
            for (span, _, stored) in self.followed where try SourceRules.storedReviews(db, in: span) != stored {
                findings.add("review-log", "the review log changed after part of it was checked")
                break
            }
        }
    }

    func checkSourceReviewLog(_ span: SourceRules.ReviewSpan) {
        guard let source else { return }
        read(sourceQueue, into: \.sourceFindings) { db, findings in
            self.firstHalf = try SourceRules(policy: self.policy, source: source.source)
                .checkReviewLog(db, shift: self.shift, span: span, cards: self.storedCards, &findings)
        }
    }

    /// One read transaction on `queue`; a failure to read becomes a finding.
    private func read(_ queue: DatabaseQueue?, into keyPath: ReferenceWritableKeyPath<PendingAudit, Findings>,
                      _ body: (Database, inout Findings) throws -> Void) {
        guard let queue else { return }
        var found = Findings()
        do {
            try queue.read { db in try body(db, &found) }
        } catch let error as DatabaseError where ForeignDatabase.isOverBudget(error) {
            SubmissionAudit.overBudget(&found)
        } catch let error as DatabaseError {
            found.add("readable", "the submission cannot be read completely (\(error.resultCode))")
        } catch {
            found.add("readable", "the submission cannot be compared with the collection")
        }
        self[keyPath: keyPath].merge(found)
    }
}

/// The collection is only read by the audit's threads while their caller waits for them.
struct UncheckedSource: @unchecked Sendable {
    let source: SubmissionAudit.Source
}

/// Collects findings, capped per rule so a systematic failure does not flood the output.
struct Findings {
    static let leftOut = "more findings of this kind left out"
    private(set) var items: [AuditFinding] = []
    private var perRule: [String: Int] = [:]

    mutating func add(_ rule: String, _ message: String) {
        perRule[rule, default: 0] += 1
        let n = perRule[rule]!
        if n <= 5 {
            items.append(AuditFinding(rule: rule, message: message))
        } else if n == 6 {
            items.append(AuditFinding(rule: rule, message: Self.leftOut))
        }
    }

    /// Adds what another pass found, keeping the cap per rule.
    mutating func merge(_ other: Findings) {
        for item in other.items {
            if item.message == Self.leftOut {
                if (perRule[item.rule] ?? 0) <= 5 {
                    perRule[item.rule] = 6
                    items.append(item)
                }
            } else {
                add(item.rule, item.message)
            }
        }
    }
}
