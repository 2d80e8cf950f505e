import Foundation
import Testing

@Suite("anki-submit prepare and audit")
struct PrepareCommandTests {
    static let deck = CLI.generated.appendingPathComponent("berlin-latest.apkg")
    static let source = ["--timezone", "Europe/Berlin", "--consent-public", "yes", "--language", "de",
                         "--confirm-special-categories"]

    @Test("prepare --review none writes a submission and a token; audit --source is clean")
    func endToEnd() throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let out = cli.cwd.appendingPathComponent("out")
        let result = try cli.run(["prepare", Self.deck.path, "--review", "none", "--out", out.path, "--json"] + Self.source)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let submission = try #require(object["submission"] as? String)
        let tokenFile = try #require(object["token_file"] as? String)
        #expect(object["revlog"] as? Int ?? 0 > 1000)
        #expect(result.leftInTemp.isEmpty)
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8)
        #expect(!result.stdout.contains(token.split(separator: "\n")[3]), "--json never prints the token")

        let audit = try cli.run(["audit", submission, "--source", Self.deck.path, "--timezone", "Europe/Berlin"])
        #expect(audit.status == 0, "\(audit.stdout)")
        #expect(audit.stdout.hasPrefix("Clean:"))
        let wrongZone = try cli.run(["audit", submission, "--source", Self.deck.path, "--timezone", "Asia/Tokyo"])
        #expect(wrongZone.status == 1)
        #expect(wrongZone.stdout.contains("[review-days]"))
        let alone = try cli.run(["audit", submission])
        #expect(alone.status == 0)
    }

    @Test("the text output shows the token once, with instructions, and the report")
    func textOutput() throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try cli.run(["prepare", Self.deck.path, "--review", "none", "--out", "o"] + Self.source)
        #expect(result.status == 0)
        #expect(result.stdout.contains("Your withdrawal token"))
        #expect(result.stdout.contains("remap-ids:"))
        #expect(result.leftInWorkingDirectory.sorted() == ["o", "o/anki-submission-withdrawal-token.txt", "o/anki-submission.sqlite"])
    }

    @Test("bad decisions: refused with exit 40 before anything is written", arguments: [
        ["--exclude-note", "12345"],
        ["--remove-tag", "no_such_tag"],
        ["--language", "xx"],
        ["--decisions", "bad.json"],
        ["--decisions", "missing.json"],
    ])
    func badDecisions(_ extra: [String]) throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        try Data("{\"excluded_notes\": [1,".utf8).write(to: cli.cwd.appendingPathComponent("bad.json"))
        let result = try cli.run(["prepare", Self.deck.path, "--review", "none", "--out", "out",
                                  "--timezone", "UTC", "--consent-public", "no", "--confirm-special-categories"] + extra)
        #expect(result.status == 40, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!result.stderr.contains("12345"), "no ids in messages")
        #expect(result.leftInWorkingDirectory == ["bad.json"])
        #expect(result.leftInTemp.isEmpty)
    }

    @Test("damaged collections: the reader's exit code, one line, no output folder, nothing left",
          arguments: [("corrupt.anki2", Int32(26)), ("bad-utf8.apkg", 28), ("big-id.apkg", 27), ("not-anki.sqlite", 25),
                      ("text-in-number.apkg", 29)])
    func damaged(_ name: String, _ code: Int32) throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try cli.run(["prepare", CLI.hostile.appendingPathComponent(name).path, "--review", "none",
                                  "--out", "out", "--timezone", "UTC", "--language", "de", "--consent-public", "yes",
                                  "--confirm-special-categories"])
        #expect(result.status == code, "\(name): \(result.stderr)")
        #expect(result.stderr.hasPrefix("anki-submit: "))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.leftInTemp.isEmpty, "temp files left: \(result.leftInTemp)")
        #expect(result.leftInWorkingDirectory.isEmpty, "left: \(result.leftInWorkingDirectory)")
    }

    @Test("missing consent and bad options are refused")
    func options() throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["prepare", Self.deck.path, "--review", "none", "--timezone", "UTC"]).status == 40)
        #expect(try cli.run(["prepare", Self.deck.path, "--timezone", "Mars/Olympus", "--consent-public", "yes"]).status == 64)
        #expect(try cli.run(["prepare", Self.deck.path, "--rollover", "24", "--consent-public", "yes"]).status == 64)
        #expect(try cli.run(["prepare", CLI.hostile.appendingPathComponent("truncated.apkg").path,
                             "--consent-public", "yes"]).status == 15)
        // Special-category notes need an explicit confirmation; --exclude-flagged removes them instead.
        #expect(try cli.run(["prepare", Self.deck.path, "--review", "none", "--out", "a", "--timezone", "UTC",
                             "--consent-public", "yes"]).status == 43)
        #expect(try cli.run(["prepare", Self.deck.path, "--review", "none", "--out", "b", "--timezone", "UTC",
                             "--consent-public", "yes", "--exclude-flagged"]).status == 0)
    }

    @Test("Ctrl-C in the middle of writing leaves no partial submission", arguments: ["write", "remap-ids"])
    func interrupt(_ stage: String) throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let (process, out, err) = cli.process(["prepare", Self.deck.path, "--review", "none", "--out", "out"] + Self.source)
        var environment = process.environment ?? [:]
        environment["ANKI_SUBMIT_TEST_PAUSE_BEFORE"] = stage
        process.environment = environment
        try process.run()
        // Wait for the pause line on stderr, then interrupt.
        var seen = Data()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !String(decoding: seen, as: UTF8.self).contains("paused before") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        #expect(String(decoding: seen, as: UTF8.self).contains("paused before \(stage)"))
        let partial = (try? FileManager.default.contentsOfDirectory(atPath: cli.cwd.appendingPathComponent("out").path)) ?? []
        // The hidden partial file, and while it is built its write-ahead log and index.
        #expect(partial.allSatisfy { $0.hasPrefix(".") && ($0.hasSuffix(".partial") || $0.hasSuffix(".partial-wal")
                                                         || $0.hasSuffix(".partial-shm")) },
                "only a hidden partial file exists while running: \(partial)")
        process.interrupt()
        _ = out.fileHandleForReading.readDataToEndOfFile()
        _ = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let result = cli.result(process, Data(), Data())
        #expect(result.status == 130)
        #expect(result.leftInTemp.isEmpty, "temp: \(result.leftInTemp)")
        #expect(result.leftInWorkingDirectory.filter { $0 != "out" }.isEmpty, "left: \(result.leftInWorkingDirectory)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: cli.cwd.appendingPathComponent("out").path)) ?? []
        #expect(left.isEmpty, "left in the output folder: \(left)")
    }
}

