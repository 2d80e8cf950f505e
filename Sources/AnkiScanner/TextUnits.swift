/// Byte-level Unicode helpers for the hot loops: decoding UTF-8, classifying characters and
/// lower-casing the scripts the word lists use, without creating Swift strings.

enum CharClass: UInt8 {
    case other = 0
    case space
    case letter
    case digit
    /// Han, kana and their marks: scripts without spaces, searched by substring.
    case cjk
    /// Hangul syllables and jamo (written with spaces, so handled as words).
    case hangul
    case apostrophe
    case hyphen
    /// Combining marks and variation selectors: part of the word they follow.
    case mark
}

enum TextUnits {
    /// Decodes the scalar at `i`. Invalid or truncated sequences yield U+FFFD with length 1, so a
    /// scan always advances.
    @inline(__always)
    static func decode(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (scalar: UInt32, length: Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (b0, 1) }
        let n = p.count
        if b0 & 0xE0 == 0xC0, i + 1 < n {
            let b1 = UInt32(p[i + 1])
            if b1 & 0xC0 == 0x80 && b0 >= 0xC2 { return ((b0 & 0x1F) << 6 | (b1 & 0x3F), 2) }
        } else if b0 & 0xF0 == 0xE0, i + 2 < n {
            let b1 = UInt32(p[i + 1]), b2 = UInt32(p[i + 2])
            if b1 & 0xC0 == 0x80 && b2 & 0xC0 == 0x80 {
                let s = (b0 & 0x0F) << 12 | (b1 & 0x3F) << 6 | (b2 & 0x3F)
                if s >= 0x800 && !(0xD800...0xDFFF).contains(s) { return (s, 3) }
            }
        } else if b0 & 0xF8 == 0xF0, i + 3 < n {
            let b1 = UInt32(p[i + 1]), b2 = UInt32(p[i + 2]), b3 = UInt32(p[i + 3])
            if b1 & 0xC0 == 0x80 && b2 & 0xC0 == 0x80 && b3 & 0xC0 == 0x80 {
                let s = (b0 & 0x07) << 18 | (b1 & 0x3F) << 12 | (b2 & 0x3F) << 6 | (b3 & 0x3F)
                if s >= 0x10000 && s <= 0x10FFFF { return (s, 4) }
            }
        }
        return (0xFFFD, 1)
    }

    /// The start of the scalar that contains byte `i` (walks back over continuation bytes).
    @inline(__always)
    static func scalarStart(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        var j = min(i, p.count)
        var steps = 0
        while j > 0 && j < p.count && p[j] & 0xC0 == 0x80 && steps < 3 { j -= 1; steps += 1 }
        return j
    }

