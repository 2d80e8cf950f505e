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
        let queue = try Self.open(url)
        defer { try? queue.close() }
        var findings = Findings()
        do {
            try queue.read { db in try SchemaRule.check(db, &findings) }
        } catch let error as DatabaseError {
            findings.add("readable", "the submission cannot be read completely (\(error.resultCode))")
        }
        guard findings.items.isEmpty else { return findings.items }

        // The comparison with the source reads both review logs in full: it runs on the second core,
        // over its own read-only connection, while this thread checks what the file alone shows and
        // then searches it for original strings.
        let policy = self.policy
        let sourcePass = SourcePass()
        let sourceDone = DispatchSemaphore(value: 0)
        if let source {
            let sourceQueue = try Self.open(url)
            let unchecked = UncheckedSource(source: source)
            Thread.detachNewThread {
                defer { try? sourceQueue.close(); sourceDone.signal() }
                var found = Findings()
                do {
                    try sourceQueue.read { db in
                        try SourceRules(policy: policy, source: unchecked.source).check(db, &found)
                    }
                } catch let error as DatabaseError {
                    found.add("readable", "the submission cannot be read completely (\(error.resultCode))")
                } catch {
                    found.add("readable", "the submission cannot be compared with the collection")
                }
                sourcePass.findings = found
            }
        } else {
            sourceDone.signal()
        }
        do {
            try queue.read { db in try fileRules(db, &findings) }
            if let source {
                try queue.read { db in
                    try SourceRules(policy: policy, source: source).checkStringsAgainstSource(db, &findings)
                }
            }
        } catch let error as DatabaseError {
            findings.add("readable", "the submission cannot be read completely (\(error.resultCode))")
        }
        sourceDone.wait()
        findings.merge(sourcePass.findings)
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
            try SchemaRule.check(db, &findings)
            if findings.items.isEmpty { try fileRules(db, &findings) }
        } catch let error as DatabaseError {
            findings.add("readable", "the submission cannot be read completely (\(error.resultCode))")
        }
        return findings.items
    }

    /// The rules that need only the submission, after the schema rule has passed.
    private func fileRules(_ db: Database, _ findings: inout Findings) throws {
        try ManifestRule.check(db, &findings)
        try DenseIDRule.check(db, &findings)
        try ReferenceRule.check(db, &findings)
        try DeckNameRule.check(db, policy: policy, &findings)
        try CardDataRule.check(db, policy: policy, &findings)
        try MediaNameRule.check(db, policy: policy, &findings)
    }

    private static func open(_ url: URL) throws -> DatabaseQueue {
        var config = Configuration()
        config.readonly = true
        config.label = "anki-submit.audit"
        do {
            let queue = try DatabaseQueue(path: url.path, configuration: config)
            _ = try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master") }
            return queue
        } catch {
            throw Unreadable(description: "\(url.lastPathComponent) is not a readable SQLite submission.")
        }
    }
}

/// What the source pass found, handed from its thread (read only after its semaphore is signalled).
private final class SourcePass: @unchecked Sendable {
    var findings = Findings()
}

/// The collection is only read by the source pass while the caller waits for it.
private struct UncheckedSource: @unchecked Sendable {
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
