/// The text a learner sees on a card, made from a field's HTML: tags removed (block tags become a
/// line break so words do not run together), entities decoded, cloze markup `{{c1::answer::hint}}`
/// unwrapped to `answer` and `hint`, `[sound:...]` dropped. Every visible byte remembers which bytes
/// of the original produced it, so a finding maps back to a range of the original field.
struct VisibleText {
    enum Mode {
        /// A note field: HTML with cloze markup.
        case html
        /// Plain text (the survey's free text).
        case plain
        /// A note's tags or a media file name: `_` and `:` separate words; names may be lowercase.
        case identifier
    }

    /// The visible bytes; nil when they are the original bytes themselves.
    private(set) var bytes: [UInt8]?
    /// For each visible byte, the original range of what produced it; nil when offsets are unchanged.
    private var origin: [Int32]?
    private var originEnd: [Int32]?
    /// Original byte ranges of media file names referenced by the field.
    private(set) var mediaReferences: [Range<Int>] = []

    var isIdentity: Bool { bytes == nil }

    init(_ source: UnsafeBufferPointer<UInt8>, mode: Mode) {
        switch mode {
        case .plain:
            bytes = nil
        case .identifier:
            var needsCopy = false
            for b in source where b == UInt8(ascii: "_") || b == UInt8(ascii: ":") || b == 0 { needsCopy = true; break }
            if needsCopy {
                bytes = source.map { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":") || $0 == 0 ? UInt8(ascii: " ") : $0 }
            }
        case .html:
            var markup = false
            for b in source where b == UInt8(ascii: "<") || b == UInt8(ascii: "&") || b == UInt8(ascii: "{")
                || b == UInt8(ascii: "[") {
                markup = true
                break
            }
            if markup { buildFromHTML(source) }
        }
    }

    /// Calls `body` with the visible bytes.
    func withBytes<R>(_ source: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let bytes { return try bytes.withUnsafeBufferPointer(body) }
        return try body(source)
    }

    /// The original range for a visible range.
    func originalRange(_ range: Range<Int>) -> Range<Int> {
        guard let origin, let originEnd, !range.isEmpty else { return range }
        return Int(origin[range.lowerBound])..<Int(originEnd[range.upperBound - 1])
    }

    // MARK: - HTML

    private static let blockTags: Set<String> = [
        "br", "div", "p", "li", "ul", "ol", "tr", "td", "th", "table", "tbody", "thead", "h1", "h2", "h3", "h4", "h5",
        "h6", "hr", "blockquote", "section", "article", "dd", "dt", "dl", "pre", "img", "rt", "rp", "audio", "video",
        "source", "figure", "figcaption", "header", "footer", "center", "option", "select", "button", "input", "textarea",
    ]
    private static let mediaTags: Set<String> = ["img", "audio", "video", "source", "embed", "object", "track"]

    /// Bytes that need a look in HTML mode; everything else is copied as it is.
    private static let special: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for c in "<&{}:[".utf8 { table[Int(c)] = true }
        table[0] = true
        return table
    }()

    private mutating func buildFromHTML(_ p: UnsafeBufferPointer<UInt8>) {
        let n = p.count
        // The visible text is never longer than the source: every replacement is shorter than what it
        // replaces, so the buffers are sized once and written through pointers.
        var out = [UInt8](repeating: 0, count: n)
        var from = [Int32](repeating: 0, count: n)
        var to = [Int32](repeating: 0, count: n)
        var references: [Range<Int>] = []
        var length = 0
        out.withUnsafeMutableBufferPointer { o in
            from.withUnsafeMutableBufferPointer { f in
                to.withUnsafeMutableBufferPointer { t in
                    length = Self.render(p, o, f, t, &references)
                }
            }
        }
        out.removeLast(n - length)
        from.removeLast(n - length)
        to.removeLast(n - length)
        bytes = out
        origin = from
        originEnd = to
        mediaReferences = references
    }

    private static func render(_ p: UnsafeBufferPointer<UInt8>, _ o: UnsafeMutableBufferPointer<UInt8>,
                               _ f: UnsafeMutableBufferPointer<Int32>, _ t: UnsafeMutableBufferPointer<Int32>,
                               _ references: inout [Range<Int>]) -> Int {
        let n = p.count
        var length = 0
        var clozeDepth = 0
        var hintAtDepth: [Bool] = []
        var i = 0

        @inline(__always) func emit(_ b: UInt8, _ s: Int, _ e: Int) {
            o[length] = b
            f[length] = Int32(truncatingIfNeeded: s)
            t[length] = Int32(truncatingIfNeeded: e)
            length += 1
        }
        @inline(__always) func emitSeparator(_ s: Int, _ e: Int) {
            if length > 0, o[length - 1] == UInt8(ascii: "\n") || o[length - 1] == UInt8(ascii: " ") { return }
            emit(UInt8(ascii: "\n"), s, e)
        }

        special.withUnsafeBufferPointer { isSpecial in
            while i < n {
                let b = p[i]
                if !isSpecial[Int(b)] {
                    // a run of ordinary bytes
                    var j = i + 1
                    while j < n && !isSpecial[Int(p[j])] { j += 1 }
                    for k in i..<j {
                        o[length] = p[k]
                        f[length] = Int32(truncatingIfNeeded: k)
                        t[length] = Int32(truncatingIfNeeded: k + 1)
                        length += 1
                    }
                    i = j
                    continue
                }
                switch b {
                case UInt8(ascii: "<"):
                    if let end = tagEnd(p, i) {
                        let name = tagName(p, i)
                        if name == "!--" {
                            // a comment: tagEnd already found "-->"
                        } else if name == "style" || name == "script" {
                            let close = findClosing(p, from: end, name: name)
                            emitSeparator(i, close)
                            i = close
                            continue
                        } else if blockTags.contains(name) {
                            emitSeparator(i, end)
                        }
                        if mediaTags.contains(name), let src = attributeValue(p, i, end, "src") {
                            references.append(src)
                        }
                        i = end
                        continue
                    }
                    emit(b, i, i + 1)
                    i += 1
                case UInt8(ascii: "&"):
                    if let (scalar, end) = entity(p, i) {
                        if scalar == 0xA0 || scalar == 0x20 {
                            emit(UInt8(ascii: " "), i, end)
                        } else if let u = Unicode.Scalar(scalar) {
                            for byte in String(Character(u)).utf8 { emit(byte, i, end) }
                        }
                        i = end
                        continue
                    }
                    emit(b, i, i + 1)
                    i += 1
                case UInt8(ascii: "{"):
                    if let end = clozeOpen(p, i) {
                        clozeDepth += 1
                        hintAtDepth.append(false)
                        i = end
                        continue
                    }
                    emit(b, i, i + 1)
                    i += 1
                case UInt8(ascii: ":") where clozeDepth > 0 && i + 1 < n && p[i + 1] == UInt8(ascii: ":")
                    && hintAtDepth.last == false:
                    hintAtDepth[hintAtDepth.count - 1] = true
                    emitSeparator(i, i + 2)
                    i += 2
                case UInt8(ascii: "}") where clozeDepth > 0 && i + 1 < n && p[i + 1] == UInt8(ascii: "}"):
                    clozeDepth -= 1
                    hintAtDepth.removeLast()
                    i += 2
                case UInt8(ascii: "["):
                    if let (nameRange, end) = sound(p, i) {
                        references.append(nameRange)
                        emitSeparator(i, end)
                        i = end
                        continue
                    }
                    emit(b, i, i + 1)
                    i += 1
                case 0:
                    emit(UInt8(ascii: " "), i, i + 1)
                    i += 1
                default:
                    emit(b, i, i + 1)
                    i += 1
                }
            }
        }
        return length
    }

    /// The index after the `>` closing the tag at `i`, honouring quoted attribute values; nil when
    /// the `<` does not start a tag.
    private static func tagEnd(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        let n = p.count
        guard i + 1 < n else { return nil }
        let next = p[i + 1]
        let isLetter = (next | 0x20) >= UInt8(ascii: "a") && (next | 0x20) <= UInt8(ascii: "z")
        if next == UInt8(ascii: "!") {
            if i + 3 < n && p[i + 2] == UInt8(ascii: "-") && p[i + 3] == UInt8(ascii: "-") {
                var j = i + 4
                while j + 2 < n {
                    if p[j] == UInt8(ascii: "-") && p[j + 1] == UInt8(ascii: "-") && p[j + 2] == UInt8(ascii: ">") { return j + 3 }
                    j += 1
                }
                return n
            }
        } else if !(isLetter || next == UInt8(ascii: "/")) {
            return nil
        }
        var j = i + 1
        var quote: UInt8 = 0
        while j < n {
            let c = p[j]
            if c == UInt8(ascii: "<") {
                return nil  // also inside quotes: keeps every scan linear on hostile text
            } else if quote != 0 {
                if c == quote { quote = 0 }
            } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                quote = c
            } else if c == UInt8(ascii: ">") {
                return j + 1
            }
            j += 1
        }
        return nil
    }

    /// Lower-case tag name ("br", "div"; "!--" for comments); "" when unnamed.
    private static func tagName(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> String {
        var j = i + 1
        if j < p.count && p[j] == UInt8(ascii: "!") { return "!--" }
        if j < p.count && p[j] == UInt8(ascii: "/") { j += 1 }
        var name: [UInt8] = []
        while j < p.count && name.count < 12 {
            let c = p[j] | 0x20
            if (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (p[j] >= UInt8(ascii: "0") && p[j] <= UInt8(ascii: "9")) {
                name.append(p[j] >= UInt8(ascii: "0") && p[j] <= UInt8(ascii: "9") ? p[j] : c)
                j += 1
            } else {
                break
            }
        }
        return String(decoding: name, as: UTF8.self)
    }

    private static func findClosing(_ p: UnsafeBufferPointer<UInt8>, from: Int, name: String) -> Int {
        let needle = Array("</\(name)".utf8)
        var j = from
        while j + needle.count <= p.count {
            var match = true
            for k in 0..<needle.count where (p[j + k] | (k >= 2 ? 0x20 : 0)) != needle[k] { match = false; break }
            if match {
                var e = j + needle.count
                while e < p.count && p[e] != UInt8(ascii: ">") { e += 1 }
                return min(e + 1, p.count)
            }
            j += 1
        }
        return p.count
    }

    /// The original range of an attribute's value inside the tag `start..<end`.
    private static func attributeValue(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ name: String) -> Range<Int>? {
        let needle = Array(name.utf8)
        var j = start + 1
        while j + needle.count < end {
            let before = p[j - 1]
            if before == UInt8(ascii: " ") || before == UInt8(ascii: "\t") || before == UInt8(ascii: "\n") {
                var match = true
                for k in 0..<needle.count where (p[j + k] | 0x20) != needle[k] { match = false; break }
                if match {
                    var k = j + needle.count
                    while k < end && p[k] == UInt8(ascii: " ") { k += 1 }
                    guard k < end && p[k] == UInt8(ascii: "=") else { j += 1; continue }
                    k += 1
                    while k < end && p[k] == UInt8(ascii: " ") { k += 1 }
                    guard k < end else { return nil }
                    let q = p[k]
                    if q == UInt8(ascii: "\"") || q == UInt8(ascii: "'") {
                        var e = k + 1
                        while e < end && p[e] != q { e += 1 }
                        return (k + 1)..<e
                    }
                    var e = k
                    while e < end && p[e] != UInt8(ascii: " ") && p[e] != UInt8(ascii: ">") && p[e] != UInt8(ascii: "/") { e += 1 }
                    return k..<e
                }
            }
            j += 1
        }
        return nil
    }

    /// `{{c<digits>::` at `i`: the index after it.
    private static func clozeOpen(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        let n = p.count
        guard i + 5 < n, p[i + 1] == UInt8(ascii: "{"), p[i + 2] | 0x20 == UInt8(ascii: "c") else { return nil }
        var j = i + 3
        let digitsStart = j
        while j < n && p[j] >= UInt8(ascii: "0") && p[j] <= UInt8(ascii: "9") && j - digitsStart < 4 { j += 1 }
        guard j > digitsStart, j + 1 < n, p[j] == UInt8(ascii: ":"), p[j + 1] == UInt8(ascii: ":") else { return nil }
        return j + 2
    }

    /// `[sound:name]` at `i`: the name's range and the index after `]`.
    private static func sound(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Range<Int>, Int)? {
        let prefix = Array("[sound:".utf8)
        guard i + prefix.count < p.count else { return nil }
        for k in 0..<prefix.count where p[i + k] != prefix[k] { return nil }
        var j = i + prefix.count
        while j < p.count && j - i < 4096 {
            if p[j] == UInt8(ascii: "]") { return ((i + prefix.count)..<j, j + 1) }
            if p[j] == UInt8(ascii: "[") || p[j] == UInt8(ascii: "<") { return nil }
            j += 1
        }
        return nil
    }

    private static let namedEntities: [String: UInt32] = [
        "amp": 0x26, "lt": 0x3C, "gt": 0x3E, "quot": 0x22, "apos": 0x27, "nbsp": 0xA0, "ensp": 0x20, "emsp": 0x20,
        "thinsp": 0x20, "shy": 0xAD, "ndash": 0x2013, "mdash": 0x2014, "hellip": 0x2026, "lsquo": 0x2018,
        "rsquo": 0x2019, "sbquo": 0x201A, "ldquo": 0x201C, "rdquo": 0x201D, "bdquo": 0x201E, "laquo": 0xAB,
        "raquo": 0xBB, "middot": 0xB7, "bull": 0x2022, "copy": 0xA9, "reg": 0xAE, "trade": 0x2122, "euro": 0x20AC,
        "pound": 0xA3, "yen": 0xA5, "cent": 0xA2, "sect": 0xA7, "para": 0xB6, "deg": 0xB0, "plusmn": 0xB1,
        "times": 0xD7, "divide": 0xF7, "frac12": 0xBD, "frac14": 0xBC, "frac34": 0xBE, "sup1": 0xB9, "sup2": 0xB2,
        "sup3": 0xB3, "iexcl": 0xA1, "iquest": 0xBF, "szlig": 0xDF, "zwsp": 0x200B, "zwnj": 0x200C, "zwj": 0x200D,
        "Auml": 0xC4, "Ouml": 0xD6, "Uuml": 0xDC, "auml": 0xE4, "ouml": 0xF6, "uuml": 0xFC, "euml": 0xEB,
        "iuml": 0xEF, "Euml": 0xCB, "Iuml": 0xCF, "yuml": 0xFF, "Aacute": 0xC1, "Eacute": 0xC9, "Iacute": 0xCD,
        "Oacute": 0xD3, "Uacute": 0xDA, "aacute": 0xE1, "eacute": 0xE9, "iacute": 0xED, "oacute": 0xF3,
        "uacute": 0xFA, "yacute": 0xFD, "Agrave": 0xC0, "Egrave": 0xC8, "Igrave": 0xCC, "Ograve": 0xD2,
        "Ugrave": 0xD9, "agrave": 0xE0, "egrave": 0xE8, "igrave": 0xEC, "ograve": 0xF2, "ugrave": 0xF9,
        "Acirc": 0xC2, "Ecirc": 0xCA, "Icirc": 0xCE, "Ocirc": 0xD4, "Ucirc": 0xDB, "acirc": 0xE2, "ecirc": 0xEA,
        "icirc": 0xEE, "ocirc": 0xF4, "ucirc": 0xFB, "Atilde": 0xC3, "Ntilde": 0xD1, "Otilde": 0xD5,
        "atilde": 0xE3, "ntilde": 0xF1, "otilde": 0xF5, "Ccedil": 0xC7, "ccedil": 0xE7, "Aring": 0xC5,
        "aring": 0xE5, "AElig": 0xC6, "aelig": 0xE6, "Oslash": 0xD8, "oslash": 0xF8, "OElig": 0x152,
        "oelig": 0x153, "Scaron": 0x160, "scaron": 0x161, "ETH": 0xD0, "eth": 0xF0, "THORN": 0xDE, "thorn": 0xFE,
    ]

    /// `&name;`, `&#123;` or `&#x1F600;` at `i`: the scalar and the index after `;`.
    private static func entity(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int)? {
        let n = p.count
        var j = i + 1
        guard j < n else { return nil }
        if p[j] == UInt8(ascii: "#") {
            j += 1
            var hex = false
            if j < n && (p[j] | 0x20) == UInt8(ascii: "x") { hex = true; j += 1 }
            var value: UInt32 = 0
            let digitsStart = j
            while j < n && j - digitsStart < 8 {
                let c = p[j]
                if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                    value = value &* (hex ? 16 : 10) &+ UInt32(c - UInt8(ascii: "0"))
                } else if hex, (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "f") {
                    value = value &* 16 &+ UInt32((c | 0x20) - UInt8(ascii: "a") + 10)
                } else {
                    break
                }
                j += 1
            }
            guard j > digitsStart, j < n, p[j] == UInt8(ascii: ";") else { return nil }
            if value == 0 || value > 0x10FFFF || (0xD800...0xDFFF).contains(value) { value = 0xFFFD }
            return (value, j + 1)
        }
        var name: [UInt8] = []
        while j < n && name.count < 8 {
            let c = p[j]
            let alnum = ((c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
            guard alnum else { break }
            name.append(c)
            j += 1
        }
        guard !name.isEmpty, j < n, p[j] == UInt8(ascii: ";"),
              let scalar = Self.namedEntities[String(decoding: name, as: UTF8.self)] else { return nil }
        return (scalar, j + 1)
    }
}