    /// The scalar that ends just before byte `i`, and where it starts.
    @inline(__always)
    static func decodeBefore(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (scalar: UInt32, start: Int)? {
        guard i > 0 else { return nil }
        var j = i - 1
        var steps = 0
        while j > 0 && p[j] & 0xC0 == 0x80 && steps < 3 { j -= 1; steps += 1 }
        let (s, len) = decode(p, j)
        if j + len != i { return (0xFFFD, i - 1) }
        return (s, j)
    }

    private static let asciiClass: [CharClass] = {
        var table = [CharClass](repeating: .other, count: 128)
        for c in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(c)] = .letter }
        for c in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(c)] = .letter }
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(c)] = .digit }
        for c in [9, 10, 11, 12, 13, 32] { table[c] = .space }
        table[Int(UInt8(ascii: "'"))] = .apostrophe
        table[Int(UInt8(ascii: "-"))] = .hyphen
        return table
    }()

    /// `asciiClass` as a raw pointer: read in the hottest loops without retain/release or bounds checks.
    /// Allocated once, for the life of the process.
    nonisolated(unsafe) static let asciiClassPointer: UnsafePointer<CharClass> = {
        let p = UnsafeMutablePointer<CharClass>.allocate(capacity: 128)
        for i in 0..<128 { p[i] = asciiClass[i] }
        return UnsafePointer(p)
    }()

    @inline(__always)
    static func charClassASCII(_ b: UInt8) -> CharClass { asciiClass[Int(b & 0x7F)] }

    @inline(__always)
    static func charClass(_ s: UInt32) -> CharClass {
        if s < 0x80 { return asciiClass[Int(s)] }
        switch s {
        case 0xA0: return .space
        case 0xAA, 0xB5, 0xBA: return .letter
        case 0x80..<0xC0, 0xD7, 0xF7: return .other
        case 0xC0..<0x300: return .letter
        case 0x300..<0x370: return .mark
        case 0x37E, 0x387, 0x589, 0x5BE, 0x5C0, 0x5C3, 0x5F3, 0x5F4, 0x60C, 0x61B, 0x61F, 0x6D4: return .other
        case 0x660...0x669, 0x6F0...0x6F9, 0x966...0x96F: return .digit
        case 0x370..<0x2000: return .letter
        case 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F: return .space
        case 0x2010, 0x2011: return .hyphen
        case 0x2019, 0x02BC: return .apostrophe
        case 0x200B...0x200D, 0x2060: return .mark
        case 0x2000..<0x2E80: return .other
        case 0x3000: return .space
        case 0x3005, 0x3006, 0x3007: return .cjk
        case 0x3001..<0x3040: return .other
        case 0x30FB: return .other
        case 0x3040..<0x3130: return .cjk
        case 0x3130..<0x3190: return .hangul
        case 0x3190..<0x3400: return .cjk
        case 0x3400..<0xA000: return .cjk
        case 0xA000..<0xAC00: return .letter
        case 0xAC00..<0xD7B0: return .hangul
        case 0xF900..<0xFB00: return .cjk
        case 0xFB00..<0xFE00: return .letter
        case 0xFE00...0xFE0F: return .mark
        case 0xFF10...0xFF19: return .digit
        case 0xFF21...0xFF3A, 0xFF41...0xFF5A: return .letter
        case 0xFF66...0xFF9F: return .cjk
        case 0xFFA0...0xFFDC: return .hangul
        case 0xFE10..<0x10000: return .other
        case 0x1F000..<0x1FC00: return .other
        case 0xE0100...0xE01EF: return .mark
        case 0x20000..<0x40000: return .cjk
        case 0x10000..<0x20000: return .letter
        default: return .other
        }
    }

    /// `charClass`, with the common CJK ideographs (U+3400..U+9FFF) decided inline.
    @inline(__always)
    static func charClassFast(_ s: UInt32) -> CharClass {
        (s &- 0x3400) < 0x6C00 ? .cjk : charClass(s)
    }

    /// `charClass(s) == .cjk`, with the common ideographs and the kana decided inline (the CJK run
    /// loop asks this for every character).
    @inline(__always)
    static func isCJK(_ s: UInt32) -> Bool {
        if (s &- 0x3400) < 0x6C00 { return true }
        if (s &- 0x3040) < 0xF0 { return s != 0x30FB }  // hiragana, katakana (not the middle dot)
        return charClassOutOfLine(s) == .cjk
    }

    /// `charClass` as a call, so that the small tests before it are inlined without its switch.
    @inline(never)
    static func charClassOutOfLine(_ s: UInt32) -> CharClass { charClass(s) }

    /// What the word loops need of a scalar, in one value: its lower case (the low 21 bits, room
    /// for any scalar), whether it belongs to a word (a letter, digit, Hangul or mark), whether it is
    /// a mark (part of the word, not counted), and its `WordShape` bits (the top byte).
    enum WordEntry {
        static let lowerMask: UInt32 = 0x1F_FFFF
        static let word: UInt32 = 1 << 21
        static let mark: UInt32 = 1 << 22
        static let shapeShift: UInt32 = 24

        static func make(_ s: UInt32) -> UInt32 {
            let lower = TextUnits.lower(s)
            var shape: WordShape = []
            switch charClass(s) {
            case .letter:
                shape.insert(.letter)
                if lower == s { shape.insert(.ownLowerLetter) }
            case .digit: shape.insert(.digit)
            case .hangul: shape.insert(.hangul)
            case .mark: return lower | word | mark
            default: return lower
            }
            if lower != s { shape.insert(.firstUpper) }
            return lower | word | UInt32(shape.rawValue) << shapeShift
        }
    }

    /// `WordEntry.make` of every scalar below U+0800 (those of one or two UTF-8 bytes). Allocated once,
    /// for the life of the process.
    nonisolated(unsafe) static let wordTable: UnsafePointer<UInt32> = {
        let t = UnsafeMutablePointer<UInt32>.allocate(capacity: 0x800)
        for v in 0..<UInt32(0x800) { t[Int(v)] = WordEntry.make(v) }
        return UnsafePointer(t)
    }()

    /// Simple lower-casing for Latin, Greek, Cyrillic and full-width Latin (one scalar to one).
    @inline(__always)
    static func lower(_ s: UInt32) -> UInt32 {
        if s < 0x80 { return (s &- 65) < 26 ? s + 32 : s }
        if s < 0xC0 { return s }
        if s <= 0xDE { return s == 0xD7 ? s : s + 32 }
        if s < 0x100 { return s }
        if s < 0x180 {
            switch s {
            case 0x130: return 0x69
            case 0x178: return 0xFF
            case 0x131, 0x138, 0x149, 0x17F: return s
            case 0x139...0x148, 0x179...0x17E: return s & 1 == 1 ? s + 1 : s
            default: return s & 1 == 0 ? s + 1 : s
            }
        }
        if s < 0x370 { return s }
        if s < 0x400 {
            switch s {
            case 0x391...0x3A1, 0x3A3...0x3AB: return s + 32
            case 0x386: return 0x3AC
            case 0x388...0x38A: return s + 37
            case 0x38C: return 0x3CC
            case 0x38E, 0x38F: return s + 63
            default: return s
            }
        }
        if s < 0x530 {
            switch s {
            case 0x410...0x42F: return s + 32
            case 0x400...0x40F: return s + 80
            case 0x460...0x481, 0x48A...0x4BF, 0x4D0...0x52F: return s & 1 == 0 ? s + 1 : s
            default: return s
            }
        }
        if s >= 0x1E00 && s < 0x1F00 {
            if s == 0x1E9E { return 0xDF }
            return (s <= 0x1E95 || s >= 0x1EA0) && s & 1 == 0 ? s + 1 : s
        }
        if s >= 0xFF21 && s <= 0xFF3A { return s + 32 }
        return s
    }

    @inline(__always)
    static func isUpper(_ s: UInt32) -> Bool { lower(s) != s }

    /// The value of a decimal digit scalar (ASCII, full-width, Arabic-Indic, Devanagari), else nil.
    @inline(__always)
    static func digitValue(_ s: UInt32) -> Int? {
        switch s {
        case 0x30...0x39: return Int(s - 0x30)
        case 0xFF10...0xFF19: return Int(s - 0xFF10)
        case 0x660...0x669: return Int(s - 0x660)
        case 0x6F0...0x6F9: return Int(s - 0x6F0)
        case 0x966...0x96F: return Int(s - 0x966)
        default: return nil
        }
    }

    @inline(__always)
    static func hashStart() -> UInt64 { 0xcbf2_9ce4_8422_2325 }

    @inline(__always)
    static func hash(_ h: UInt64, _ s: UInt32) -> UInt64 { (h ^ UInt64(s)) &* 0x0000_0100_0000_01B3 }

    static func hash<S: Sequence>(_ scalars: S) -> UInt64 where S.Element == UInt32 {
        var h = hashStart()
        for s in scalars { h = hash(h, s) }
        return h
    }

    /// Lower-cased scalars of a Swift string, the way the scanner sees words.
    static func lowerScalars(_ string: String) -> [UInt32] { string.unicodeScalars.map { lower($0.value) } }

    static func scalars(_ string: String) -> [UInt32] { string.unicodeScalars.map(\.value) }

    static func string(_ scalars: some Sequence<UInt32>) -> String {
        var s = ""
        for v in scalars { if let u = Unicode.Scalar(v) { s.unicodeScalars.append(u) } }
        return s
    }

    /// The bytes as a string (invalid sequences replaced, which the scanner never produces).
    static func string(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: p[range]), as: UTF8.self)
    }
}