/// The journeys that ended in an error before, run as a participant runs them: the built binary on an
/// Anki-made deck (notes added in one batch), then `audit --source` on what it wrote.
@Suite("participant journeys through the binary")
struct JourneyTests {
    static let quick = CLI.root.appendingPathComponent("Tests/Fixtures/anki-made/quick-latest.apkg")
    static let berlin = CLI.generated.appendingPathComponent("berlin-latest.apkg")
    static let answers = ["--timezone", "Europe/Paris", "--consent-public", "yes", "--language", "fr",
                          "--confirm-special-categories"]

    static func noteIDs() throws -> [Int64] {
        let truth = try JSONSerialization.jsonObject(with: Data(contentsOf: CLI.root.appendingPathComponent(
            "Tests/Fixtures/anki-made/quick-truth.json"))) as! [String: Any]
        return (truth["notes"] as! [[String: Any]]).map { ($0["id"] as! NSNumber).int64Value }
    }

    /// prepare, then audit --source: both exit 0.
    func submitAndAudit(_ deck: URL, _ extra: [String]) throws -> (CLI.Result, CLI.Result?) {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let out = cli.cwd.appendingPathComponent("out")
        let result = try cli.run(["prepare", deck.path, "--review", "none", "--out", out.path] + Self.answers + extra)
        guard result.status == 0 else { return (result, nil) }
        let audit = try cli.run(["audit", out.appendingPathComponent("anki-submission.sqlite").path, "--source", deck.path,
                                 "--timezone", "Europe/Paris"])
        return (result, audit)
    }

    @Test("excluding the first, a middle and the last note of an Anki-made deck")
    func exclusions() throws {
        let ids = try Self.noteIDs()
        for extra in [["--exclude-note", String(ids[0])], ["--exclude-note", String(ids[ids.count / 2])],
                      ["--exclude-note", String(ids[0]), "--exclude-note", String(ids[1]), "--exclude-note", String(ids.last!)]] {
            let (result, audit) = try submitAndAudit(Self.quick, extra)
            #expect(result.status == 0, "\(extra.count / 2) excluded: \(result.stderr)")
            #expect(audit?.status == 0, "\(audit?.stdout ?? "")")
        }
    }

    @Test("a domain answer with a deck word: named in the refusal (exit 40), submitted with --keep-domain")
    func deckWordInTheAnswer() throws {
        let (refused, _) = try submitAndAudit(Self.berlin, ["--domain", "Japanese for travel"])
        #expect(refused.status == 40)
        #expect(refused.stderr.contains("\"Japanese\"") && refused.stderr.contains("--keep-domain"), "\(refused.stderr)")
        let (kept, audit) = try submitAndAudit(Self.berlin, ["--domain", "Japanese for travel", "--keep-domain"])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(audit?.status == 0, "\(audit?.stdout ?? "")")
        let (language, languageAudit) = try submitAndAudit(Self.berlin, ["--domain", "A2 exam, studying French"])
        #expect(language.status == 0, "\(language.stderr)")
        #expect(languageAudit?.status == 0)
    }
}
