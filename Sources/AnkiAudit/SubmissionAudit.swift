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

    public init(policy: Policy = .standard) { self.policy = policy }

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
        var config = Configuration()
        config.readonly = true
        config.label = "anki-submit.audit"
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: url.path, configuration: config)
            _ = try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master") }
        } catch {
            throw Unreadable(description: "\(url.lastPathComponent) is not a readable SQLite submission.")
        }
        defer { try? queue.close() }
        var findings = Findings()
        do {
            try queue.read { db in try rules(db, source: source, &findings) }
        } catch let error as DatabaseError {
            findings.add("readable", "the submission cannot be read completely (\(error.resultCode))")
        }
        return findings.items
    }

    /// The same audit on a connection the caller opened on the submission (as `main`, read-only),
    /// inside a read transaction: ingest checks each file on one connection instead of opening it
    /// once per step. Throws `Unreadable` exactly when `audit(submission:)` would.
    public func audit(_ db: Database) throws -> [AuditFinding] {
        do {
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master")
        } catch {
            throw Unreadable(description: "the submission is not a readable SQLite submission.")
        }
        var findings = Findings()
        do {
            try rules(db, source: nil, &findings)
        } catch let error as DatabaseError {
            findings.add("readable", "the submission cannot be read completely (\(error.resultCode))")
        }
        return findings.items
    }

    private func rules(_ db: Database, source: Source?, _ findings: inout Findings) throws {
        try SchemaRule.check(db, &findings)
        guard findings.items.isEmpty else { return }
        try ManifestRule.check(db, &findings)
        try DenseIDRule.check(db, &findings)
        try ReferenceRule.check(db, &findings)
        try DeckNameRule.check(db, policy: policy, &findings)
        try CardDataRule.check(db, policy: policy, &findings)
        try MediaNameRule.check(db, policy: policy, &findings)
        if let source {
            try SourceRules(policy: policy, source: source).check(db, &findings)
        }
    }
}

/// Collects findings, capped per rule so a systematic failure does not flood the output.
struct Findings {
    private(set) var items: [AuditFinding] = []
    private var perRule: [String: Int] = [:]

    mutating func add(_ rule: String, _ message: String) {
        perRule[rule, default: 0] += 1
        let n = perRule[rule]!
        if n <= 5 {
            items.append(AuditFinding(rule: rule, message: message))
        } else if n == 6 {
            items.append(AuditFinding(rule: rule, message: "more findings of this kind left out"))
        }
    }
}
