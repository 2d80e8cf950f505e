/// Splits visible text into words (letters, digits and marks; Hangul included) and runs of CJK
/// characters, looking every word up in the lexicon on the way (one hash probe, computed while the
/// word is lower-cased) and searching CJK runs for lexicon entries by substring.
struct Token {
    enum Case: UInt8 {
        /// First letter lower-case (or a script without case).
        case lower
        /// First letter upper-case, not all upper-case.
        case capitalized
        /// Two or more letters, all upper-case.
        case upper
    }

    var start: Int
    var end: Int
    var scalarCount: Int
    var letterCase: Case
    var hasDigit: Bool
    var hasLetter: Bool
    var isHangul: Bool
    /// Index into `Lexicon.words`, or -1.
    var entry: Int
    var flags: WordFlags
}

/// A lexicon entry found inside a CJK run.
struct CJKHit {
    var start: Int
    var end: Int
    var flags: WordFlags
    var entry: Int
}

/// A special-category term found in the text (before scoring).
struct TermHit {
    var start: Int
    var end: Int
    var term: Int32
}

struct TokenizedText {
    var tokens: [Token] = []
    var cjkHits: [CJKHit] = []
    var termHits: [TermHit] = []
    /// CJK characters in the text (for the vocabulary-card test of special terms).
    var cjkScalars = 0
    /// The flags of all tokens together.
    var flags: WordFlags = []
    /// Some token is all Hangul.
    var hasHangul = false
    /// False when the text has none of the bytes a pattern starts from (a digit, "@", "://", a "."
    /// followed by a letter), so that no pattern can match.
    var mayHaveSeeds = false
}

