import AnkiScanner
import AnkiSubmission
import Foundation
import Testing

/// The scanner's data is versioned JSON and word lists; a typo must stop it, not weaken it.
@Suite struct ConfigurationTests {
    /// A copy of Config/ and Wordlists/ in a fresh folder, edited by `edit`.
    private func copy(_ edit: (URL) throws -> Void) throws -> (URL, () -> Void) {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("scanner-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in ["Config", "Wordlists"] {
            try FileManager.default.copyItem(at: Paths.root.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        try edit(dir)
        return (dir, { try? FileManager.default.removeItem(at: dir) })
    }

    private func editJSON(_ file: URL, _ change: (inout [String: Any]) -> Void) throws {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: file)
    }

    private func loadError(_ dir: URL) -> String? {
        do {
            _ = try AnkiScanner.Scanner(dataDirectory: DataDirectory(url: dir))
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func unknownKeysAreErrors() throws {
        let (dir, cleanup) = try copy { dir in
            try editJSON(dir.appendingPathComponent("Config/scanner/scanner.json")) { $0["min_scroe"] = 0.1 }
        }
        defer { cleanup() }
        let message = loadError(dir)
        #expect(message?.contains("unknown key \"min_scroe\"") == true, "\(message ?? "loaded")")
    }

    @Test func nestedUnknownKeysAreErrors() throws {
        let (dir, cleanup) = try copy { dir in
            try editJSON(dir.appendingPathComponent("Config/scanner/patterns.json")) { object in
                var patterns = object["patterns"] as! [String: Any]
                var email = patterns["email"] as! [String: Any]
                email["caseles"] = true
                patterns["email"] = email
                object["patterns"] = patterns
            }
        }
        defer { cleanup() }
        #expect(loadError(dir)?.contains("unknown key \"caseles\"") == true)
    }

    @Test func versionsAreChecked() throws {
        let (dir, cleanup) = try copy { dir in
            try editJSON(dir.appendingPathComponent("Config/scanner/phones.json")) { $0["version"] = 2 }
        }
        defer { cleanup() }
        #expect(loadError(dir)?.contains("version 2 is not supported") == true)
    }

    @Test func brokenPatternsAreNamed() throws {
        let (dir, cleanup) = try copy { dir in
            try editJSON(dir.appendingPathComponent("Config/scanner/patterns.json")) { object in
                var patterns = object["patterns"] as! [String: Any]
                patterns["digits"] = ["regex": "(\\d+"]
                object["patterns"] = patterns
            }
        }
        defer { cleanup() }
        #expect(loadError(dir)?.contains("pattern digits does not compile") == true)
    }

    @Test func missingWordListsAreNamed() throws {
        let (dir, cleanup) = try copy { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("Wordlists/names/de/given.txt"))
        }
        defer { cleanup() }
        #expect(loadError(dir)?.contains("names/de/given.txt") == true)
    }

    @Test func unknownValidatorsAreErrors() throws {
        let (dir, cleanup) = try copy { dir in
            try editJSON(dir.appendingPathComponent("Config/scanner/patterns.json")) { object in
                var ids = object["national_ids"] as! [[String: Any]]
                ids[0]["validator"] = "luhnn"
                object["national_ids"] = ids
            }
        }
        defer { cleanup() }
        #expect(loadError(dir)?.contains("unknown validator \"luhnn\"") == true)
    }

    @Test func everyPhoneCountryOfTheIssueIsConfigured() throws {
        let data = try Data(contentsOf: Paths.root.appendingPathComponent("Config/scanner/phones.json"))
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let regions = Set((object["countries"] as! [[String: Any]]).map { $0["region"] as! String })
        let required: Set = ["DE", "AT", "CH", "FR", "ES", "IT", "PT", "BR", "GB", "US", "CA", "NL", "BE", "PL", "SE", "TR",
                             "RU", "JP", "CN", "KR", "IN", "MX", "AU"]
        #expect(required.isSubset(of: regions))
    }

    @Test func wordListsHaveRecordedSources() throws {
        let sources = try String(contentsOf: Paths.root.appendingPathComponent("Wordlists/SOURCES.md"), encoding: .utf8)
        for lang in ["de", "en", "es", "fr", "it", "pt", "nl", "pl", "sv", "tr", "ru", "ja", "zh", "ko"] {
            for list in ["given.txt", "surnames.txt"] {
                let path = Paths.root.appendingPathComponent("Wordlists/names/\(lang)/\(list)").path
                #expect(FileManager.default.fileExists(atPath: path), "\(path) missing")
            }
            #expect(sources.contains("`\(lang)`"), "SOURCES.md does not mention \(lang)")
        }
        for category in ["health", "religion", "politics"] {
            for lang in ["de", "en", "es", "fr", "it", "pt", "nl", "pl", "sv", "ja"] {
                let path = Paths.root.appendingPathComponent("Wordlists/special/\(category)/\(lang).txt").path
                #expect(FileManager.default.fileExists(atPath: path), "\(path) missing")
            }
        }
    }
}
