/// The scan report's JSON, written straight into bytes in a fixed order (keys in byte order, as the
/// sorting writer gave them before): no dictionaries, no key sorting, no Foundation. `scan --json`
/// and `scan --texts` spent most of their time in Foundation's writer, which sorts every object's
/// keys with a locale-aware comparison.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    @inline(__always)
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func byte(_ b: UInt8) { bytes.append(b) }

    /// `"key":`
    @inline(__always)
    public mutating func key(_ name: StaticString) {
        bytes.append(UInt8(ascii: "\""))
        raw(name)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func int<T: BinaryInteger>(_ value: T) {
        if value == 0 { bytes.append(UInt8(ascii: "0")); return }
        var v = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var digits: [UInt8] = []
        digits.reserveCapacity(20)
        while v > 0 {
            digits.append(UInt8(ascii: "0") + UInt8(v % 10))
            v /= 10
        }
        bytes.append(contentsOf: digits.reversed())
    }

    /// A finite number: integral values without a fraction (as Foundation writes them), others in
    /// the shortest form that reads back to the same value.
    public mutating func double(_ value: Double) {
        guard value.isFinite else { bytes.append(contentsOf: Array("null".utf8)); return }
        if value == value.rounded(), abs(value) < 1e15 {
            int(Int64(value))
        } else {
            bytes.append(contentsOf: Array(value.description.utf8))
        }
    }

    public mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }

    /// A JSON string: `"` and `\` escaped, control characters as `\n`, `\t`, ... or `\u00XX`; every
    /// other character (`/` and non-ASCII included) as it is.
    public mutating func string(_ value: String) {
        var copy = value
        copy.withUTF8 { string(utf8: $0) }
    }

    public mutating func string(utf8 p: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        for (i, b) in p.enumerated() where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
            if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<i])) }
            runStart = i + 1
            bytes.append(UInt8(ascii: "\\"))
            switch b {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case 0x0A: bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "t"))
            case 0x08: bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(UInt8(ascii: "f"))
            default:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 15)]])
            }
        }
        if runStart < p.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart...])) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `[a,b,...]` with `element` writing each.
    public mutating func array<S: Sequence>(_ items: S, _ element: (inout JSONWriter, S.Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for item in items {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            element(&self, item)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

extension Finding {
    /// The object `scan --json` prints for a finding (keys exactly as documented, in byte order).
    public func writeJSON(to out: inout JSONWriter) {
        out.raw("{")
        out.key("category"); out.string(category.rawValue); out.raw(",")
        out.key("detector"); out.string(detector); out.raw(",")
        out.key("end"); out.int(end); out.raw(",")
        out.key("field"); out.int(field); out.raw(",")
        out.key("kind"); out.string(kind); out.raw(",")
        out.key("score"); out.double((score * 100).rounded() / 100); out.raw(",")
        out.key("start"); out.int(start); out.raw(",")
        out.key("text"); out.string(text)
        out.raw("}")
    }

    /// `[finding, ...]`
    public static func writeJSON(_ findings: [Finding], to out: inout JSONWriter) {
        out.array(findings) { w, f in f.writeJSON(to: &w) }
    }
}

extension ScanSummary {
    func writeJSON(to out: inout JSONWriter) {
        out.raw("{")
        out.key("by_category"); out.raw("{"); out.key("pii"); out.int(piiFindings); out.raw(",")
        out.key("special"); out.int(specialFindings); out.raw("},")
        out.key("by_kind"); out.raw("{")
        for (n, kind) in byKind.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if n > 0 { out.raw(",") }
            out.string(kind); out.raw(":"); out.int(byKind[kind]!)
        }
        out.raw("},")
        out.key("findings"); out.int(findings); out.raw(",")
        out.key("media")
        out.array(unreferencedMedia) { w, media in
            w.raw("{"); w.key("findings"); Finding.writeJSON(media.findings, to: &w); w.raw(",")
            w.key("name"); w.string(media.name); w.raw("}")
        }
        out.raw(",")
        out.key("min_score"); out.double(minimumScore); out.raw(",")
        out.key("notes_scanned"); out.int(notesScanned); out.raw(",")
        out.key("notes_with_findings"); out.int(notesWithFindings); out.raw(",")
        out.key("special_category_notes"); out.int(notesWithSpecialFindings); out.raw(",")
        out.key("special_category_notice"); out.bool(needsSpecialCategoryNotice); out.raw(",")
        out.key("special_category_threshold"); out.int(specialCategoryThreshold)
        out.raw("}")
    }
}

extension ScanReport {
    /// `{"notes":[{"findings":[...],"note_id":N},...],"summary":{...}}` (keys in byte order).
    public func writeJSON(to out: inout JSONWriter) {
        out.raw("{")
        out.key("notes")
        out.array(notes) { w, note in
            w.raw("{"); w.key("findings"); Finding.writeJSON(note.findings, to: &w); w.raw(",")
            w.key("note_id"); w.int(note.noteID); w.raw("}")
        }
        out.raw(",")
        out.key("summary"); summary.writeJSON(to: &out)
        out.raw("}")
    }
}

/// Reads a line of `scan --texts` input: one JSON string, nothing else but spaces around it.
public enum JSONStringLine {
    /// The decoded string, or nil when the line is not exactly one valid JSON string (bad escape,
    /// raw control character, lone surrogate, invalid UTF-8, trailing text). Unlike Foundation's
    /// reader, a leading U+FEFF in the string is kept (it shifted every offset by three bytes).
    public static func decode(_ line: some Collection<UInt8>) -> String? {
        let bytes = Array(line)
        var i = 0
        let n = bytes.count
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
        while i < n && isSpace(bytes[i]) { i += 1 }
        guard i < n, bytes[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        var out: [UInt8] = []
        out.reserveCapacity(n)
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= n else { return nil }
            var v: UInt32 = 0
            for k in at..<at + 4 {
                let c = bytes[k]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: return nil
                }
                v = v << 4 | d
            }
            return v
        }
        var closed = false
        while i < n {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { closed = true; i += 1; break }
            if b < 0x20 { return nil }
            if b != UInt8(ascii: "\\") {
                // copy the run up to the next quote, backslash or control byte
                var j = i + 1
                while j < n, bytes[j] != UInt8(ascii: "\""), bytes[j] != UInt8(ascii: "\\"), bytes[j] >= 0x20 { j += 1 }
                out.append(contentsOf: bytes[i..<j])
                i = j
                continue
            }
            guard i + 1 < n else { return nil }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(i) else { return nil }
                i += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 6 <= n, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u"),
                          let low = hex4(i + 2), (0xDC00..<0xE000).contains(low) else { return nil }
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    return nil
                }
                guard let u = Unicode.Scalar(scalar) else { return nil }
                UTF8.encode(u) { out.append($0) }
            default:
                return nil
            }
        }
        guard closed else { return nil }
        while i < n && isSpace(bytes[i]) { i += 1 }
        guard i == n else { return nil }
        return String(validating: out, as: UTF8.self)
    }
}