extension Scanner {
    /// `identifier`: names count in lowercase too (tags, file names), so every word is looked up in
    /// the full word table; otherwise only capitalized words are, and lowercase words in the table of
    /// context words and terms (`Lexicon.common`), all their flags can matter for.
    func tokenize(_ text: UnsafeBufferPointer<UInt8>, identifier: Bool) -> TokenizedText {
        // The lower-cased scalars of the current word: on the stack for the usual limits.
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: configuration.limits.maxTokenScalars + 1) {
            tokenize(text, key: $0.baseAddress!, identifier: identifier)
        }
    }

    private func tokenize(_ text: UnsafeBufferPointer<UInt8>, key: UnsafeMutablePointer<UInt32>,
                          identifier: Bool) -> TokenizedText {
        var result = TokenizedText()
        let n = text.count
        result.tokens.reserveCapacity(n / 5 + 2)
        let maxScalars = configuration.limits.maxTokenScalars
        let words = lexicon.words, common = lexicon.common, prefix = lexicon.prefixStems, suffix = lexicon.suffixStems
        let prefixMask = prefix.lengthMask, suffixMask = suffix.lengthMask
        let prefixPairs = lexicon.prefixPairs, suffixPairs = lexicon.suffixPairs
        var termHits: [TermHit] = []
        var allFlags: WordFlags = []
        let asciiWord = AsciiWord.table
        var i = 0
        while i < n {
            let b = text[i]
            var class0: CharClass
            var len0 = 1
            if b < 0x80 {
                let bits = asciiWord[Int(b)]
                if bits & AsciiWord.word == 0 {
                    // Bytes some pattern needs ("@", "://", "." before a letter): see `mayHaveSeeds`.
                    if bits & AsciiWord.seed != 0 {
                        if b == UInt8(ascii: "@") {
                            result.mayHaveSeeds = true
                        } else if b == UInt8(ascii: ":") {
                            if i + 2 < n && text[i + 1] == UInt8(ascii: "/") && text[i + 2] == UInt8(ascii: "/") {
                                result.mayHaveSeeds = true
                            }
                        } else if i + 1 < n && (text[i + 1] >= 0xC0 || asciiWord[Int(text[i + 1])] & AsciiWord.letter != 0) {
                            result.mayHaveSeeds = true  // "."
                        }
                    }
                    i += 1
                    continue
                }
                class0 = bits & AsciiWord.letter != 0 ? .letter : .digit
            } else {
                let (s0, l0) = TextUnits.decode(text, i)
                class0 = TextUnits.charClass(s0)
                len0 = l0
            }
            switch class0 {
            case .letter, .digit, .hangul:
                let start = i
                var count = 0
                var h = TextUnits.hashStart()
                var firstUpper = false, allUpper = true
                var hasDigit = false, hasLetter = false, allHangul = true
                // Prefix stems are looked up only while some stem may start with the word's scalars so
                // far: its first two scalars must be a stem's, then each longer prefix.
                var prefixOpen = prefixMask != 0
                let hitsBefore = termHits.count
                var j = i
                // An ASCII word (the usual case): one table read a byte finds, lower-cases and
                // classifies it. When a non-ASCII byte follows, the word may go on (a letter, a mark):
                // it is read again on the general path.
                var asciiDone = false
                if b < 0x80 {
                    var e = i
                    var k = 0
                    var seen: UInt8 = 0
                    while e < n {
                        let c = text[e]
                        let bits = asciiWord[Int(c)]
                        if bits & AsciiWord.word == 0 { break }
                        seen |= bits
                        if k < maxScalars {
                            let lower = UInt32(c | (bits & AsciiWord.upper) << 3)
                            key[k] = lower
                            h = TextUnits.hash(h, lower)
                            k += 1
                            if prefixOpen {
                                probePrefix(k, key, h, start, prefix, prefixPairs, &prefixOpen, &termHits)
                            }
                        } else {
                            k += 1
                        }
                        e += 1
                    }
                    if e < n && text[e] >= 0x80 {
                        termHits.removeSubrange(hitsBefore...)
                        h = TextUnits.hashStart()
                        prefixOpen = prefixMask != 0
                    } else {
                        asciiDone = true
                        count = k
                        firstUpper = asciiWord[Int(b)] & AsciiWord.upper != 0
                        allUpper = seen & AsciiWord.lowerLetter == 0
                        hasDigit = seen & AsciiWord.digit != 0
                        hasLetter = seen & AsciiWord.letter != 0
                        allHangul = false
                        j = e
                    }
                }
                while !asciiDone && j < n {
                    let bj = text[j]
                    var s: UInt32, len: Int, cls: CharClass, lower: UInt32
                    if bj < 0x80 {
                        s = UInt32(bj); len = 1
                        cls = TextUnits.charClassASCII(bj)
                        lower = (s &- 65) < 26 ? s + 32 : s
                    } else {
                        (s, len) = TextUnits.decode(text, j)
                        cls = TextUnits.charClass(s)
                        lower = TextUnits.lower(s)
                    }
                    guard cls == .letter || cls == .digit || cls == .hangul || cls == .mark else { break }
                    if cls == .mark { j += len; continue }
                    if cls == .digit { hasDigit = true } else { hasLetter = true }
                    if cls != .hangul { allHangul = false }
                    if lower != s {
                        if count == 0 { firstUpper = true }
                    } else if cls == .letter {
                        allUpper = false
                    }
                    if count < maxScalars {
                        key[count] = lower
                        h = TextUnits.hash(h, lower)
                        count += 1
                        if prefixOpen {
                            probePrefix(count, key, h, start, prefix, prefixPairs, &prefixOpen, &termHits)
                        }
                    } else {
                        count += 1
                    }
                    j += len
                }
                // Prefix hits recorded above end with the word.
                var k = hitsBefore
                while k < termHits.count { termHits[k].end = j; k += 1 }
                var token = Token(start: start, end: j, scalarCount: count,
                                  letterCase: firstUpper ? (allUpper && count > 1 ? .upper : .capitalized) : .lower,
                                  hasDigit: hasDigit, hasLetter: hasLetter, isHangul: allHangul && hasLetter,
                                  entry: -1, flags: [])
                if count <= maxScalars {
                    let full = identifier || token.letterCase != .lower
                    let index = full ? words.find(key, count, hash: h) : common.find(key, count, hash: h)
                    if index >= 0 {
                        token.entry = index
                        let info = full ? words.payload(index) : common.payload(index)
                        token.flags = info.flags
                        allFlags.formUnion(info.flags)
                        for term in lexicon.terms(info.terms) { termHits.append(TermHit(start: start, end: j, term: term)) }
                    }
                    // Suffix stems (of at least `minimumSuffix` scalars, shorter than the word) only when
                    // the word ends in the last two scalars of one.
                    if suffixMask != 0 && hasLetter && count > Lexicon.minimumSuffix
                        && suffixPairs.contains(key[count - 2], key[count - 1]) {
                        var length = Lexicon.minimumSuffix
                        while length < count && length < 64 {
                            if suffixMask & (1 << UInt64(length)) != 0 {
                                let tail = key + (count - length)
                                var th = TextUnits.hashStart()
                                for q in 0..<length { th = TextUnits.hash(th, tail[q]) }
                                let index = suffix.find(tail, length, hash: th)
                                if index >= 0 {
                                    for term in lexicon.terms(suffix.payload(index)) { termHits.append(TermHit(start: start, end: j, term: term)) }
                                }
                            }
                            length += 1
                        }
                    }
                }
                if hasDigit { result.mayHaveSeeds = true }
                if token.isHangul { result.hasHangul = true }
                result.tokens.append(token)
                i = j
            case .cjk:
                let start = i
                var j = i
                while j < n {
                    let (s, len) = TextUnits.decode(text, j)
                    guard TextUnits.charClass(s) == .cjk else { break }
                    j += len
                }
                scanCJKRun(text, start..<j, into: &result, termHits: &termHits)
                i = j
            default:
                i += len0
            }
        }
        result.termHits = termHits
        result.flags = allFlags
        return result
    }

    /// After the `length`th scalar of a word went into `key` (hash `h`): the prefix stems of that
    /// length, while some stem may start with the word's scalars so far (`open`): its first two
    /// scalars must be a stem's, then each longer prefix.
    @inline(__always)
    private func probePrefix(_ length: Int, _ key: UnsafeMutablePointer<UInt32>, _ h: UInt64, _ start: Int,
                             _ prefix: ScalarTable<TermRange>, _ pairs: PairGate, _ open: inout Bool,
                             _ termHits: inout [TermHit]) {
        if length == 2 {
            open = pairs.contains(key[0], key[1])
        } else if length > 2 {
            open = prefix.mayHavePrefix(h)
        }
        if open && length < 64 && prefix.lengthMask & (1 << UInt64(length)) != 0 {
            let index = prefix.find(key, length, hash: h)
            if index >= 0 {
                for term in lexicon.terms(prefix.payload(index)) { termHits.append(TermHit(start: start, end: -1, term: term)) }
            }
        }
    }

    /// Finds every lexicon entry inside the CJK run `range` (names, honorifics, context words, terms).
    private func scanCJKRun(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into result: inout TokenizedText,
                            termHits: inout [TermHit]) {
        let table = lexicon.cjk
        guard !table.isEmpty else {
            var j = range.lowerBound
            while j < range.upperBound { j += TextUnits.decode(text, j).length; result.cjkScalars += 1 }
            return
        }
        // A CJK scalar takes at least two bytes, so range.count / 2 + 1 bounds the count.
        let capacity = range.count / 2 + 2
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: capacity) { scalars in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: capacity) { offsets in
                var count = 0
                var j = range.lowerBound
                while j < range.upperBound {
                    let (s, len) = TextUnits.decode(text, j)
                    scalars[count] = s
                    offsets[count] = j
                    count += 1
                    j += len
                }
                offsets[count] = range.upperBound
                result.cjkScalars += count
                let maxLength = min(table.maxLength, configuration.limits.cjkMaxTerm)
                let mask = table.lengthMask
                let base = scalars.baseAddress!
                for p in 0..<count {
                    guard cjkStarts.contains(base[p]) else { continue }
                    var h = TextUnits.hashStart()
                    var length = 0
                    while length < maxLength && p + length < count {
                        h = TextUnits.hash(h, base[p + length])
                        length += 1
                        // no entry starts with these scalars: none longer either
                        guard table.mayHavePrefix(h) else { break }
                        guard mask & (1 << UInt64(length)) != 0 else { continue }
                        let index = table.find(base + p, length, hash: h)
                        if index >= 0 {
                            let info = table.payload(index)
                            let hit = CJKHit(start: offsets[p], end: offsets[p + length], flags: info.flags, entry: index)
                            if !info.flags.isEmpty { result.cjkHits.append(hit) }
                            for term in lexicon.terms(info.terms) { termHits.append(TermHit(start: hit.start, end: hit.end, term: term)) }
                        }
                    }
                }
            }
        }
    }
}

