@testable import AnkiScanner
import Foundation
import Testing

/// Shortcuts the scanner takes for speed must not change what it finds: each is compared here with
/// the plain way on varied input.
@Suite struct ShortcutTests {
    /// A small deterministic generator (the same inputs on every run).
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: (state >> 33) % UInt64(bound))
        }
    }

    /// True when some key of three or more scalars is a prefix of `word` (the plain search).
    private func plainStarts(_ keys: [[UInt32]], _ word: [UInt32]) -> Bool {
        keys.contains { $0.count >= 3 && $0.count <= word.count && Array(word.prefix($0.count)) == $0 }
    }

    private func gate(_ table: RawScalarTable<TermRange>, _ word: [UInt32]) -> Bool {
        word.withUnsafeBufferPointer { table.mayStartThreeOrMore($0.baseAddress!, word.count) }
    }

    /// `mayStartThreeOrMore` (the tokenizer's test before it searches prefix stems) never turns away
    /// a word that starts with a key, on keys and words from a small alphabet (so that many share
    /// their first scalars), in Latin, Greek and CJK scalars.
    @Test func prefixGateAgreesWithAPlainSearch() {
        var random = Generator(state: 42)
        let alphabet: [UInt32] = [0x61, 0x62, 0x63, 0xE9, 0x3B1, 0x4E00]
        func randomWord(_ lengths: ClosedRange<Int>) -> [UInt32] {
            (0..<(lengths.lowerBound + random.next(lengths.count))).map { _ in alphabet[random.next(alphabet.count)] }
        }
        var keys: [[UInt32]: TermRange] = [:]
        for _ in 0..<150 { keys[randomWord(3...8)] = TermRange() }
        let table = ScalarTable(keys, withPrefixes: true)
        let keyList = Array(keys.keys)
        var starting = 0, turnedAway = 0
        for _ in 0..<20_000 {
            let word = randomWord(3...10)
            if plainStarts(keyList, word) {
                starting += 1
                #expect(gate(table.raw, word), "\(word) starts with a key")
            } else if !gate(table.raw, word) {
                turnedAway += 1
            }
        }
        #expect(starting > 1_000 && turnedAway > 1_000)
    }

    /// Every prefix stem of the word lists passes the test on its own and with any ending.
    @Test func everyPrefixStemOfTheWordListsPassesTheGate() {
        let table = sharedScanner.lexicon.prefixStems.raw
        var stems = 0
        for slot in 0...table.mask where table.slotBase[slot].length >= 3 {
            let entry = table.slotBase[slot]
            let stem = Array(UnsafeBufferPointer(start: table.arenaBase + Int(entry.start), count: Int(entry.length)))
            for ending in [[], [0x61], [0x78, 0x79], [0x43F, 0x430], [0x4E00]] as [[UInt32]] {
                #expect(gate(table, stem + ending), "stem \(stem) + \(ending)")
            }
            stems += 1
        }
        #expect(stems > 500)
    }

    /// The origin map made only as far as the last finding reaches gives the same original ranges
    /// as the whole map, on fields of markup, entities, clozes and several scripts.
    @Test func partialOriginMapAgreesWithTheWholeMap() {
        var random = Generator(state: 7)
        let pieces = ["Anna ", "<b>", "</b>", "<br>", "&nbsp;", "&amp;", "&#x1F600;", "{{c1::", "::", "}}", "[sound:a.mp3]",
                      "<div class=\"x\">", "</div>", "<!-- c -->", "<style>p{}</style>", "Müller ", "Москва ", "東京 ", "+49 30 1234 ",
                      "\u{0}", "x"]
        for _ in 0..<300 {
            let field = (0..<(1 + random.next(30))).map { _ in pieces[random.next(pieces.count)] }.joined()
            var copy = field
            copy.withUTF8 { source in
                let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: source.count)
                defer { buffer.deallocate() }
                let visible = VisibleText(source, mode: .html, buffer: buffer)
                let count = visible.text.count
                let whole = visible.originMap(source, upTo: .max)
                for _ in 0..<10 where count > 0 {
                    let end = 1 + random.next(count)
                    let partial = visible.originMap(source, upTo: end)
                    let start = random.next(end)
                    #expect(partial.originalRange(start..<end) == whole.originalRange(start..<end), "\(field) \(start)..<\(end)")
                }
            }
        }
    }

    /// Pieces of card HTML for the render tests: tags (with attributes, quotes, a "<" inside
    /// quotes, comments, unclosed), entities, cloze markup, NUL bytes, several scripts, and runs long
    /// enough to cross the sixteen-byte steps of the vector shortcut.
    private static let markupPieces = [
        "Anna ", "<b>", "</b>", "<br>", "<BR/>", "<div class=\"x\">", "</div>", "<img src=\"a.png\">", "<!-- c -->", "<!x>",
        "<!--", "<style>p{}</style>", "<script>1</script>", "<a href='x>y'>", "<p title=\"<\">", "< b>", "<1>", "</>",
        "<h1>", "<blockquote>", "<verylongtagname12345>", "&nbsp;", "&amp;", "&#x1F600;", "&#12;", "&bogus;", "&",
        "{{c1::", "::", "}}", "}", ":", "{", "[", "]", "[sound:a.mp3]", "\u{0}", "Müller ", "東京 ", "x",
        "0123456789abcdef", "ordinary text that runs on for a while ", ">", "\"", "'",
    ]

    /// The vector shortcut of `render` (ordinary bytes copied sixteen at a time) and `hasMarkup`
    /// give what the byte-by-byte rendering and a plain search give.
    @Test func vectorRenderAgreesWithByteByByteRendering() {
        var random = Generator(state: 11)
        let pieces = Self.markupPieces
        for round in 0..<3_000 {
            let field = (0..<(1 + random.next(round < 1_000 ? 6 : 40))).map { _ in pieces[random.next(pieces.count)] }.joined()
            var copy = field
            copy.withUTF8 { source in
                let plainMarkup = source.contains { [UInt8(ascii: "<"), UInt8(ascii: "&"), UInt8(ascii: "{"), UInt8(ascii: "[")].contains($0) }
                #expect(VisibleText.hasMarkup(source) == plainMarkup, "\(field.debugDescription)")
                let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: source.count)
                defer { buffer.deallocate() }
                let visible = VisibleText(source, mode: .html, buffer: buffer)
                guard plainMarkup else { return }
                let plain = VisibleText.renderedByteByByte(source)
                #expect(Array(visible.text) == plain.text, "\(field.debugDescription)")
                #expect(visible.mediaReferences == plain.media, "\(field.debugDescription)")
            }
        }
    }

    /// The tag at `i` read plainly: where its closing `>` is (quotes honoured; a `<` first, even in
    /// quotes, means no tag; a comment ends at `-->` or the end of the text) and its name (lower-cased
    /// letters and digits after an optional `/`, at most 12; "!--" for anything starting `<!`).
    private func plainTag(_ p: [UInt8], _ i: Int) -> (end: Int, name: String)? {
        guard i + 1 < p.count else { return nil }
        let next = p[i + 1]
        let isLetter = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(next | 0x20)
        guard isLetter || next == UInt8(ascii: "/") || next == UInt8(ascii: "!") else { return nil }
        if Array(p[(i + 1)...].prefix(3)) == Array("!--".utf8) {
            let rest = p.count > i + 4 ? Array(p[(i + 4)...]) : []
            for k in rest.indices where Array(rest[k...].prefix(3)) == Array("-->".utf8) { return (i + 4 + k + 3, "!--") }
            return (p.count, "!--")
        }
        var end: Int?
        var quote: UInt8?
        for j in (i + 1)..<p.count {
            let c = p[j]
            if c == UInt8(ascii: "<") { return nil }
            if let q = quote { if c == q { quote = nil }; continue }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") { quote = c; continue }
            if c == UInt8(ascii: ">") { end = j + 1; break }
        }
        guard let end else { return nil }
        if next == UInt8(ascii: "!") { return (end, "!--") }
        let start = next == UInt8(ascii: "/") ? i + 2 : i + 1
        let name = p[start...].prefix { ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
            .prefix(12).map { Character(Unicode.Scalar($0 | (($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) ? 0x20 : 0))) }
        return (end, String(name))
    }

    /// `VisibleText.tag` (name first, a second scan only when something other than `>` follows the
    /// name) agrees with the plain reading at every `<` of random markup.
    @Test func tagReaderAgreesWithAPlainReading() {
        var random = Generator(state: 13)
        let pieces = Self.markupPieces + ["<", "<B", "<a b=\"", "'>", "\">", "<Ab3", "<!-", "-->", "--", "<X", "</Q "]
        var tags = 0
        for _ in 0..<5_000 {
            let field = (0..<(1 + random.next(12))).map { _ in pieces[random.next(pieces.count)] }.joined()
            let bytes = Array(field.utf8)
            bytes.withUnsafeBufferPointer { p in
                for i in bytes.indices where bytes[i] == UInt8(ascii: "<") {
                    let fast = VisibleText.tag(p, i, VisibleText.tagNameBytes)
                    let plain = plainTag(bytes, i)
                    #expect(fast?.end == plain?.end, "\(field.debugDescription) at \(i)")
                    if let fast, let plain {
                        #expect(fast.name == VisibleText.PackedName(plain.name), "\(field.debugDescription) at \(i)")
                        tags += 1
                    }
                }
            }
        }
        #expect(tags > 5_000)
    }

    /// A word read plainly: a run of letters, digits, Hangul and marks that starts with one of the
    /// first three (CJK runs and everything else stand between words), and its scalars.
    private func plainWords(_ p: UnsafeBufferPointer<UInt8>) -> [(start: Int, end: Int, scalars: [UInt32])] {
        var words: [(start: Int, end: Int, scalars: [UInt32])] = []
        var i = 0
        while i < p.count {
            let (s, length) = TextUnits.decode(p, i)
            guard [.letter, .digit, .hangul].contains(TextUnits.charClass(s)) else { i += length; continue }
            let start = i
            var scalars: [UInt32] = []
            while i < p.count {
                let (s, length) = TextUnits.decode(p, i)
                guard [.letter, .digit, .hangul, .mark].contains(TextUnits.charClass(s)) else { break }
                scalars.append(s)
                i += length
            }
            words.append((start, i, scalars))
        }
        return words
    }

    /// The tokenizer's word readers (an ASCII loop, then a loop over scalars reading one table entry
    /// for scalars of up to two bytes) and the word's shape bits give the tokens a plain reading
    /// gives: the same words, scalar counts, case, digits, letters, Hangul, and lexicon flags, on
    /// random text of many scripts, marks, invalid bytes and over-long words.
    @Test func tokensAgreeWithAPlainReading() throws {
        var random = Generator(state: 17)
        let pieces: [[UInt8]] = [
            "a", "Z", "é", "É", "ß", "\u{1E9E}", "ǅ", "İ", "ı", "Σ", "σ", "ς", "Ж", "ж", "Ё", "5", "٣", "１", "Ａ", "ａ", "한", "글",
            "\u{3131}", "\u{0301}", "\u{200D}", "\u{FE0F}", "東", "京", "カ", "ー", "・", " ", "-", "'", ".", "@", "\u{10400}",
            "\u{10428}", "😀", "\u{00A0}", "0", "Müller", "ΑΘΗΝΑ", "McDONALD", "x1", "\u{0}", "Anna", "Maria", "Herr", "ich",
            "Krebs", "diabetes", String(repeating: "a", count: 60), String(repeating: "é", count: 50), "김", "민준",
        ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xE3, 0x81], [0xED, 0xA0, 0x80], [0xC0, 0xAF]]
        let lexicon = sharedScanner.lexicon
        let maxScalars = sharedScanner.configuration.limits.maxTokenScalars
        var words = 0
        for round in 0..<4_000 {
            let bytes = (0..<(1 + random.next(14))).flatMap { _ in pieces[random.next(pieces.count)] }
            let identifier = round % 4 == 0
            try bytes.withUnsafeBufferPointer { p in
                let tokenBuffer = UnsafeMutableBufferPointer<Token>.allocate(capacity: TokenizedText.capacity(p.count))
                let runs = CJKRunBuffer(scalars: .allocate(capacity: CJKRunBuffer.capacity(p.count)),
                                        offsets: .allocate(capacity: CJKRunBuffer.capacity(p.count)))
                defer { tokenBuffer.deallocate(); runs.scalars.deallocate(); runs.offsets.deallocate() }
                var hits = HitStore()
                defer { hits.deallocate() }
                let tokens = sharedScanner.tokenize(p, identifier: identifier, into: tokenBuffer, runs: runs, hits: &hits).tokens
                let plain = plainWords(p)
                try #require(tokens.count == plain.count, "\(bytes)")
                for (token, word) in zip(tokens, plain) {
                    let counted = word.scalars.filter { TextUnits.charClass($0) != .mark }
                    let classes = counted.map(TextUnits.charClass)
                    let firstUpper = TextUnits.lower(counted[0]) != counted[0]
                    let allUpper = !zip(counted, classes).contains { $1 == .letter && TextUnits.lower($0) == $0 }
                    let letterCase: Token.Case = firstUpper ? (allUpper && counted.count > 1 ? .upper : .capitalized) : .lower
                    var flags: WordFlags = []
                    if counted.count <= maxScalars {
                        let table = identifier || firstUpper ? lexicon.words : lexicon.common
                        let index = table.find(counted.map(TextUnits.lower))
                        if index >= 0 { flags = table.payload(index).flags }
                    }
                    let label = "\(bytes) \(word.start)..<\(word.end)"
                    #expect(token.start == word.start && token.end == word.end, "\(label)")
                    #expect(token.scalarCount == counted.count, "\(label)")
                    #expect(token.letterCase == letterCase, "\(label)")
                    #expect(token.hasDigit == classes.contains(.digit), "\(label)")
                    #expect(token.hasLetter == (classes.contains(.letter) || classes.contains(.hangul)), "\(label)")
                    #expect(token.isHangul == (classes.contains(.hangul) && !classes.contains(.letter) && !classes.contains(.digit)), "\(label)")
                    #expect(token.flags == flags, "\(label)")
                    words += 1
                }
            }
        }
        #expect(words > 5_000)
    }

    /// The word-list reader reads scalars; Foundation's trimming and normalization of every line
    /// (what it replaced, kept here) must give the same entries.
    private func plainLines(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty || trimmed.hasPrefix("#") ? nil : trimmed.precomposedStringWithCanonicalMapping
        }
    }

    @Test("word lists: every list in Wordlists/ and odd lines read as Foundation reads them")
    func wordListLines() throws {
        let folder = Paths.root.appendingPathComponent("Wordlists")
        let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)!
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "txt" }
        #expect(files.count > 50)
        var entries = 0
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            let lines = Lexicon.Builder.lines(of: text)
            #expect(lines == plainLines(text), "\(file.lastPathComponent)")
            entries += lines.count
        }
        #expect(entries > 10_000)
        let odd = [
            "Anna\r\nBen\r\n\r\n", "\t  Carla \t\n# comment\n  # indented comment\n",
            "\u{00A0}Dora\u{3000}\n\u{2028}Emil\u{2029}Fritz\u{85}Gus\u{0B}Hal\u{0C}Ida",
            "Jose\u{0301}\nRene\u{0301}e\n\u{1100}\u{1161}\u{11A8}\n\u{212B}ngstr\u{00F6}m\n\u{F900}",
            "", "\n\n", "   ", "#", "x#", "\u{00E9}cole\n\u{0041}\u{030A}",
        ]
        for text in odd { #expect(Lexicon.Builder.lines(of: text) == plainLines(text), "\(text.debugDescription)") }
    }
}
