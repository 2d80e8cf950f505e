import AnkiAudit
import AnkiPipeline
import AnkiReader
import AnkiScanner
import AnkiSubmission
import Foundation
import GRDB
import Testing

enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let generated = root.appendingPathComponent("Tests/Fixtures/generated")
    static let shared = root.deletingLastPathComponent().appendingPathComponent("shared/fixtures/generated")
    static var sharedAvailable: Bool { FileManager.default.fileExists(atPath: shared.path) }

    /// (package, truth file) pairs: every generation of every set.
    static func packages(includeShared: Bool = true) -> [(URL, URL)] {
        var dirs = [generated]
        if includeShared && sharedAvailable { dirs.append(shared) }
        var result: [(URL, URL)] = []
        for dir in dirs {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
            for truth in names where truth.hasSuffix("-truth.json") {
                let prefix = String(truth.dropLast("-truth.json".count))
                for name in names where name.hasPrefix(prefix + "-") && (name.hasSuffix(".apkg") || name.hasSuffix(".colpkg")) {
                    result.append((dir.appendingPathComponent(name), dir.appendingPathComponent(truth)))
                }
            }
        }
        return result
    }

    static let thirdParty = root.deletingLastPathComponent().appendingPathComponent("shared/fixtures/third-party")

    /// The third-party exports that hold notes (see its MANIFEST.md); one placeholder path when the
    /// folder is absent, which the test then reports as skipped.
    static func thirdPartyWithNotes() -> [URL] {
        let names = ["anki_diffmodeltemplates-1.apkg", "anki_media.apkg", "ankidroid_templates.apkg",
                     "ankidroid_update3.apkg", "srsconv_mixed-legacy-2.apkg"]
        guard FileManager.default.fileExists(atPath: thirdParty.path) else {
            return [thirdParty.appendingPathComponent("absent")]
        }
        return names.map { thirdParty.appendingPathComponent($0) }
    }

    static func truth(_ url: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }
}

final class Scratch {
    let url: URL
    init() throws {
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("anki-pipeline-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func sub(_ name: String) -> URL { url.appendingPathComponent(name, isDirectory: true) }
    func list(_ dir: URL) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() }
}

struct Prepared {
    let submission: URL
    let token: WithdrawalToken
    let report: PipelineReport
    let tokenFile: URL
}

/// Runs the standard pipeline in-process, the way `prepare --review none` does.
/// One scanner for all tests (loading the word lists once).
nonisolated(unsafe) private var cachedScanner: AnkiScanner.Scanner?
private let scannerLock = NSLock()
func sharedScanner() throws -> AnkiScanner.Scanner {
    scannerLock.lock()
    defer { scannerLock.unlock() }
    if let cachedScanner { return cachedScanner }
    let scanner = try AnkiScanner.Scanner(dataDirectory: DataDirectory(url: Fixtures.root))
    cachedScanner = scanner
    return scanner
}

@discardableResult
func prepare(_ file: URL, zone: String, rollover: Int? = nil, decisions: Decisions? = nil, out: URL,
             workspace: URL? = nil, excludeFlagged: Bool = false) throws -> Prepared {
    var decided = decisions ?? Decisions()
    if decisions == nil {
        decided.consentPublic = true
        decided.languages = ["de"]
        decided.specialCategoryConfirmed = true
    }
    let collection = try AnkiCollection.open(file, workspaceParent: workspace)
    defer { collection.close() }
    var options = PrepareOptions(outputDirectory: out, timeZone: TimeZone(identifier: zone)!, rolloverHour: rollover,
                                 toolVersion: "test")
    options.excludeFlagged = excludeFlagged
    let context = PipelineContext(source: collection, policy: .standard, options: options, decisions: decided,
                                  scanner: try sharedScanner())
    try Pipeline.standard.run(context)
    return Prepared(submission: context.submissionURL!, token: context.token, report: context.report,
                    tokenFile: context.tokenURL!)
}

/// A bare copy of `package`'s collection in `scratch`, as a hand-made file might be: its review log
/// without NOT NULL constraints (which the integrity check would read as damage), and the review
/// `which` selects (SQL giving one id) changed by `change` (an SQL `SET` clause).
func bareCollection(from package: URL, in scratch: Scratch, changingReview which: String, set change: String) throws -> URL {
    let bare = scratch.url.appendingPathComponent("collection.anki2")
    let original = try AnkiCollection.open(package)
    try FileManager.default.copyItem(at: original.databaseURL, to: bare)
    original.close()
    let queue = try DatabaseQueue(path: bare.path)
    try queue.writeWithoutTransaction { db in
        try db.execute(sql: "PRAGMA writable_schema = ON")
        try db.execute(sql: "UPDATE sqlite_schema SET sql = replace(replace(sql, 'NOT NULL', ''), 'not null', '') WHERE name = 'revlog'")
    }
    try queue.close()
    let reopened = try DatabaseQueue(path: bare.path)
    try reopened.write { db in try db.execute(sql: "UPDATE revlog SET \(change) WHERE id = (\(which))") }
    try reopened.close()
    return bare
}

func openReadOnly(_ url: URL) throws -> DatabaseQueue {
    var config = Configuration()
    config.readonly = true
    return try DatabaseQueue(path: url.path, configuration: config)
}