/// What an ASCII byte is in a word, as bits (0 for other bytes and all bytes from 0x80).
enum AsciiWord {
    static let letter: UInt8 = 1
    static let digit: UInt8 = 2
    /// A-Z: lower-cased by adding 0x20 (`upper << 3`).
    static let upper: UInt8 = 4
    static let lowerLetter: UInt8 = 8
    static let word: UInt8 = letter | digit
    /// "@", ":", ".": may start a pattern candidate.
    static let seed: UInt8 = 16

    /// Allocated once, for the life of the process (read in the hottest loop without retain/release).
    nonisolated(unsafe) static let table: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        t.initialize(repeating: 0, count: 256)
        for c in UInt8(ascii: "a")...UInt8(ascii: "z") { t[Int(c)] = letter | lowerLetter }
        for c in UInt8(ascii: "A")...UInt8(ascii: "Z") { t[Int(c)] = letter | upper }
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { t[Int(c)] = digit }
        for c in "@:.".utf8 { t[Int(c)] = seed }
        return UnsafePointer(t)
    }()
}

/// The first scalars of the CJK lexicon entries, so that most positions are skipped with one test.
struct ScalarSet: Sendable {
    private var bits: [UInt64]
    private var others: Set<UInt32>
    private static let base: UInt32 = 0x3000
    private static let limit: UInt32 = 0xA000

    init(_ scalars: some Sequence<UInt32>) {
        bits = [UInt64](repeating: 0, count: Int(Self.limit - Self.base) / 64 + 1)
        others = []
        for s in scalars {
            if s >= Self.base && s < Self.limit {
                let offset = Int(s - Self.base)
                bits[offset >> 6] |= 1 << UInt64(offset & 63)
            } else {
                others.insert(s)
            }
        }
    }

    @inline(__always)
    func contains(_ s: UInt32) -> Bool {
        if s >= Self.base && s < Self.limit {
            let offset = Int(s - Self.base)
            return bits[offset >> 6] & (1 << UInt64(offset & 63)) != 0
        }
        return !others.isEmpty && others.contains(s)
    }
}
