import Foundation
import Testing

/// The built binary on decks with thousands of media files (Tests/Fixtures/genanki): prepare used to
/// exit 1 with "regular expression is too large" from about a thousand media names on (issue 15).
@Suite("anki-submit prepare on decks with many media files")
struct ManyMediaCommandTests {
    static let folder = CLI.root.appendingPathComponent("Tests/Fixtures/genanki")

    @Test("prepare --review none exits 0, audit --source is clean, no media name in the file",
          arguments: ["genanki-media", "anki-paste"])
    func prepareAndAudit(_ name: String) throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let deck = Self.folder.appendingPathComponent("\(name).apkg").path
        let out = cli.cwd.appendingPathComponent("out")
        let result = try cli.run(["prepare", deck, "--review", "none", "--out", out.path, "--timezone", "UTC",
                                  "--consent-public", "yes", "--language", "de", "--confirm-special-categories"])
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.leftInTemp.isEmpty)
        let submission = out.appendingPathComponent("anki-submission.sqlite")
        let audit = try cli.run(["audit", submission.path, "--source", deck, "--timezone", "UTC"])
        #expect(audit.status == 0, "\(audit.stdout)")
        #expect(audit.stdout.hasPrefix("Clean:"))
        let bytes = try Data(contentsOf: submission)
        for needle in [".mp3", ".jpg", ".ogg", ".mp4", ".webm", "paste-", "audio_0", "image_0"] {
            #expect(bytes.range(of: Data(needle.utf8)) == nil, "a media name survives: \(needle)")
        }
    }
}
