import AnkiPCRE2
import Foundation
import Testing

@Suite("PCRE2 wrapper")
struct PCRE2Tests {
    @Test("ranges are UTF-8 byte offsets")
    func byteOffsets() throws {
        let regex = try PCRE2Regex(#"\p{L}+@\p{L}+"#)
        let text = "Grüße: jürgen@köln und mehr"
        let matches = try regex.matches(in: text)
        #expect(matches.count == 1)
        let range = try #require(matches.first?.range)
        #expect(String(decoding: Array(text.utf8)[range], as: UTF8.self) == "jürgen@köln")
        #expect(range.lowerBound == "Grüße: ".utf8.count)
    }

    @Test("capture groups, unset groups")
    func groups() throws {
        let regex = try PCRE2Regex(#"(\d+)(x)?"#)
        let match = try #require(try regex.matches(in: "ab 123 c").first)
        #expect(match.groups.count == 2)
        #expect(match.groups[0] == 3..<6)
        #expect(match.groups[1] == nil)
    }

    @Test("an empty match advances by one whole character")
    func emptyMatches() throws {
        let regex = try PCRE2Regex("x*")
        // Four characters, two of them multi-byte: five empty positions, none inside a character.
        let matches = try regex.matches(in: "äöab")
        #expect(matches.map(\.range.lowerBound) == [0, 2, 4, 5, 6])
    }

    @Test("UCP: \\w and \\b understand non-ASCII letters")
    func unicodeProperties() throws {
        let regex = try PCRE2Regex(#"\b\w+\b"#)
        #expect(try regex.matches(in: "Straße café").count == 2)
        let caseless = try PCRE2Regex("ÄRZTIN", options: .caseless)
        #expect(try caseless.matches(in: "die Ärztin").count == 1)
    }

    @Test("catastrophic backtracking hits the limit instead of hanging")
    func backtrackingLimit() throws {
        let regex = try PCRE2Regex("(a+)+$", matchLimit: 100_000)
        let bait = String(repeating: "a", count: 5_000) + "!"
        #expect(throws: PCRE2Error.self) { _ = try regex.matches(in: bait) }
        do { _ = try regex.matches(in: bait) } catch let error as PCRE2Error {
            #expect(error.kind == .limitExceeded)
        }
    }

    @Test("invalid UTF-8 is an error, not a crash")
    func invalidUTF8() throws {
        let regex = try PCRE2Regex("a")
        let bytes: [UInt8] = [0x61, 0xFF, 0xFE, 0x61]
        #expect(throws: PCRE2Error.self) {
            _ = try bytes.withUnsafeBufferPointer { try regex.matches(in: $0) }
        }
    }

    @Test("a bad pattern reports where it failed")
    func compileError() throws {
        do {
            _ = try PCRE2Regex("abc(")
            Issue.record("expected a compile error")
        } catch let error as PCRE2Error {
            guard case .compile(let offset) = error.kind else { Issue.record("wrong kind"); return }
            #expect(offset == 4)
        }
    }

    @Test("JIT is used where available, and NUL bytes are ordinary characters")
    func jitAndNul() throws {
        let regex = try PCRE2Regex("b")
        #expect(regex.isJITCompiled)
        let bytes: [UInt8] = [0x61, 0x00, 0x62]
        let matches = try bytes.withUnsafeBufferPointer { try regex.matches(in: $0) }
        #expect(matches.map(\.range) == [2..<3])
    }
}
