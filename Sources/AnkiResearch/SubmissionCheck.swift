import AnkiAudit
import AnkiReader
import AnkiSubmission
import Crypto
import Foundation
import GRDB
import GRDBSQLite

/// Why a file was not ingested: a short category for the summary table and a detail for the report.
/// Details name tables, columns and rules, never values from the file.
public struct Rejection: Sendable, Equatable, Error {
    public let category: String
    public let detail: String

    public init(_ category: Category, _ detail: String) {
        self.category = category.rawValue
        self.detail = detail
    }

    public enum Category: String, Sendable, CaseIterable {
        case notAFile = "not a regular file"
        case unreadable = "cannot be read"
        case notSQLite = "not an SQLite file"
        case damaged = "damaged or truncated"
        case schemaVersion = "unsupported schema version"
        case schema = "unexpected tables or columns"
        case audit = "fails the policy audit"
        case manifest = "invalid manifest"
        case values = "invalid values"
        case decks = "invalid deck hierarchy"
        case tokenReused = "token already used by another submission"
        case overBudget = "takes too long to check"
        // Skips (not quarantined):
        case alreadyIngested = "already ingested"
        case duplicate = "same content as another file in this run"
        case withdrawn = "withdrawn"
    }
}

/// What ingest needs from a submission's manifest, validated: nothing here is taken on trust.
struct SubmissionManifest: Sendable {
    var schemaVersion: Int
    var toolVersion: String
    var policyVersion: Int
    var sourceFormat: String
    var sourceSchema: Int?
    var tokenHash: String
    var consentPublic: Bool
    var languages: [String]
    var domain: String

    static let maxDomainLength = 500

    static func read(_ db: Database) throws -> SubmissionManifest {
        var values: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT CAST(key AS TEXT), CAST(value AS TEXT) FROM manifest") {
            guard let key = row[0] as String?, let value = row[1] as String? else {
                throw Rejection(.manifest, "the manifest holds a key or value that is not text")
            }
            values[key] = value
        }
        func text(_ key: String, limit: Int = 64) throws -> String {
            guard let value = values[key] else { throw Rejection(.manifest, "the manifest has no \(key)") }
            guard value.count <= limit, !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw Rejection(.manifest, "the manifest's \(key) is too long or holds control characters")
            }
            return value
        }
        func int(_ key: String) throws -> Int {
            guard let value = Int(try text(key)) else { throw Rejection(.manifest, "the manifest's \(key) is not a number") }
            return value
        }
        let hash = try text("token_hash")
        guard hash.utf8.count == 64, hash.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw Rejection(.manifest, "token_hash is not a lower-case hex SHA-256")
        }
        let consent = try text("consent_public")
        guard consent == "yes" || consent == "no" else { throw Rejection(.manifest, "consent_public is not yes or no") }
        guard let languageData = values["languages"]?.data(using: .utf8),
              let languages = (try? JSONSerialization.jsonObject(with: languageData)) as? [String],
              languages.count <= 50,
              languages.allSatisfy({ $0.count >= 2 && $0.count <= 3 && $0.unicodeScalars.allSatisfy { (97...122).contains($0.value) } })
        else {
            throw Rejection(.manifest, "languages is not a JSON list of ISO 639 codes")
        }
        let domain = values["domain"] ?? ""
        guard domain.count <= maxDomainLength,
              !domain.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" }) else {
            throw Rejection(.manifest, "domain is longer than \(maxDomainLength) characters or holds control characters")
        }
        let sourceSchema = values["source_schema"].flatMap { Int($0) }
        return SubmissionManifest(
            schemaVersion: try int("schema_version"), toolVersion: try text("tool_version"),
            policyVersion: try int("policy_version"), sourceFormat: try text("source_format"),
            sourceSchema: sourceSchema, tokenHash: hash, consentPublic: consent == "yes",
            languages: Array(Set(languages)).sorted(), domain: domain)
    }
}

/// A submission that passed every check, copied privately, ready for the single writer.
struct ValidatedSubmission: Sendable {
    let copy: URL
    let sha256: String
    let manifest: SubmissionManifest
    let reviews: Int
    let tables: TableFacts
}

