import AnkiSubmission
import Foundation
import GRDB
import Testing

@testable import AnkiResearch

/// The participant's side: `prepare --send-to` / `--study` against a real `research serve`.
enum Send {
    static func prepareArguments(out: URL, fixture: String = "berlin-latest.apkg", consent: Bool = true) -> [String] {
        ["prepare", CLI.generated.appendingPathComponent(fixture).path, "--review", "none", "--out", out.path,
         "--consent-public", consent ? "yes" : "no", "--timezone", "Europe/Berlin", "--language", "de",
         "--domain", "medicine", "--confirm-special-categories"]
    }

    /// A study profile whose intake is `intake` (and withdrawals at `withdrawal`).
    static func profile(in folder: URL, intake: String?, contact: String = "study-team@example.org") throws -> URL {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: StudyProfileTests.example)) as! [String: Any]
        object["contact"] = contact
        if let intake { object["intake_url"] = intake } else { object.removeValue(forKey: "intake_url") }
        let url = folder.appendingPathComponent("study-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        return url
    }

    /// A loopback port nothing listens on (bound, then closed).
    static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func files(_ folder: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }
}

@Suite("prepare --send-to: the submission reaches the study", .serialized)
struct SendTests {
    static let enabled = Intake.curl != nil
    static let skip: Comment = "curl is missing: `make test` installs it (apt package curl)"

