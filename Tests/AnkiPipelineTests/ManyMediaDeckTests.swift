import AnkiAudit
import AnkiReader
import AnkiSubmission
import Foundation
import GRDB
import Testing

/// Decks with thousands of media files, made by genanki and by Anki itself (Tests/Fixtures/genanki,
/// made by make_genanki.py with its own truth). A pattern joined from every name was too large for PCRE2
/// from about a thousand names on (issue 15).
@Suite("Decks with many media files")
struct ManyMediaDeckTests {
    static let folder = Fixtures.root.appendingPathComponent("Tests/Fixtures/genanki")

    @Test("prepare succeeds, audit --source is clean, every reference is its placeholder, no name survives",
          arguments: ["genanki-media", "anki-paste"])
    func prepareAndAudit(_ name: String) throws {
        let package = Self.folder.appendingPathComponent("\(name).apkg")
        let truth = try Fixtures.truth(Self.folder.appendingPathComponent("\(name)-truth.json"))
        let scratch = try Scratch()
        let prepared = try prepare(package, zone: "UTC", out: scratch.sub("out"))
        let collection = try AnkiCollection.open(package)
        defer { collection.close() }
        #expect(collection.media.count == truth["media_files"] as? Int)
        let findings = try SubmissionAudit().audit(
            submission: prepared.submission, source: .init(collection: collection, timeZone: TimeZone(identifier: "UTC")!))
        #expect(findings.isEmpty, "\(findings)")
        try MediaTruth.check(submission: prepared.submission, truth: truth)
    }
}

enum MediaTruth {
    /// `[sound:X]` and `src="X"`: the references whose X must be a placeholder.
    static let reference = try! NSRegularExpression(pattern: #"\[sound:([^\]]*)\]|\bsrc="([^"]*)""#)

    /// Each note's references became the truth's placeholders in order, the odd notes' fields are exactly
    /// as expected, and no media name (nor a media extension or name prefix of these decks) is anywhere in
    /// the file.
    static func check(submission: URL, truth: [String: Any]) throws {
        let placeholders = truth["placeholders"] as! [String: String]
        let expectedFields = truth["expected_fields"] as! [String: [String]]
        let queue = try openReadOnly(submission)
        let rows = try queue.read { try Row.fetchAll($0, sql: "SELECT flds, sfld FROM notes") }
        #expect(rows.count == truth["notes"] as? Int)
        var seen = Set<String>()
        var counts: [String: Int] = [:]
        for row in rows {
            let flds: String = row[0]
            let fields = flds.split(separator: "\u{1f}", omittingEmptySubsequences: false).map(String.init)
            let word = fields[0]
            seen.insert(word)
            if let expected = expectedFields[word] {
                #expect(fields.map { Array($0.utf8) } == expected.map { Array($0.utf8) }, "\(word)")
            }
            let found = reference.matches(in: flds, range: NSRange(flds.startIndex..., in: flds)).map { match in
                let group = match.range(at: 1).location != NSNotFound ? match.range(at: 1) : match.range(at: 2)
                return String(flds[Range(group, in: flds)!])
            }
            for value in found { counts[value, default: 0] += 1 }
            #expect(found.joined(separator: " ") == placeholders[word], "\(word)")
        }
        #expect(seen == Set(placeholders.keys))
        let references = truth["references"] as! [String: Int]
        #expect(counts["audio", default: 0] == references["audio"])
        #expect(counts["image", default: 0] == references["image"])
        #expect(counts["video", default: 0] == references["video"])

        let bytes = try Data(contentsOf: submission)
        let odd = truth["odd_names"] as! [String]
        let needles = odd + [".mp3", ".jpg", ".ogg", ".mp4", ".webm", ".pdf", "paste-", "audio_0", "image_0", "video_0",
                             "notes_0", "Jerry", "müsli", "mu\u{308}sli", "photo"]
        for needle in needles {
            let found = bytes.withUnsafeBytes { haystack in
                Array(needle.utf8).withUnsafeBytes { ByteSearch.contains(haystack, $0) }
            }
            #expect(!found, "a media name survives in the submission: \(needle)")
        }
    }
}