/// Row counts and id shapes of the private copy, taken by the checking thread in its type-check pass
/// (which reads every row of these tables anyway), so that the single writer spends no statement on
/// them: the copy is private (mode 0600 in a 0700 folder) and nothing writes to it between the check
/// and the write.
struct TableFacts: Sendable {
    /// Rows per submission table the writer copies.
    var rows: [String: Int] = [:]
    /// Tables whose ids are exactly the integers 1...n, each once (or that are empty): a row's new id
    /// is then its id, and the writer copies without joining through an id map.
    var identity: Set<String> = []

    /// The tables whose `id` the writer re-assigns.
    static let idTables: Set<String> = ["note_types", "deck_config", "decks", "notes", "cards"]

    /// From the audit's value-type scan (`ValueTypeRule`) of the same connection.
    init(_ scan: ValueTypeRule.Scan) {
        rows = scan.rows
        identity = scan.denseIDs.intersection(Self.idTables)
    }
}

enum CheckResult: Sendable {
    case valid(ValidatedSubmission)
    case skipped(sha256: String?, Rejection)
    case quarantined(sha256: String?, Rejection)
}

/// Content already known to the dataset when the run started (a snapshot; the writer re-checks).
struct KnownContent: Sendable {
    var ingested: [String: Int] = [:]       // file SHA-256 -> participant
    var withdrawnContent: Set<String> = []  // HMAC of file SHA-256
}

/// Checks one file: private copy, hash, SQLite header, schema version, then the very audit
/// `anki-submit audit` runs, then the manifest. Runs on worker threads, in parallel.
struct SubmissionCheck: Sendable {
    let policy: Policy
    let key: ResearcherKey
    let known: KnownContent
    let workDirectory: URL

    static let sqliteMagic = Array("SQLite format 3\u{0}".utf8)

    func check(_ file: URL, index: Int) -> CheckResult {
        var info = stat()
        guard lstat(file.path, &info) == 0 else { return .quarantined(sha256: nil, Rejection(.unreadable, "the file disappeared")) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            return .quarantined(sha256: nil, Rejection(.notAFile, "a symbolic link or special file (not followed)"))
        }
        // One pass copies the file to a private folder and hashes what was copied: what is checked and
        // ingested is exactly what was hashed, whatever happens to the original meanwhile.
        let copy = workDirectory.appendingPathComponent("submission-\(index).sqlite")
        guard let copied = Timings.measure("\(index) copy+hash", { Self.copy(file, to: copy) }) else {
            try? FileManager.default.removeItem(at: copy)
            return .quarantined(sha256: nil, Rejection(.unreadable, "the file cannot be read"))
        }
        let sha = copied.sha
        if let participant = known.ingested[sha] {
            try? FileManager.default.removeItem(at: copy)
            return .skipped(sha256: sha, Rejection(.alreadyIngested, "already in the dataset as participant \(participant)"))
        }
        if known.withdrawnContent.contains(key.hmac(sha)) {
            try? FileManager.default.removeItem(at: copy)
            return .skipped(sha256: sha, Rejection(.withdrawn, "this submission was withdrawn by its participant"))
        }
        guard info.st_size > 0 else {
            try? FileManager.default.removeItem(at: copy)
            return .quarantined(sha256: sha, Rejection(.notSQLite, "the file is empty"))
        }
        guard copied.header.starts(with: Self.sqliteMagic) else {
            try? FileManager.default.removeItem(at: copy)
            return .quarantined(sha256: sha, Rejection(.notSQLite, "the file does not start with the SQLite header"))
        }
        do {
            let result = try Timings.measure("\(index) checks+audit") { try validate(copy, sha: sha) }
            return .valid(result)
        } catch let rejection as Rejection {
            try? FileManager.default.removeItem(at: copy)
            return .quarantined(sha256: sha, rejection)
        } catch {
            try? FileManager.default.removeItem(at: copy)
            return .quarantined(sha256: sha, Rejection(.damaged, "the database cannot be read completely"))
        }
    }

