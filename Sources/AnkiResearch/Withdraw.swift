import AnkiSubmission
import Foundation
import GRDB

public struct WithdrawOutcome: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// The participant's rows were deleted.
        case removed
        /// No submission had this token (yet): it is blocked, so it will be refused if it arrives.
        case noSubmission = "no-submission"
        /// The token had been withdrawn before; nothing left to remove.
        case alreadyWithdrawn = "already-withdrawn"
    }

    public let receipt: String
    public let kind: Kind
    public let participant: Int?
    /// Rows deleted per table.
    public let rows: [String: Int]
    /// The release date when a public release already held this participant.
    public let releasedAt: String?

    public var rowsRemoved: Int { rows.values.reduce(0, +) }
}

public struct WithdrawSummary: Sendable {
    public var outcomes: [WithdrawOutcome] = []
    /// Journal lines that could not be read (skipped, counted).
    public var damagedLines = 0
    /// Records already applied by an earlier run (nothing done for them).
    public var alreadyApplied = 0
    public var journalRecords = 0
    /// The dataset's latest release date, if any.
    public var datasetReleasedAt: String?

    public var removed: [WithdrawOutcome] { outcomes.filter { $0.kind == .removed } }

    public var text: String {
        var lines: [String] = []
        if journalRecords > 0 || alreadyApplied > 0 {
            lines.append("Journal: \(outcomes.count) new request(s) applied, \(alreadyApplied) applied by earlier runs"
                         + (damagedLines > 0 ? ", \(damagedLines) damaged line(s) skipped" : "") + ".")
        }
        for outcome in outcomes {
            switch outcome.kind {
            case .removed:
                let parts = ["revlogs", "cards", "notes", "decks", "presets", "note_types", "fields"]
                    .compactMap { table in outcome.rows[table].map { "\($0.formatted()) \(table)" } }
                lines.append("\(outcome.receipt): removed participant \(outcome.participant ?? 0) "
                             + "(\(parts.joined(separator: ", ")); \(outcome.rowsRemoved.formatted()) rows).")
                if let released = outcome.releasedAt {
                    lines.append("  This participant's data was published in the release of \(released). It is now "
                                 + "gone from the working dataset and from future releases, but copies already "
                                 + "published cannot be recalled.")
                }
            case .noSubmission:
                lines.append("\(outcome.receipt): no submission with this token in the dataset; the token is blocked, "
                             + "so a matching submission will be refused if it arrives.")
            case .alreadyWithdrawn:
                lines.append("\(outcome.receipt): this token was withdrawn before; nothing left to remove.")
            }
        }
        if outcomes.isEmpty { lines.append("No pending withdrawal requests.") }
        let removed = self.removed
        lines.append("Removed \(removed.count) participant(s), \(removed.reduce(0) { $0 + $1.rowsRemoved }.formatted()) rows.")
        return lines.joined(separator: "\n")
    }
}

/// `research withdraw`: applies withdrawal requests. Each request is one transaction that deletes
/// every row of the participant, keeps a tombstone, logs the outcome and advances the journal
/// position, so a run killed at any point loses nothing and never applies a request twice.
public final class Withdraw {
    public let datasetURL: URL
    public let keyFile: URL

    static let dataTables = ["revlogs", "cards", "notes", "decks", "presets", "fields", "note_types"]

    public init(dataset: URL, keyFile: URL) {
        self.datasetURL = dataset
        self.keyFile = keyFile
    }

    /// Applies every journal record after the position this dataset remembers for that journal.
    public func apply(journal url: URL) throws -> WithdrawSummary {
        let dataset = try Dataset.open(datasetURL, mode: .write, command: "research withdraw")
        defer { dataset.close() }
        let key = try dataset.researcherKey(keyFile).key
        let journalID = try WithdrawalJournal.identify(url)
        let (position, count) = try dataset.queue.read { db -> (Int64, Int) in
            let row = try Row.fetchOne(db, sql: "SELECT applied_offset, applied_count FROM journal_progress WHERE journal_id = ?",
                                       arguments: [journalID])
            return (row?[0] ?? 0, row?[1] ?? 0)
        }
        let pending = try WithdrawalJournal.read(url, from: position)
        var summary = WithdrawSummary()
        summary.alreadyApplied = count
        summary.journalRecords = pending.records.count
        summary.datasetReleasedAt = try dataset.releasedAt()
        var applied = count
        for (record, end) in pending.records {
            applied += 1
            guard let record else {
                summary.damagedLines += 1
                try advanceOnly(dataset, journalID: journalID, end: end, count: applied)
                continue
            }
            let outcome = try applyOne(dataset, key: key, tokenSHA256: record.tokenSHA256, receipt: record.receipt,
                                       receivedAt: record.receivedAt, journal: (journalID, end, applied),
                                       sequence: summary.outcomes.count + 1)
            if let outcome { summary.outcomes.append(outcome) }
        }
        return summary
    }

