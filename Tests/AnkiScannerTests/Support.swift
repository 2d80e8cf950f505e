import AnkiScanner
import AnkiSubmission
import Foundation
import Testing

/// Paths shared by the scanner tests.
enum Paths {
    /// The package root, found from this file's location.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let generated = root.appendingPathComponent("Tests/Fixtures/generated")
    static let hostile = root.appendingPathComponent("Tests/Fixtures/hostile")
    /// `../shared` beside the checkout: present on developer machines and in CI, absent elsewhere.
    static let shared = root.deletingLastPathComponent().appendingPathComponent("shared")
    static var sharedAvailable: Bool {
        FileManager.default.fileExists(atPath: shared.appendingPathComponent("fixtures").path)
    }
    static let sharedGenerated = shared.appendingPathComponent("fixtures/generated")

    static func files(in dir: URL, extensions: Set<String>) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().map { dir.appendingPathComponent($0) }.filter { extensions.contains($0.pathExtension) }
    }
}

/// One scanner for all tests (loading the word lists takes a moment).
let sharedScanner: AnkiScanner.Scanner = {
    do { return try AnkiScanner.Scanner(dataDirectory: DataDirectory(url: Paths.root)) } catch {
        fatalError("the scanner does not load from the repository's Config/ and Wordlists/: \(error)")
    }
}()

extension AnkiScanner.Scanner {
    /// Findings in a field, as (kind, text) pairs, for compact expectations.
    func kinds(_ text: String, minimumScore: Double? = nil) -> [String] {
        scan(field: text, index: 0, minimumScore: minimumScore).map { "\($0.kind):\($0.text)" }
    }
}