    /// The work any one query over a submission may do (`ForeignDatabase.Budget`).
    var queryBudget: ForeignDatabase.Budget = .default

    private func validate(_ copy: URL, sha: String) throws -> ValidatedSubmission {
        // One read-only connection under ForeignDatabase's rules and one read transaction for every step
        // below: each connection opened costs its own schema parse and set-up, more than most checks of
        // a small file.
        let queue: DatabaseQueue
        do {
            queue = try ForeignDatabase.open(copy, label: "anki-submit.ingest-check", budget: queryBudget)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw Rejection(.notSQLite, "not an SQLite database")
        } catch {
            throw Rejection(.damaged, "the database cannot be opened (damaged or truncated)")
        }
        defer { try? queue.close() }
        return try queue.read { db in
            // 1. The schema version, before anything else, with its own clear reason.
            try Self.checkSchemaVersion(db)
            // 2. The same audit `anki-submit audit` runs: exact schema, the type of every value (the
            //    review log's nine integer columns are typed by the dataset's STRICT table instead, which
            //    refuses a wrong value at insert), manifest, dense ids, references, neutral deck names,
            //    card data keys, media names. Its value-type pass also counts rows and sees whether ids
            //    are exactly 1...n, for the writer.
            let findings: [AuditFinding]
            let scan: ValueTypeRule.Scan?
            do {
                let audit = SubmissionAudit(policy: policy, queryBudget: queryBudget)
                let result = try Timings.measure("audit") { try audit.auditScanning(db) }
                findings = result.findings
                scan = result.scan
            } catch {
                throw Rejection(.damaged, "the database cannot be opened (damaged or truncated)")
            }
            if !findings.isEmpty {
                let summary = findings.prefix(3).map { printable($0.description, limit: 160) }.joined(separator: "; ")
                    + (findings.count > 3 ? "; and \(findings.count - 3) more" : "")
                if findings.contains(where: { $0.rule == "budget" }) { throw Rejection(.overBudget, Self.overBudgetDetail) }
                if findings.contains(where: { $0.rule == "readable" }) { throw Rejection(.damaged, summary) }
                if findings.allSatisfy({ $0.rule == "schema" }) { throw Rejection(.schema, summary) }
                if let bad = findings.first(where: { $0.rule == "values" }) {
                    throw Rejection(.values, printable(bad.message, limit: 160))
                }
                throw Rejection(.audit, summary)
            }
            // 3. The manifest values ingest copies, and what the writer needs to know of each table.
            let manifest = try SubmissionManifest.read(db)
            guard let scan else {
                // The audit found nothing but did not scan the tables: cannot happen.
                throw Rejection(.damaged, "the database cannot be read completely")
            }
            var tables = TableFacts(scan)
            let reviews = try Int.fetchOne(db, sql: "SELECT count(*) FROM revlog") ?? 0
            tables.rows["revlog"] = reviews
            return ValidatedSubmission(copy: copy, sha256: sha, manifest: manifest, reviews: reviews, tables: tables)
        }
    }

    /// The schema version, with its own clear reason (read only from an ordinary `manifest` table;
    /// anything else is left to the audit's schema rule).
    static func checkSchemaVersion(_ db: Database) throws {
        do {
            let version: String? = try {
                guard try ForeignDatabase.plainTable(db, "manifest", columns: ["key", "value"]) else { return nil }
                return try String.fetchOne(db, sql: "SELECT CAST(value AS TEXT) FROM manifest WHERE key = 'schema_version'")
            }()
            if let version, version != String(SubmissionSchema.version) {
                throw Rejection(.schemaVersion, "submission schema version \(printable(version, limit: 20)); "
                                + "this tool reads version \(SubmissionSchema.version)")
            }
        } catch let rejection as Rejection {
            throw rejection
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw Rejection(.notSQLite, "not an SQLite database")
        } catch let error where ForeignDatabase.isOverBudget(error) {
            throw Rejection(.overBudget, Self.overBudgetDetail)
        } catch {
            throw Rejection(.damaged, "the database cannot be opened (damaged or truncated)")
        }
    }