    /// Applies one token typed by the researcher (e.g. sent by e-mail).
    public func apply(token text: String) throws -> WithdrawSummary {
        let token: WithdrawalToken
        do { token = try WithdrawalToken.parse(text) } catch let error as WithdrawalToken.ParseError {
            throw ResearchError(.invalidToken, error.description)
        }
        let dataset = try Dataset.open(datasetURL, mode: .write, command: "research withdraw")
        defer { dataset.close() }
        let key = try dataset.researcherKey(keyFile).key
        var summary = WithdrawSummary()
        summary.datasetReleasedAt = try dataset.releasedAt()
        if let outcome = try applyOne(dataset, key: key, tokenSHA256: token.hash, receipt: WithdrawalRecord.newReceipt(),
                                      receivedAt: Clock.isoNow(), journal: nil, sequence: 1) {
            summary.outcomes.append(outcome)
        }
        return summary
    }

    private func advanceOnly(_ dataset: Dataset, journalID: String, end: Int64, count: Int) throws {
        try dataset.queue.write { db in try Self.advance(db, journalID: journalID, end: end, count: count) }
    }

    static func advance(_ db: Database, journalID: String, end: Int64, count: Int) throws {
        try db.execute(sql: """
            INSERT INTO journal_progress (journal_id, applied_offset, applied_count, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (journal_id) DO UPDATE SET applied_offset = excluded.applied_offset,
              applied_count = excluded.applied_count, updated_at = excluded.updated_at
            """, arguments: [journalID, end, count, Clock.isoNow()])
    }

    private func applyOne(_ dataset: Dataset, key: ResearcherKey, tokenSHA256: String, receipt: String,
                          receivedAt: String, journal: (id: String, end: Int64, count: Int)?,
                          sequence: Int) throws -> WithdrawOutcome? {
        let hmac = key.hmac(tokenSHA256)
        var outcome: WithdrawOutcome?
        try dataset.queue.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                if let journal { try Self.advance(db, journalID: journal.id, end: journal.end, count: journal.count) }
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM withdrawals WHERE receipt = ?", arguments: [receipt]) == true {
                    return .commit   // the same record twice in a journal: recorded once
                }
                let now = Clock.isoNow()
                var rows: [String: Int] = [:]
                let found = try Row.fetchOne(db, sql: "SELECT participant, released_at, revlog_first, revlog_last "
                                             + "FROM participants WHERE token_hmac = ?", arguments: [hmac])
                let kind: WithdrawOutcome.Kind
                var participant: Int?
                var releasedAt: String?
                if let found {
                    let p: Int = found[0]
                    participant = p
                    releasedAt = found[1]
                    for table in Self.dataTables where table != "revlogs" {
                        try db.execute(sql: "DELETE FROM \(table) WHERE participant = ?", arguments: [p])
                        rows[table] = db.changesCount
                    }
                    // Reviews by their rowid range (contiguous per participant), not by a full scan.
                    rows["revlogs"] = 0
                    if let first = found[2] as Int64?, let last = found[3] as Int64? {
                        try db.execute(sql: "DELETE FROM revlogs WHERE rowid BETWEEN ? AND ? AND participant = ?",
                                       arguments: [first, last, p])
                        rows["revlogs"] = db.changesCount
                    }
                    let content = try String.fetchOne(db, sql: "SELECT content_sha256 FROM submissions WHERE participant = ?",
                                                      arguments: [p])
                    try db.execute(sql: "DELETE FROM submissions WHERE participant = ?", arguments: [p])
                    try db.execute(sql: "DELETE FROM participants WHERE participant = ?", arguments: [p])
                    try db.execute(sql: """
                        INSERT INTO tombstones (token_hmac, content_hmac, withdrawn_at) VALUES (?, ?, ?)
                        ON CONFLICT (token_hmac) DO UPDATE SET content_hmac = coalesce(tombstones.content_hmac, excluded.content_hmac)
                        """, arguments: [hmac, content.map { key.hmac($0) }, now])
                    kind = .removed
                } else if try Bool.fetchOne(db, sql: "SELECT 1 FROM tombstones WHERE token_hmac = ?", arguments: [hmac]) == true {
                    kind = .alreadyWithdrawn
                } else {
                    try db.execute(sql: "INSERT INTO tombstones (token_hmac, content_hmac, withdrawn_at) VALUES (?, NULL, ?)",
                                   arguments: [hmac, now])
                    kind = .noSubmission
                }
                try db.execute(sql: """
                    INSERT INTO withdrawals (receipt, received_at, applied_at, outcome, participant, rows_removed, was_released)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [receipt, receivedAt, now, kind.rawValue, participant, rows.values.reduce(0, +), releasedAt])
                FaultInjection.hit("withdraw-before-commit", sequence)
                outcome = WithdrawOutcome(receipt: receipt, kind: kind, participant: participant, rows: rows,
                                          releasedAt: releasedAt)
                return .commit
            }
        }
        FaultInjection.hit("withdraw-after-commit", sequence)
        return outcome
    }
}

/// Test hook: `ANKI_SUBMIT_RESEARCH_FAULT=<point>:<n>` kills the process (SIGKILL, no cleanup of any
/// kind) the n-th time `point` is reached, to prove that a killed run loses and repeats nothing.
enum FaultInjection {
    static let setting: (point: String, n: Int)? = {
        guard let value = ProcessInfo.processInfo.environment["ANKI_SUBMIT_RESEARCH_FAULT"] else { return nil }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let n = Int(parts[1]) else { return nil }
        return (String(parts[0]), n)
    }()

    static func hit(_ point: String, _ n: Int) {
        guard let setting, setting.point == point, setting.n == n else { return }
        kill(getpid(), SIGKILL)
        while true { pause() }
    }
}
