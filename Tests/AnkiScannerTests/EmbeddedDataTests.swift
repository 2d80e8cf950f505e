import AnkiEmbeddedData
import AnkiScanner
import AnkiSubmission
import Foundation
import Testing

/// The data compiled into the program is the source tree's Config/ and Wordlists/, byte for byte and
/// file for file: the copy a participant runs can never drift from what is reviewed and tested.
@Suite struct EmbeddedDataTests {
    /// Every file the program may read from the source tree (what the EmbedDataPlugin embeds).
    private func sourceFiles() throws -> [String] {
        var paths: [String] = []
        for folder in ["Config", "Wordlists"] {
            let base = Paths.root.appendingPathComponent(folder)
            let walker = try #require(FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil))
            for case let url as URL in walker where DataDirectory.embeddedExtensions.contains(url.pathExtension) {
                let relative = url.standardizedFileURL.path.dropFirst(Paths.root.standardizedFileURL.path.count + 1)
                paths.append(String(relative))
            }
        }
        return paths.sorted()
    }

    @Test func embeddedCopyEqualsTheSourceTree() throws {
        let source = try sourceFiles()
        #expect(source.contains("Config/languages.tsv"))
        #expect(source.contains("Config/scanner/scanner.json"))
        #expect(source.contains("Wordlists/names/de/given.txt"))
        #expect(EmbeddedFiles.paths == source, "the embedded file list differs from Config/ and Wordlists/")
        for path in source {
            let onDisk = try Data(contentsOf: Paths.root.appendingPathComponent(path))
            let embedded = try #require(EmbeddedFiles.contents(path), "\(path) is not embedded")
            #expect(Data(embedded) == onDisk, "\(path): the embedded copy differs from the file")
            #expect(DataDirectory.embedded.contents(path) == onDisk)
        }
        #expect(EmbeddedFiles.contents("Config/nothing.json") == nil)
        #expect(!DataDirectory.embedded.exists("Wordlists/names/xx/given.txt"))
    }

    /// Every file the scanner and the language list read comes from the embedded copy when no folder is given.
    @Test func scannerAndLanguagesLoadFromTheEmbeddedCopy() throws {
        let embedded = try DataDirectory.locate(explicit: nil, environment: [:])
        #expect(embedded.url == nil)
        let fromEmbedded = try AnkiScanner.Scanner(dataDirectory: embedded)
        let text = "Call Anna Schmidt at +49 30 1234567 or anna.schmidt@example.org about her diabetes."
        let expected = sharedScanner.scan(field: text, index: 0).map { "\($0.kind):\($0.text)" }
        #expect(!expected.isEmpty)
        #expect(fromEmbedded.scan(field: text, index: 0).map { "\($0.kind):\($0.text)" } == expected)
        let languages = try LanguageList.load(from: embedded)
        #expect(languages.canonical("deu") == "de")
        #expect(languages.languages.count == (try LanguageList.load(from: DataDirectory(url: Paths.root))).languages.count)
    }

    @Test func aFolderAskedForMustHoldTheData() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("no-data-\(UUID().uuidString)")
        #expect(throws: DataDirectory.NotFound.self) { try DataDirectory.locate(explicit: empty.path, environment: [:]) }
        #expect(throws: DataDirectory.NotFound.self) {
            try DataDirectory.locate(explicit: nil, environment: ["ANKI_SUBMIT_DATA": empty.path])
        }
        let fromEnvironment = try DataDirectory.locate(explicit: nil, environment: ["ANKI_SUBMIT_DATA": Paths.root.path])
        #expect(fromEnvironment.url?.standardizedFileURL == Paths.root.standardizedFileURL)
        // --data-dir wins over the environment.
        let explicit = try DataDirectory.locate(explicit: Paths.root.path, environment: ["ANKI_SUBMIT_DATA": empty.path])
        #expect(explicit.url != nil)
        #expect(try DataDirectory.locate(explicit: nil, environment: ["ANKI_SUBMIT_DATA": ""]).url == nil)
    }

    /// The plugin and DataDirectory name the same extensions (one list each side of the build).
    @Test func pluginEmbedsTheExtensionsTheProgramExpects() throws {
        let plugin = try String(contentsOf: Paths.root.appendingPathComponent("Plugins/EmbedDataPlugin/plugin.swift"), encoding: .utf8)
        let expected = DataDirectory.embeddedExtensions.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
        let declared = try #require(plugin.split(separator: "\n").first { $0.contains("static let extensions") })
        let listed = declared.split(separator: "[").last.map { $0.split(separator: "]").first.map(String.init) ?? "" } ?? ""
        #expect(listed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.sorted().joined(separator: ", ") == expected)
    }

    /// Files shipped next to the executable (a study profile in the download) are found from the
    /// executable's own folder, whatever the working folder: the test binary sits beside anki-submit.
    @Test func filesNextToTheExecutableAreFound() throws {
        let folder = try #require(ExecutableLocation.folder())
        let next = try #require(ExecutableLocation.fileNextToExecutable("anki-submit"),
                                "anki-submit is built next to the test binary in \(folder.path)")
        #expect(next.deletingLastPathComponent().standardizedFileURL == folder.standardizedFileURL)
        #expect(ExecutableLocation.fileNextToExecutable("no-such-file-\(UUID().uuidString)") == nil)
        #expect(ExecutableLocation.fileNextToExecutable("Modules") == nil, "a folder is not a file")
    }
}
