import Foundation
import Testing

@Suite("anki-submit inspect")
struct InspectCommandTests {
    static var truthFiles: [URL] {
        ((try? FileManager.default.contentsOfDirectory(atPath: CLI.generated.path)) ?? [])
            .filter { $0.hasSuffix("-truth.json") }.sorted().map { CLI.generated.appendingPathComponent($0) }
    }

    /// (file name, expected counts) from the fixture script's per-file table.
    static var expectations: [(String, [String: Int])] {
        truthFiles.flatMap { url -> [(String, [String: Int])] in
            guard let data = try? Data(contentsOf: url),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let files = object["files"] as? [String: [String: Any]] else { return [] }
            return files.map { name, counts in (name, counts.compactMapValues { $0 as? Int }) }
        }.sorted { $0.0 < $1.0 }
    }

    @Test("--json matches the fixture script's counts", arguments: expectations)
    func json(_ name: String, _ expected: [String: Int]) throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try cli.run(["inspect", "--json", CLI.generated.appendingPathComponent(name).path])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for key in ["notes", "cards", "revlog", "decks", "note_types", "media", "schema"] {
            #expect(object[key] as? Int == expected[key], "\(name): \(key)")
        }
        let format = name.contains("latest") ? "latest" : name.contains("legacy2") ? "legacy2" : "legacy1"
        #expect(object["format"] as? String == format)
        #expect(result.leftInTemp.isEmpty && result.leftInWorkingDirectory.isEmpty)
    }

    @Test("fixture table is present")
    func haveExpectations() {
        #expect(Self.expectations.count >= 5)
    }

    @Test("text output names the format and counts")
    func text() throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try cli.run(["inspect", CLI.generated.appendingPathComponent("berlin-latest.colpkg").path])
        #expect(result.status == 0)
        #expect(result.stdout.contains("Format:       Anki package, latest"))
        #expect(result.stdout.contains("Reviews:"))
        #expect(result.stderr.isEmpty)
    }

    @Test("--help documents every exit code")
    func helpListsExitCodes() throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try cli.run(["--help"])
        for code in [10, 11, 12, 15, 16, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30, 31, 130] {
            #expect(result.stdout.contains("  \(code)  "), "exit code \(code) undocumented")
        }
    }

    static let hostile: [(String, Int32)] = [
        ("zip-slip-dotdot.apkg", 16), ("zip-slip-absolute.apkg", 16), ("zstd-bomb.apkg", 19),
        ("truncated.apkg", 15), ("truncated-zstd.apkg", 22), ("meta-too-new.apkg", 20),
        ("schema-too-old.apkg", 23), ("schema-too-new.apkg", 24), ("no-collection.apkg", 21),
        ("not-anki.sqlite", 25), ("corrupt.anki2", 26), ("not-a-zip.apkg", 14), ("big-id.apkg", 27),
        ("bad-utf8.apkg", 28), ("media-missing.apkg", 30), ("empty.apkg", 12),
    ]

    @Test("hostile files: documented exit code, one line on stderr, nothing left behind", arguments: hostile)
    func hostileFile(_ name: String, _ code: Int32) throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try cli.run(["inspect", "--json", CLI.hostile.appendingPathComponent(name).path])
        #expect(result.status == code, "\(name): \(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("anki-submit: "))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.leftInTemp.isEmpty, "temp files left: \(result.leftInTemp)")
        #expect(result.leftInWorkingDirectory.isEmpty)
    }

    @Test("a directory and a bad option")
    func usage() throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["inspect", cli.cwd.path]).status == 11)
        #expect(try cli.run(["inspect", "--max-unpacked-size", "lots", "x.apkg"]).status == 64)
    }

    @Test("Ctrl-C while unpacking removes the temporary copy and exits 130")
    func interrupt() throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        // The zstd bomb, with the guards lifted, unpacks 1 GiB: long enough to interrupt.
        let (process, out, err) = cli.process(["inspect", "--max-ratio", "100000000", "--max-unpacked-size", "64G",
                                               CLI.hostile.appendingPathComponent("zstd-bomb.apkg").path])
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        var sawWorkspace = false
        while Date() < deadline && process.isRunning {
            let inTemp = (try? FileManager.default.subpathsOfDirectory(atPath: cli.temp.path)) ?? []
            if inTemp.contains(where: { $0.hasSuffix("collection.sqlite") }) {
                sawWorkspace = true
                break
            }
            usleep(2_000)
        }
        try #require(sawWorkspace, "the unpacking never started")
        usleep(50_000)
        process.interrupt()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        _ = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let result = cli.result(process, Data(), stderr)
        #expect(result.status == 130)
        #expect(result.stderr.contains("Interrupted"))
        #expect(result.leftInTemp.isEmpty, "left: \(result.leftInTemp)")
    }
}
