import Foundation
import Testing

/// `anki-submit scan` as a participant runs it (the built binary, in its own working folder).
@Suite struct ScanCommandTests {
    static let binary: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("anki-submit")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        for dir in [".build-scanner/debug", ".build/debug"] {
            let candidate = Paths.root.appendingPathComponent(dir).appendingPathComponent("anki-submit")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return beside
    }()

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func run(_ arguments: [String], stdin: String? = nil) throws -> Output {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: NSTemporaryDirectory())
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    var berlin: String { Paths.generated.appendingPathComponent("berlin-latest.apkg").path }

    @Test func jsonHasExactlyTheDocumentedShape() throws {
        let result = try run(["scan", berlin, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        #expect(Set(object.keys) == ["notes", "summary"])
        let notes = object["notes"] as! [[String: Any]]
        #expect(!notes.isEmpty)
        for note in notes {
            #expect(Set(note.keys) == ["note_id", "findings"])
            let findings = note["findings"] as! [[String: Any]]
            #expect(!findings.isEmpty)
            for f in findings {
                #expect(Set(f.keys) == ["kind", "category", "text", "field", "start", "end", "score", "detector"])
                #expect(["pii", "special"].contains(f["category"] as! String))
            }
        }
        let summary = object["summary"] as! [String: Any]
        #expect(summary["notes_scanned"] as? Int == 120)
        #expect(summary["special_category_notes"] as? Int == 7)
        #expect(summary["special_category_threshold"] as? Int == 3)
        #expect(summary["special_category_notice"] as? Bool == true)
        let byKind = summary["by_kind"] as! [String: Int]
        #expect(byKind["email"] == 2 && byKind["phone"] == 6)
        // note ids are the original ones
        #expect(notes.contains { ($0["note_id"] as? Int64 ?? Int64($0["note_id"] as! Int)) == 1_784_921_376_403 })
    }

    @Test func textReport() throws {
        let result = try run(["scan", berlin])
        #expect(result.status == 0)
        #expect(result.stdout.contains("Note 1784921376403"))
        #expect(result.stdout.contains("lena.hoffmann93@web.de"))
        #expect(result.stdout.contains("Summary: "))
        #expect(result.stdout.contains("Special categories (health, religion, politics): 7 note(s), above the threshold of 3"))
    }

    @Test func minimumScoreFilters() throws {
        let all = try run(["scan", berlin, "--json", "--min-score", "0"])
        let strict = try run(["scan", berlin, "--json", "--min-score", "0.95"])
        func count(_ o: Output) throws -> Int {
            let object = try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as! [String: Any]
            return (object["summary"] as! [String: Any])["findings"] as! Int
        }
        #expect(try count(all) > count(strict))
        #expect(try run(["scan", berlin, "--min-score", "2"]).status == 64)
    }

    @Test func textsMode() throws {
        let result = try run(["scan", "--texts", "-"], stdin: "\"Ruf an: +49 30 12345678\"\n\"der Hund\"\n")
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(lines.count == 2)
        #expect((lines[0]["findings"] as! [[String: Any]]).first?["kind"] as? String == "phone")
        #expect((lines[1]["findings"] as! [[String: Any]]).isEmpty)
    }

    /// A text that starts with a byte-order mark: offsets count its three bytes (Foundation's
    /// reader dropped it, and every offset came out three bytes early).
    @Test func byteOrderMarkShiftsNoOffset() throws {
        let result = try run(["scan", "--texts", "-"], stdin: "\"\\ufeffMail: lena@web.de\"\n\"\u{FEFF}Mail: lena@web.de\"\n")
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(lines.count == 2)
        for line in lines {
            let f = (line["findings"] as! [[String: Any]]).first
            #expect(f?["start"] as? Int == 9 && f?["end"] as? Int == 20, "\(line)")
        }
        // a mark before the first line's quote marks the file's encoding: not part of the text
        let marked = try run(["scan", "--texts", "-"], stdin: "\u{FEFF}\"Mail: lena@web.de\"\n")
        #expect(marked.status == 0 && marked.stdout.contains("\"start\":6,"), "\(marked.stdout)")
    }

    /// `--timing` gives the scan's figure and the whole command's; the lines are written in order.
    @Test func textsTimingAndOrder() throws {
        let input = (0..<50).map { "\"Text \($0): ruf +49 30 1234567\($0 % 10) an\"" }.joined(separator: "\n") + "\n"
        let result = try run(["scan", "--texts", "-", "--timing"], stdin: input)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("MB/s CPU") && result.stderr.contains("end to end"))
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 50)
        #expect(lines.first?.hasPrefix("{\"findings\":[{\"category\":\"pii\",\"detector\":") == true)
        #expect(lines.enumerated().allSatisfy { $0.element.hasSuffix(",\"index\":\($0.offset)}") })
        #expect(try run(["scan", "--texts", "-"], stdin: "\"a\" b\n").status == 64)
    }

    @Test func errorsCarryNoCardText() throws {
        let missing = try run(["scan", "/nonexistent/lena_hoffmann.apkg"])
        #expect(missing.status == 10)
        #expect(!missing.stdout.contains("lena"))
        let bad = try run(["scan", Paths.hostile.appendingPathComponent("bad-utf8.apkg").path, "--json"])
        #expect(bad.status == 0 || bad.status == 28)
        #expect(bad.stderr.count < 300)
        #expect(try run(["scan"]).status == 64)
    }
}
