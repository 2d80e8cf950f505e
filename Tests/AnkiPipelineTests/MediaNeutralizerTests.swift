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

@Suite("Media names: many, odd, and found anywhere")
struct ManyMediaNamesTests {
    /// 40 hex digits, like the SHA-1 in Anki's own `paste-<sha1>.jpg` names.
    static func hex40(_ i: Int) -> String {
        var state = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        var out = ""
        while out.count < 40 {
            state ^= state >> 33; state &*= 0xFF51_AFD7_ED55_8CCD; state ^= state >> 29
            out += String(state & 0xffff_ffff, radix: 16).leftPadded(8)
        }
        return String(out.prefix(40))
    }

    static let pasteNames = (0..<3_000).map { "paste-\(hex40($0)).jpg" }
    static let genankiNames = (0..<12_000).map { i in
        i % 2 == 0 ? "audio_\(String(i).leftPadded(6, "0"))_word.mp3" : "image_\(String(i).leftPadded(6, "0"))_word.jpg"
    }

    @Test("thousands of names: no error, references and plain mentions replaced")
    func thousands() throws {
        let neutralizer = try MediaNeutralizer(policy: .standard, mediaNames: Self.pasteNames + Self.genankiNames)
        let text = "<img src=\"\(Self.pasteNames[2_999])\"> mentions \(Self.pasteNames[17]) and "
            + "[sound:\(Self.genankiNames[4_000])] \(Self.genankiNames[11_999])\u{1f}x"
        #expect(try neutralizer.neutralize(text) == "<img src=\"image\"> mentions image and [sound:audio] image\u{1f}x")
        let bytes = Array("plain \(Self.genankiNames[6]) text".utf8)
        let out = try bytes.withUnsafeBufferPointer { try neutralizer.neutralize(bytes: $0) }
        #expect(out.map { String(decoding: $0, as: UTF8.self) } == "plain audio text")
    }
}

extension String {
    func leftPadded(_ width: Int, _ pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
