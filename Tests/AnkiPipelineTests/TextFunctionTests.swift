import Foundation
import GRDB
import Testing

@testable import AnkiPipeline

/// The byte-level fast paths of the write stage must give what the string and SQL paths give.
@Suite("write stage: byte-level text functions")
struct TextFunctionTests {
    static let reducer = CardDataReducer(keep: ["s", "d", "dr", "decay", "lrt"], timeKeys: ["lrt"])

    static func reduce(_ text: String, shift: Int64 = 0) -> String? {
        var text = text
        return text.withUTF8 { reducer.reduce($0, shiftSeconds: shift) }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The write stage's SQL path on the same value, evaluated by SQLite.
    static func sqlReduce(_ text: String, shift: Int64) throws -> String {
        let queue = try DatabaseQueue()
        return try queue.read { db in
            try String.fetchOne(db, sql: """
                SELECT CASE WHEN json_valid(:d) AND json_type(:d) = 'object' THEN
                  (SELECT json_group_object(j.key, CASE WHEN j.key IN ('lrt') THEN j.value + :s ELSE j.value END)
                   FROM json_each(:d) AS j WHERE j.key IN ('s', 'd', 'dr', 'decay', 'lrt') AND j.type IN ('integer', 'real'))
                ELSE '' END
                """, arguments: ["d": text, "s": shift]) ?? ""
        }
    }

    static func numbers(_ json: String) throws -> [String: Double] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    @Test("card data in Anki's shape: kept keys, lrt shifted, numbers as written, the same values as the SQL path")
    func cardData() throws {
        let shift: Int64 = -123_456_789
        let samples = [
            #"{"s":580.7313,"d":6.256,"dr":0.9,"decay":0.154,"lrt":1785883616}"#,
            #"{ "pos": 3, "s": 1e2, "d": -0.5, "lrt": 0 , "cd": 7 }"#,
            #"{"dr":1,"s":0.25}"#,
            "{}",
            " {  } ",
        ]
        for sample in samples {
            let fast = try #require(Self.reduce(sample, shift: shift), "\(sample) is in the simple shape")
            let slow = try Self.sqlReduce(sample, shift: shift)
            // Same keys in the same order, and the same numbers (SQLite may print them differently).
            #expect(try Self.numbers(fast) == Self.numbers(slow), "\(sample)")
            #expect(fast.split(separator: ",").map { $0.prefix(while: { $0 != ":" }) }
                    == slow.split(separator: ",").map { $0.prefix(while: { $0 != ":" }) }, "\(sample)")
        }
        // Numbers are copied as written; SQLite 3.40 would print this one with 15 digits (0.3).
        #expect(Self.reduce(#"{"s":0.30000000000000004}"#) == #"{"s":0.30000000000000004}"#)
        #expect(Self.reduce(#"{"s":580.7313,"d":6.256,"dr":0.9,"decay":0.154,"lrt":1785883616}"#, shift: -1_000)
                == #"{"s":580.7313,"d":6.256,"dr":0.9,"decay":0.154,"lrt":1785882616}"#)
        #expect(Self.reduce(#"{"pos":3,"cd":"x"}"#) == nil)   // a string value: the SQL decides
        #expect(Self.reduce("") == "")
        // Times moved across zero and to every length; a key written twice, and more members than
        // the reducer keeps track of, are left to the SQL.
        for (lrt, shift) in [(Int64(5), Int64(-7)), (0, 0), (9, 1), (1_785_883_616, -1_785_883_616),
                             (-3, -999_999_999_997), (999_999_999_999_999_999, 0)] {
            #expect(Self.reduce(#"{"lrt":\#(lrt)}"#, shift: shift) == #"{"lrt":\#(lrt + shift)}"#)
        }
        #expect(Self.reduce(#"{"s":1,"s":2}"#) == nil)
        let many = (0..<17).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        #expect(Self.reduce("{\(many)}") == nil)
        #expect(Self.reduce("{\(many.split(separator: ",").prefix(16).joined(separator: ","))}") == "{}")
    }

    @Test("every other shape is left to the SQL path")
    func cardDataOtherShapes() {
        for sample in [#"{"s":"1"}"#, #"{"s":{"a":1}}"#, #"{"s":[1]}"#, #"{"s":true}"#, #"{"s":null}"#,
                       #"{"s\u0041":1}"#, #"{"s":1,"s":2}"#, #"{"lrt":1.5}"#, #"{"lrt":1e3}"#,
                       #"{"lrt":99999999999999999999}"#, #"{"s":01}"#, #"{"s":1.}"#, #"{"s":.5}"#,
                       #"{"s":1,}"#, #"{"s":1} x"#, "[1]", "not json", #"{"s":1"#] {
            #expect(Self.reduce(sample) == nil, "\(sample)")
        }
    }

    @Test("the sort field from bytes equals the string path")
    func sortField() {
        let fields = ["plain", " padded ", "<b>bold</b> text", "a &amp; b", "\u{00A0}nbsp", "日本語",
                      "tab\t", "", "<img src=\"x\">", "x<y", "Straße", "ends with é", "\u{3000}wide space"]
        for first in fields {
            for index in 0..<3 {
                var joined = ([first] + fields.shuffled().prefix(2)).joined(separator: "\u{1f}")
                let expected = SortField.text(of: joined, index: index)
                let result = joined.withUTF8 { bytes -> String in
                    switch SortField.text(of: bytes, index: index) {
                    case .slice(let range): return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
                    case .bytes(let out): return String(decoding: out, as: UTF8.self)
                    case .unchanged: return String(decoding: bytes, as: UTF8.self)
                    case .null: return "<null>"
                    }
                }
                #expect(result == expected, "\(joined.debugDescription) field \(index)")
            }
        }
        var text = "a\u{1f}b"
        #expect(text.withUTF8 { bytes in if case .bytes(let out) = SortField.text(of: bytes, index: 5) { out.isEmpty } else { false } })
    }

