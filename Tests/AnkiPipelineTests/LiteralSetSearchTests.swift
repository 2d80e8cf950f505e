import AnkiSubmission
import AnkiTestSupport
import Testing

@Suite("Many literal strings in one pass (Aho-Corasick, leftmost-longest)")
struct LiteralSetSearchTests {
    /// The definition: at the leftmost position where some needle starts, the longest needle starting
    /// there; then on from its end (what a regex alternation, longest first, finds).
    static func reference(_ needles: [[UInt8]], _ text: [UInt8]) -> [Range<Int>] {
        var found: [Range<Int>] = []
        var position = 0
        while position < text.count {
            let here = needles.filter { !$0.isEmpty && text[position...].starts(with: $0) }.map(\.count).max()
            if let length = here {
                found.append(position..<position + length)
                position += length
            } else {
                position += 1
            }
        }
        return found
    }

    static func search(_ needles: [[UInt8]], _ text: [UInt8]) -> (matches: [Range<Int>], occurs: Bool) {
        let search = LiteralSetSearch(needles)
        return text.withUnsafeBufferPointer { (search.matches(in: $0), search.occurs(in: $0)) }
    }

    @Test("hand-picked overlaps", arguments: [
        (["abcd", "bc"], "abcd abce", [0..<4, 6..<8]),
        (["abcx", "bc", "cdef"], "abcdef", [1..<3]),
        (["abcdef", "cdeg"], "abcdeg", [2..<6]),
        (["he", "she", "his", "hers"], "ushers", [1..<4]),
        (["a.b", "a*b"], "a.b a*b axb", [0..<3, 4..<7]),
        (["aaa", "aaaa"], "aaaaaaaaa", [0..<4, 4..<8]),
        (["x"], "", []),
    ])
    func handPicked(_ needles: [String], _ text: String, _ expected: [Range<Int>]) {
        let result = Self.search(needles.map { Array($0.utf8) }, Array(text.utf8))
        #expect(result.matches == expected)
        #expect(result.occurs == !expected.isEmpty)
    }

    @Test("random needles and texts over a small alphabet agree with the definition")
    func random() {
        var generator = SeededGenerator(seed: 15)
        for _ in 0..<3_000 {
            let needles = (0..<Int.random(in: 1...8, using: &generator)).map { _ in
                (0..<Int.random(in: 1...5, using: &generator)).map { _ in UInt8.random(in: 97...99, using: &generator) }
            }
            let text = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 97...100, using: &generator) }
            let result = Self.search(needles, text)
            #expect(result.matches == Self.reference(needles, text), "needles \(needles), text \(text)")
            #expect(result.occurs == !result.matches.isEmpty)
        }
    }

    @Test("no needles, empty needles and duplicates")
    func degenerate() {
        #expect(LiteralSetSearch([[UInt8]]()).isEmpty)
        #expect(LiteralSetSearch([[], Array("ab".utf8), Array("ab".utf8)]).count == 1)
        #expect(Self.search([[]], Array("abc".utf8)).matches.isEmpty)
    }
}

