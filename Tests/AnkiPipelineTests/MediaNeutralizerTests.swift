import AnkiPipeline
import AnkiSubmission
import Testing

@Suite("Media references become placeholders")
struct MediaNeutralizerTests {
    let neutralizer = try! MediaNeutralizer(policy: .standard, mediaNames: ["anna_passport_scan.png", "hund.mp3"])

    @Test(arguments: [
        ("[sound:hund.mp3]", "[sound:audio]"),
        ("[sound:clip.webm]", "[sound:video]"),
        (#"<img src="anna_passport_scan.png">"#, #"<img src="image">"#),
        (#"<img class="x" src='me.JPG' alt="">"#, #"<img class="x" src="image" alt="">"#),
        ("<img src=bare.gif>", #"<img src="image">"#),
        (#"<img src="data:image/png;base64,AAAA">"#, #"<img src="image">"#),
        (#"<img src="https://example.org/me.jpg?x=1">"#, #"<img src="image">"#),
        (#"<video src="holiday.mp4" poster="p.png"></video>"#, #"<video src="video" poster="image"></video>"#),
        (#"<audio src="noext">"#, #"<audio src="audio">"#),
        ("see anna_passport_scan.png for details", "see image for details"),
        ("no media here, a = b", "no media here, a = b"),
        ("Grüße [sound:hund.mp3]\u{1f}<b>x</b>", "Grüße [sound:audio]\u{1f}<b>x</b>"),
    ])
    func neutralize(_ input: String, _ expected: String) throws {
        #expect(try neutralizer.neutralize(input) == expected)
    }

    @Test("sort field: text of the field, tags stripped, entities decoded")
    func sortField() {
        #expect(SortField.text(of: "<b>Haus</b>&nbsp;&amp; Hof\u{1f}back", index: 0) == "Haus & Hof")
        #expect(SortField.text(of: "a\u{1f}b", index: 1) == "b")
        #expect(SortField.text(of: "a", index: 3) == "")
        #expect(SortField.decodeEntities("&#x41;&#66;&lt;&unknown;") == "AB<&unknown;")
    }
}
