import AnkiReader
import Foundation
import Testing

/// Every real export we have must open, and the reader's counts must equal what `sqlite3` reports.
@Suite("Counts match the sqlite3 shell")
struct FixtureCountTests {
    static let readable: Set<String> = ["apkg", "colpkg", "anki2", "anki21"]

    /// Third-party files the reader must refuse instead of counting (see their MANIFEST).
    static let refused: [String: ReaderError.Code] = [
        "ankidroid_schema250.anki2": .schemaTooNew,
        "anki_anki2-alpha.anki2": .schemaTooOld,
        "ankidroid_path-traversal.zip": .unsafeEntryName,
    ]

    static var sharedFiles: [URL] {
        guard Paths.sharedAvailable else { return [] }
        return Paths.files(in: Paths.shared.appendingPathComponent("fixtures/third-party"), extensions: readable.union(["zip"]))
            + Paths.files(in: Paths.shared.appendingPathComponent("fixtures/generated"), extensions: readable)
    }

    static var ownFiles: [URL] { Paths.files(in: Paths.generated, extensions: readable) }

    @Test("shared fixtures", .enabled(if: Paths.sharedAvailable, "../shared/fixtures is absent; skipping"),
          arguments: sharedFiles)
    func shared(_ file: URL) throws {
        try check(file)
    }

    @Test("own generated fixtures", arguments: ownFiles)
    func own(_ file: URL) throws {
        try check(file)
    }

    @Test("own fixtures exist")
    func ownFixturesPresent() {
        #expect(Self.ownFiles.count >= 5, "Tests/Fixtures/generated should hold the committed exports")
    }

    func check(_ file: URL) throws {
        let scratch = try ScratchDirectory()
        let before = try Data(contentsOf: file)
        if let code = Self.refused[file.lastPathComponent] {
            #expect(throws: ReaderError.self) {
                _ = try AnkiCollection.open(file, workspaceParent: scratch.url)
            }
            do { _ = try AnkiCollection.open(file, workspaceParent: scratch.url) } catch let error as ReaderError {
                #expect(error.code == code)
            }
            #expect(scratch.contents.isEmpty)
            return
        }
        let collection = try AnkiCollection.open(file, workspaceParent: scratch.url)
        try collection.validate()
        let counts = try collection.counts()
        let expected = try ShellCounts.of(file, scratch: try ScratchDirectory())
        let actual = ShellCounts(notes: counts.notes, cards: counts.cards, revlog: counts.revlog, decks: counts.decks,
                                 noteTypes: counts.noteTypes, media: counts.media,
                                 schema: collection.config.schemaVersion)
        #expect(actual == expected, "\(file.lastPathComponent)")

        // Streaming yields every row the counts promise.
        var notes = 0, cards = 0, reviews = 0
        try collection.forEachNote { _ in notes += 1 }
        try collection.forEachCard { _ in cards += 1 }
        try collection.forEachReview { _ in reviews += 1 }
        #expect(notes == counts.notes && cards == counts.cards && reviews == counts.revlog)

        collection.close()
        #expect(scratch.contents.isEmpty, "the workspace must be gone after close()")
        #expect(try Data(contentsOf: file) == before, "the source file must never change")
    }
}