    @Test("prepare --send-to uploads the audited submission, prints the receipt and saves it beside the file",
          .timeLimit(.minutes(2)))
    func sendsAndSavesReceipt() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let spool = ws.root.appendingPathComponent("spool")
        let server = try Intake.Server(spool: spool, journal: ws.journal)
        defer { server.stop() }
        let out = ws.root.appendingPathComponent("out")
        let result = try CLI.run(Send.prepareArguments(out: out) + ["--send-to", server.base + "/submissions"])
        #expect(result.status == 0, "\(result.stderr)")
        let submission = out.appendingPathComponent("anki-submission.sqlite")
        let sha = Intake.sha256(submission)
        #expect(Intake.names(spool) == ["\(sha).sqlite"])
        let receiptFile = out.appendingPathComponent("anki-submission.receipt.json")
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: receiptFile)) as? [String: Any] ?? [:]
        let number = try #require(saved["receipt"] as? String)
        #expect(saved["sha256"] as? String == sha)
        #expect(result.stdout.contains("Receipt: \(number)"))
        #expect(result.stdout.contains(receiptFile.path))
        // The token never left: not in the spool file, not in the receipt.
        let tokenText = try String(contentsOf: out.appendingPathComponent(
            Send.files(out).first { $0.contains("token") }!), encoding: .utf8)
        let token = try #require(tokenText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.count == 34 && $0.filter { $0 == "-" }.count == 6 })
        let uploaded = try Data(contentsOf: spool.appendingPathComponent("\(sha).sqlite"))
        #expect(!uploaded.contains(text: token))
        #expect(!uploaded.contains(text: token.replacingOccurrences(of: "-", with: "")))
        #expect(!(try Data(contentsOf: receiptFile)).contains(text: token))

        // --json carries the receipt too.
        let out2 = ws.root.appendingPathComponent("out2")
        let json = try CLI.run(Send.prepareArguments(out: out2, fixture: "newyork-latest.apkg")
                               + ["--send-to", server.base + "/submissions", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = (try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) as? [String: Any] ?? [:]
        #expect((object["receipt"] as? String)?.count == 19)
        #expect(Intake.names(spool).count == 2)
    }

    @Test("plain http to another computer, a bad profile or an unreadable CA file: exit 47 before anything is written",
          .timeLimit(.minutes(1)))
    func refusedBeforeWriting() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let out = ws.root.appendingPathComponent("out")
        let http = try CLI.run(Send.prepareArguments(out: out) + ["--send-to", "http://study.example.org/submissions"])
        #expect(http.status == 47)
        #expect(http.stderr.contains("plain http is allowed only to this computer"))
        let ftp = try CLI.run(Send.prepareArguments(out: out) + ["--send-to", "ftp://study.example.org/"])
        #expect(ftp.status == 47)
        let ca = try CLI.run(Send.prepareArguments(out: out) + ["--send-to", "https://study.example.org/submissions",
                                                                 "--ca-file", ws.root.appendingPathComponent("none.pem").path])
        #expect(ca.status == 47)
        let bad = ws.root.appendingPathComponent("bad.json")
        try Data(#"{"format": "anki-submit-study", "version": 1, "name": "x", "colour": "red"}"#.utf8).write(to: bad)
        let profile = try CLI.run(Send.prepareArguments(out: out) + ["--study", bad.path])
        #expect(profile.status == 47)
        #expect(profile.stderr.contains("\"colour\""))
        #expect(Send.files(out).isEmpty, "\(Send.files(out))")
    }

    @Test("no server: exit 48, the file stays, the message names it and the study's contact",
          .timeLimit(.minutes(2)))
    func unreachable() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let out = ws.root.appendingPathComponent("out")
        let study = try Send.profile(in: ws.root, intake: "http://127.0.0.1:\(Send.closedPort())/submissions",
                                     contact: "help@memory-study.example")
        let result = try CLI.run(Send.prepareArguments(out: out) + ["--study", study.path])
        #expect(result.status == 48, "\(result.stderr)")
        let submission = out.appendingPathComponent("anki-submission.sqlite")
        #expect(FileManager.default.fileExists(atPath: submission.path))
        #expect(result.stderr.contains(submission.path))
        #expect(result.stderr.contains("help@memory-study.example"))
        #expect(result.stderr.contains("Memory in the Wild 2026"))
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("anki-submission.receipt.json").path))
    }

    @Test("the server refuses (over its upload limit): exit 49, the file stays", .timeLimit(.minutes(2)))
    func refused() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let spool = ws.root.appendingPathComponent("spool")
        let server = try Intake.Server(spool: spool, journal: ws.journal, extra: ["--max-upload", "2K"])
        defer { server.stop() }
        let out = ws.root.appendingPathComponent("out")
        let result = try CLI.run(Send.prepareArguments(out: out) + ["--send-to", server.base + "/submissions"])
        #expect(result.status == 49, "\(result.stderr)")
        #expect(result.stderr.contains("413"))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("anki-submission.sqlite").path))
        #expect(Intake.names(spool).isEmpty)
    }

    @Test("end to end: profile → prepare --study → spool → ingest → withdraw over HTTP → release without that participant",
          .enabled(if: enabled, skip), .timeLimit(.minutes(3)))
    func endToEnd() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let spool = ws.root.appendingPathComponent("spool")
        let study = try Send.profile(in: ws.root, intake: nil)
        let server = try Intake.Server(spool: spool, journal: ws.journal, extra: ["--study", study.path])
        defer { server.stop() }
        // The study page names the study and its contact.
        let page = try Intake.get(server.base + "/")
        #expect(page.contains("Memory in the Wild 2026"))
        #expect(page.contains("study-team@example.org"))

        let profile = try Send.profile(in: ws.root, intake: server.base + "/submissions")
        var tokens: [String] = []
        for (index, fixture) in ["berlin-latest.apkg", "auckland-latest.apkg"].enumerated() {
            let out = ws.root.appendingPathComponent("participant-\(index)")
            let result = try CLI.run(Send.prepareArguments(out: out, fixture: fixture, consent: true)
                                     + ["--study", profile.path, "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let object = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
            let tokenFile = try #require(object["token_file"] as? String)
            let text = try String(contentsOfFile: tokenFile, encoding: .utf8)
            tokens.append(try #require(text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .first { $0.count == 34 && $0.filter { $0 == "-" }.count == 6 }))
        }
        #expect(Intake.names(spool).filter { $0.hasSuffix(".sqlite") }.count == 2)

        let ingest = try CLI.run(["research", "ingest", spool.path, "--dataset", ws.dataset.path,
                                  "--key-file", ws.key.path, "--json"])
        #expect(ingest.status == 0, "\(ingest.stderr)")

        // The first participant withdraws through the same server.
        let withdrawal = try Intake.post(server.base + "/withdrawals", data: Data("token=\(tokens[0])".utf8),
                                         type: "application/x-www-form-urlencoded")
        #expect(withdrawal.status == 202)
        let withdraw = try CLI.run(["research", "withdraw", "--dataset", ws.dataset.path, "--key-file", ws.key.path,
                                    "--journal", ws.journal.path, "--json"])
        #expect(withdraw.status == 0, "\(withdraw.stderr)")
        let applied = (try? JSONSerialization.jsonObject(with: Data(withdraw.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(applied["removed"] as? Int == 1)

        let summary = try Release(dataset: ws.dataset, out: ws.root.appendingPathComponent("release"),
                                  date: Date(timeIntervalSince1970: 1_750_000_000)).run()
        #expect(summary.participants == 1)
        // A retry of the withdrawn participant's upload does not bring the data back.
        let retry = try Intake.post(server.base + "/submissions",
                                    file: ws.root.appendingPathComponent("participant-0/anki-submission.sqlite"))
        #expect(retry.status == 200)
        let again = try CLI.run(["research", "ingest", spool.path, "--dataset", ws.dataset.path,
                                 "--key-file", ws.key.path, "--json"])
        let second = (try? JSONSerialization.jsonObject(with: Data(again.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(second["ingested"] as? Int == 0)
    }
}