    /// The intake's quick check of an uploaded file (a private file nobody else writes): the SQLite
    /// header, the schema version, then the audit's structural rules (exact schema, a complete manifest
    /// whose counts match). Nil when the file may go into the spool; the full audit stays in ingest.
    static func quick(_ file: URL, budget: ForeignDatabase.Budget = .default) -> Rejection? {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return Rejection(.unreadable, "the file cannot be read") }
        var header = [UInt8](repeating: 0, count: 100)
        let n = header.withUnsafeMutableBytes { read(fd, $0.baseAddress, 100) }
        close(fd)
        guard n > 0 else { return Rejection(.notSQLite, "the file is empty") }
        guard n == 100, header.starts(with: sqliteMagic) else {
            return Rejection(.notSQLite, "the file does not start with the SQLite header")
        }
        // A file in WAL mode has no -wal beside it here: opened read-only, SQLite would want one.
        guard header[18] == 1, header[19] == 1 else {
            return Rejection(.damaged, "the file is in WAL mode or has an unknown file format version")
        }
        let queue: DatabaseQueue
        do {
            queue = try ForeignDatabase.open(file, label: "anki-submit.intake-check", budget: budget)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            return Rejection(.notSQLite, "not an SQLite database")
        } catch {
            return Rejection(.damaged, "the database cannot be opened (damaged or truncated)")
        }
        defer { try? queue.close() }
        do {
            return try queue.read { db -> Rejection? in
                try checkSchemaVersion(db)
                let findings: [AuditFinding]
                do { findings = try SubmissionAudit.structure(db) } catch {
                    return Rejection(.damaged, "the database cannot be opened (damaged or truncated)")
                }
                guard !findings.isEmpty else { return nil }
                let summary = findings.prefix(3).map { printable($0.description, limit: 160) }.joined(separator: "; ")
                    + (findings.count > 3 ? "; and \(findings.count - 3) more" : "")
                if findings.contains(where: { $0.rule == "budget" }) { return Rejection(.overBudget, overBudgetDetail) }
                if findings.contains(where: { $0.rule == "readable" }) { return Rejection(.damaged, summary) }
                if findings.allSatisfy({ $0.rule == "schema" }) { return Rejection(.schema, summary) }
                return Rejection(.manifest, summary)
            }
        } catch let rejection as Rejection {
            return rejection
        } catch {
            return Rejection(.damaged, "the database cannot be read completely")
        }
    }

    static let overBudgetDetail = "a query over the submission took far more work than any real submission needs "
        + "(a view, trigger or damaged page built to stall the check)"

    static func sha256(of file: URL) -> String? {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            guard let n = readChunk(fd, &buffer) else { return nil }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return Array(hasher.finalize()).hex
    }

    /// read(2) retrying interrupted calls; nil on error.
    static func readChunk(_ fd: Int32, _ buffer: inout [UInt8]) -> Int? {
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            return n < 0 ? nil : n
        }
    }

    /// Copies `file` to `destination` (mode 0600), hashing what was copied. A database left in WAL
    /// mode is switched to rollback mode in the copy (there is no -wal beside it to apply).
    static func copy(_ file: URL, to destination: URL) -> (sha: String, header: [UInt8])? {
        let input = open(file.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard input >= 0 else { return nil }
        defer { close(input) }
        let output = open(destination.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { return nil }
        defer { close(output) }
        var hasher = SHA256()
        var header: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            guard let n = readChunk(input, &buffer) else { return nil }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            if header.isEmpty {
                header = Array(buffer[0..<min(n, 100)])
                if n >= 20, header.starts(with: sqliteMagic), buffer[18] == 2 || buffer[19] == 2 {
                    buffer[18] = 1
                    buffer[19] = 1
                }
            }
            guard buffer.withUnsafeBytes({ Durable.writeAll(output, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) else {
                return nil
            }
        }
        return (Array(hasher.finalize()).hex, header)
    }
}