    @Test("tags from bytes with nothing removed equal the string path")
    func tags() {
        for sample in [" verb noun ", "verb noun", "verb  noun", "", " ", "a", "日本 語", " 日本 ", "x \u{301}y",
                       "leading", "trailing ", "  double  spaces  "] {
            var text = sample
            let expected = ApplyDecisions.filterTags(sample, removing: [])
            let fast = text.withUTF8 { ApplyDecisions.singleSpaced($0) }
            switch fast {
            case .unchanged?: #expect(sample == expected, "\(sample.debugDescription)")
            case .bytes(let out)?: #expect(String(decoding: out, as: UTF8.self) == expected, "\(sample.debugDescription)")
            case nil: #expect(sample.utf8.contains { $0 >= 0x80 }, "only text around non-ASCII goes the string way")
            default: Issue.record("unexpected result for \(sample.debugDescription)")
            }
        }
    }

    @Test("card map: dense new ids, NULL for cards not kept, reviews of deleted cards counted")
    func cardMap() {
        let map = CardMap(kept: [10, 30, 50], all: [10, 20, 30, 40, 50])
        #expect(map.newID(10) == 1)
        #expect(map.newID(30) == 2)
        #expect(map.newID(50) == 3)
        #expect(map.newID(20) == nil)   // a card of an excluded note
        #expect(map.reviewsOfDeletedCards == 0)
        #expect(map.newID(25) == nil)   // not in the collection at all
        #expect(map.newID(99) == nil)
        #expect(map.reviewsOfDeletedCards == 2)
    }

    /// With extremes, the ids are too far apart for one word per slot (and `Int64.min` is the wide
    /// table's empty marker); without, they are packed.
    @Test("card map: the hash table gives the position in the sorted ids, for every id and near misses",
          arguments: [true, false])
    func cardMapTable(extremes: Bool) {
        var generator = SystemRandomNumberGenerator()
        // Millisecond timestamps close together (as Anki's are), and maybe extremes.
        var all = Set<Int64>(extremes ? [Int64.min, Int64.max, -1, 0, 1] : [])
        while all.count < 20_000 { all.insert(1_600_000_000_000 + Int64.random(in: 0..<50_000_000, using: &generator)) }
        let sorted = all.sorted()
        let kept = sorted.enumerated().filter { $0.offset % 3 != 1 }.map(\.element)
        let map = CardMap(kept: kept, all: sorted)
        for (index, id) in kept.enumerated() { #expect(map.newID(id) == Int64(index + 1)) }
        let keptSet = Set(kept)
        for id in sorted where !keptSet.contains(id) { #expect(map.newID(id) == nil) }
        #expect(map.reviewsOfDeletedCards == 0)
        var missing = 0
        for id in sorted.prefix(500) where !all.contains(id &+ 1) {
            #expect(map.newID(id &+ 1) == nil)
            missing += 1
        }
        #expect(map.reviewsOfDeletedCards == missing)
        // Below the smallest id, above the largest, and beyond what a packed slot can hold.
        guard !extremes else { return }
        for id in [sorted.first! - 1, sorted.last! + 1, sorted.first! + (1 << 40), sorted.first! + (1 << 40) - 1] {
            #expect(map.newID(id) == nil)
        }
        #expect(map.reviewsOfDeletedCards == missing + 4)
    }

    @Test("review log spans: in order, adjacent, from the first id to the last, one span when the range does not fit",
          arguments: [
            [Int64(5)], [1, 2, 3], [1_600_000_000_000, 1_600_000_000_001, 1_650_000_000_000, 1_700_000_000_123],
            [Int64.min, -1, 0, 1, Int64.max], [-50, -10, 7, 1_000_003],
          ])
    func reviewSpans(_ ids: [Int64]) throws {
        let queue = try DatabaseQueue()
        let spans = try queue.inDatabase { db in
            try db.execute(sql: "ATTACH DATABASE ':memory:' AS src")
            try db.execute(sql: "CREATE TABLE src.revlog (id INTEGER PRIMARY KEY)")
            for id in ids { try db.execute(sql: "INSERT INTO src.revlog (id) VALUES (?)", arguments: [id]) }
            return try WriteSubmission.reviewSpans(db, count: 8)
        }
        try #require(!spans.isEmpty)
        #expect(spans.first!.0 == ids.min()!)
        #expect(spans.last!.1 == ids.max()!)
        #expect(spans.count <= 8)
        for (a, b) in zip(spans, spans.dropFirst()) { #expect(a.1 &+ 1 == b.0) }
        for span in spans { #expect(span.0 <= span.1) }
        // Every id falls in exactly one span.
        for id in ids { #expect(spans.filter { $0.0 <= id && id <= $0.1 }.count == 1) }
    }

    @Test("review log spans: none for an empty log")
    func reviewSpansEmpty() throws {
        let queue = try DatabaseQueue()
        let spans = try queue.inDatabase { db in
            try db.execute(sql: "ATTACH DATABASE ':memory:' AS src")
            try db.execute(sql: "CREATE TABLE src.revlog (id INTEGER PRIMARY KEY)")
            return try WriteSubmission.reviewSpans(db, count: 8)
        }
        #expect(spans.isEmpty)
    }
}
