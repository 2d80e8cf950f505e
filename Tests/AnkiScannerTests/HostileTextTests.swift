import AnkiReader
import AnkiScanner
import Foundation
import Testing

/// Hostile field text neither hangs nor crashes the scanner: each case must finish well within the
/// time limit (the scanner is linear in the text; PCRE2 runs in bounded windows with match limits).
@Suite(.serialized) struct HostileTextTests {
    /// Generous limits: a hang would take minutes; a debug build on a busy machine takes seconds.
    private static let limit: Double = _isDebugAssertConfiguration() ? 90 : 10

    private func timed(_ label: String, limit: Double = HostileTextTests.limit, _ body: () -> [Finding]) -> [Finding] {
        let clock = ContinuousClock()
        var findings: [Finding] = []
        let elapsed = clock.measure { findings = body() }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        #expect(seconds < limit, "\(label) took \(seconds) s")
        return findings
    }

    @Test func megabyteFields() {
        let sentence = "Ich lerne Deutsch mit Anna Schmidt, ruf an: +49 30 12345678, Mail anna@web.de. "
        let field = String(repeating: sentence, count: 1_048_576 / sentence.utf8.count + 1)
        let findings = timed("1 MB of prose") { sharedScanner.scan(field: field, index: 0) }
        let copies = field.utf8.count / sentence.utf8.count
        #expect(findings.filter { $0.kind == "email" }.count == copies)
        #expect(findings.filter { $0.kind == "phone" }.count == copies)
        for text in [String(repeating: "a", count: 1 << 20), String(repeating: "7", count: 1 << 20),
                     String(repeating: "漢", count: 1 << 19), String(repeating: "<b>", count: 1 << 18),
                     String(repeating: "{{c1::", count: 1 << 17), String(repeating: "&#", count: 1 << 19),
                     String(repeating: "Anna ", count: 1 << 18), String(repeating: "Diabetes ", count: 1 << 17)] {
            _ = timed("1 MB of \(text.prefix(6).debugDescription)") { sharedScanner.scan(field: text, index: 0) }
        }
    }

    @Test func backtrackingBait() {
        let baits = [
            String(repeating: "a.", count: 100_000) + "@",                 // e-mail/URL labels
            String(repeating: "a", count: 100_000) + "@" + String(repeating: "b.", count: 50_000),
            "http://" + String(repeating: "x", count: 200_000),
            String(repeating: "1 ", count: 100_000),                        // phone groups
            String(repeating: "(1)", count: 100_000),
            "+" + String(repeating: "1-", count: 100_000),
            String(repeating: "1.", count: 100_000),                        // IPs, dates
            String(repeating: "12/", count: 100_000),
            String(repeating: "AB12", count: 50_000),                       // IBAN
            String(repeating: "ab-", count: 100_000) + ".com",              // bare domains
            String(repeating: "0:", count: 100_000),                        // IPv6
            String(repeating: "März ", count: 50_000) + "1990",             // written dates
            "<a " + String(repeating: "\"<", count: 100_000),               // tags that never close
        ]
        for bait in baits {
            _ = timed("bait \(bait.prefix(8).debugDescription)") { sharedScanner.scan(field: bait, index: 0) }
        }
    }

    @Test func invalidUTF8() {
        var bytes = Array("Mail an lena@web.de ".utf8)
        bytes += [0xFF, 0xFE, 0xC3, 0x28, 0xE2, 0x82, 0xED, 0xA0, 0x80, 0xF4, 0x90, 0x80, 0x80, 0xC0, 0xAF]
        bytes += Array(" und Tel. +49 30 12345678".utf8)
        let findings = sharedScanner.scan(fieldBytes: bytes, index: 0)
        #expect(findings.map(\.kind) == ["email", "phone"])
        // offsets still point into the raw bytes
        let phone = findings[1]
        #expect(Array(bytes[phone.start..<phone.end]) == Array("+49 30 12345678".utf8))
        // random garbage
        var generator = SystemRandomNumberGenerator()
        let garbage = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        _ = timed("random bytes") { sharedScanner.scan(fieldBytes: garbage, index: 0) }
    }

    @Test func nulBytes() {
        let field = "Anna\u{0}Schmidt\u{0} lena@web.de\u{0}+49 30 12345678\u{0}"
        let findings = sharedScanner.scan(field: field, index: 0)
        #expect(findings.contains { $0.kind == "email" && $0.text == "lena@web.de" })
        #expect(findings.contains { $0.kind == "phone" })
        let nuls = String(repeating: "\u{0}", count: 1 << 20)
        _ = timed("1 MB of NUL") { sharedScanner.scan(field: nuls, index: 0) }
        _ = sharedScanner.scanText("\u{0}anna\u{0}", field: Finding.tagsField)
    }

    @Test func hostilePackagesFailCleanlyOrScan() throws {
        for file in Paths.files(in: Paths.hostile, extensions: ["apkg", "anki2", "sqlite"]) {
            do {
                let collection = try AnkiCollection.open(file)
                defer { collection.close() }
                _ = try sharedScanner.scan(collection: collection)
            } catch let error as ReaderError {
                #expect(!error.message.isEmpty)
            }
        }
    }
}
