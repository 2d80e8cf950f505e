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
    var flags: WordFlags
    /// What the word is made of; the properties below are read from it (storing one byte per word
    /// instead of four values costs less than they cost to read).
    var shape: WordShape

    var letterCase: Case {
        guard shape.contains(.firstUpper) else { return .lower }
        return !shape.contains(.ownLowerLetter) && scalarCount > 1 ? .upper : .capitalized
    }
    var hasDigit: Bool { shape.contains(.digit) }
    var hasLetter: Bool { !shape.isDisjoint(with: [.letter, .hangul]) }
    /// All Hangul (marks aside).
    var isHangul: Bool { shape.intersection([.letter, .digit, .hangul]) == .hangul }
}

/// What a word is made of, as bits collected while it is read (one value for all of them, so the
/// word loops keep few values live). Letters, digits, upper case and lower-case letters have the
/// bits of `AsciiWord`, so an ASCII word's shape is the bits its bytes have in that table.
struct WordShape: OptionSet {
    let rawValue: UInt8
    /// Some letter (of any script but Hangul).
    static let letter = WordShape(rawValue: AsciiWord.letter)
    static let digit = WordShape(rawValue: AsciiWord.digit)
    /// The first scalar is upper-case (its lower case differs).
    static let firstUpper = WordShape(rawValue: AsciiWord.upper)
    /// Some letter is its own lower case (lower-case or caseless): the word is not all upper-case.
    static let ownLowerLetter = WordShape(rawValue: AsciiWord.lowerLetter)
    static let hangul = WordShape(rawValue: 16)
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

/// Where the tokenizer collects lexicon hits; the caller keeps it alive while `TokenizedText`
/// points into it, and frees it with `deallocate()`.
struct HitStore {
    var cjk = HitList<CJKHit>()
    var terms = HitList<TermHit>()

    /// Empties both lists, keeping their memory unless a huge field made it big.
    @inline(__always)
    mutating func clear() {
        cjk.removeAll()
        terms.removeAll()
    }

    func deallocate() {
        cjk.deallocate()
        terms.deallocate()
    }
}

/// A growable list of plain values (hits) in memory of its own: unlike an array, appending to it and
/// reading it through a pointer cost no uniqueness checks or reference counting, which for the
/// thread's lists (see `ScanScratch`) came to several calls per field. The owner frees it with
/// `deallocate()`.
struct HitList<Element> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity: Int
    private static var initialCapacity: Int { 64 }

    init() {
        capacity = Self.initialCapacity
        base = .allocate(capacity: capacity)
    }

    var isEmpty: Bool { count == 0 }

    /// The elements, valid until the next change.
    var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    @inline(__always)
    mutating func append(_ element: Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: element)
        count += 1
    }

    @inline(never)
    private mutating func grow() {
        let larger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        larger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = larger
        capacity *= 2
    }

    /// Empties the list, keeping its memory unless a huge field made it big (elements are plain
    /// values: nothing to deinitialize).
    @inline(__always)
    mutating func removeAll() {
        count = 0
        if capacity > 1 << 12 { shrink() }
    }

    @inline(never)
    private mutating func shrink() {
        base.deallocate()
        capacity = Self.initialCapacity
        base = .allocate(capacity: capacity)
    }

    func deallocate() { base.deallocate() }
}

/// The tokens of a text and what was found on the way. Only pointers and numbers (into buffers the
/// caller owns), so passing it around costs no reference counting.
struct TokenizedText {
    /// In a buffer of the caller's (`Scanner.tokenize(_:identifier:into:hits:)`).
    var tokens = UnsafeBufferPointer<Token>(start: nil, count: 0)
    /// In text order. Set by the caller from `HitStore.cjk`.
    var cjkHits = UnsafeBufferPointer<CJKHit>(start: nil, count: 0)
    /// Set by the caller from `HitStore.terms`.
    var termHits = UnsafeBufferPointer<TermHit>(start: nil, count: 0)
    /// CJK characters in the text (for the vocabulary-card test of special terms).
    var cjkScalars = 0
    /// The flags of all tokens together.
    var flags: WordFlags = []
    /// Some token is all Hangul.
    var hasHangul = false
    /// Some token has a digit.
    var hasDigit = false
    /// False when the text has none of the bytes a pattern starts from (a digit, "@", "://", a "."
    /// followed by a letter), so that no pattern can match.
    var mayHaveSeeds = false
    /// The text is valid UTF-8 (every scalar start was decoded on the way).
    var validUTF8 = true

    /// The most tokens a text of `bytes` bytes can have: tokens are at least one byte long, and
    /// something that is no token (a space, a CJK run...) stands between two tokens.
    static func capacity(_ bytes: Int) -> Int { bytes / 2 + 1 }

    // What each detector starts from: without it, the detector finds nothing (it tests the same
    // first), and a field with none of them has no findings.

    /// Some pattern may match (`Scanner.patternCandidates`).
    var mayHavePatterns: Bool { mayHaveSeeds }
    /// Some word is on a name list, or is Hangul, or a CJK entry was found (`Scanner.nameCandidates`).
    var mayHaveNames: Bool { !flags.isDisjoint(with: [.given, .surname, .nameLabel, .nameIntro]) || hasHangul || !cjkHits.isEmpty }
    /// Some special-category term was found (`Scanner.specialCandidates`).
    var mayHaveTerms: Bool { !termHits.isEmpty }
}

extension Scanner {
    /// `identifier`: names count in lowercase too (tags, file names), so every word is looked up in
    /// the full word table; otherwise only capitalized words are, and lowercase words in the table of
    /// context words and terms (`Lexicon.common`), all their flags can matter for.
    /// Tokens go to `buffer`, which has room for `TokenizedText.capacity(text.count)` of them; CJK
    /// hits and term hits to `hits` (the result's `cjkHits` and `termHits` are left empty: the caller
    /// points them into `hits`).
    /// `runs` has room for the scalars of the text's CJK runs (`CJKRunBuffer.capacity(text.count)`).
    func tokenize(_ text: UnsafeBufferPointer<UInt8>, identifier: Bool,
                  into buffer: UnsafeMutableBufferPointer<Token>, runs: CJKRunBuffer, hits: inout HitStore) -> TokenizedText {
        // The lower-cased scalars of the current word: on the stack for the usual limits.
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: configuration.limits.maxTokenScalars + 1) {
            tokenize(text, key: $0.baseAddress!, identifier: identifier, into: buffer, runs: runs, hits: &hits)
        }
    }

    /// One word read by `readASCIIWord` or `readWord`: four values, returned in registers.
    struct WordScan {
        var end: Int
        /// Scalars (marks excluded); `key` holds the first `min(count, maxScalars)` of them, lower-cased.
        var count: Int
        /// FNV-1a hash of the scalars in `key`.
        var hash: UInt64
        var shape: WordShape
    }

    /// The ASCII word at `start` (an ASCII letter or digit). When a non-ASCII byte follows it (a
    /// letter or a mark may continue the word), `readWord` goes on from the result's `end` without
    /// reading the ASCII part again. Inlined: returning the scan through memory and unpacking it
    /// cost more than the register pressure of the bigger loop.
    @inline(__always)
    static func readASCIIWord(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ key: UnsafeMutablePointer<UInt32>,
                              _ maxScalars: Int, _ table: UnsafePointer<UInt8>, _ lowerAndBits: UnsafePointer<UInt16>) -> WordScan {
        let p = text.baseAddress!, n = text.count
        var e = start
        var h = TextUnits.hashStart()
        var seen: UInt16 = 0
        // (wrapping arithmetic in the word readers: offsets into the text cannot overflow)
        let limit = min(n, start &+ maxScalars)
        // (the key indexed by the text's offsets: no pointer of its own to advance)
        let k = key - start
        while e < limit {
            // one load a byte: the lower case in the low byte, the `AsciiWord` bits in the high one
            let entry = lowerAndBits[Int(p[e])]
            if entry & UInt16(AsciiWord.word) << 8 == 0 { break }
            seen |= entry
            let lower = UInt32(entry & 0xFF)
            k[e] = lower
            h = TextUnits.hash(h, lower)
            e &+= 1
        }
        var bits = UInt8(truncatingIfNeeded: seen >> 8)
        if e == limit {
            // longer than the key: the rest only counts
            while e < n {
                let more = table[Int(p[e])]
                if more & AsciiWord.word == 0 { break }
                bits |= more
                e &+= 1
            }
        }
        // (the upper-case bit of the first byte only: see `WordShape`)
        let shape = bits & (AsciiWord.word | AsciiWord.lowerLetter) | table[Int(p[start])] & AsciiWord.upper
        return WordScan(end: e, count: e &- start, hash: h, shape: WordShape(rawValue: shape))
    }

    /// The rest of the word `partial` began (letters, digits, Hangul, marks, any script), from
    /// `partial.end`: after what `readASCIIWord` read, or from the word's first scalar with
    /// `partial.count` 0. `table` is `TextUnits.wordTable`.
    @inline(never)
    static func readWord(_ text: UnsafeBufferPointer<UInt8>, _ key: UnsafeMutablePointer<UInt32>, _ maxScalars: Int,
                         _ table: UnsafePointer<UInt32>, continuing partial: WordScan) -> WordScan {
        let n = text.count
        var count = partial.count
        var h = partial.hash
        var shape = partial.shape.rawValue
        var j = partial.end
        while j < n {
            // Scalars of one and two bytes (Latin, Greek, Cyrillic...) in an inner loop without a
            // call, so that it keeps its values in registers; others (rare in words) after it.
            var entry: UInt32 = 0, len = 0
            while j < n {
                let bj = text[j]
                if bj < 0x80 {
                    entry = table[Int(bj)]; len = 1
                } else if bj >= 0xC2 && bj < 0xE0 && j + 1 < n && text[j + 1] & 0xC0 == 0x80 {
                    entry = table[Int((UInt32(bj) & 0x1F) << 6 | (UInt32(text[j + 1]) & 0x3F))]; len = 2
                } else {
                    len = 0
                    break
                }
                guard entry & TextUnits.WordEntry.word != 0 else { break }
                j &+= len
                Self.add(entry, &count, &h, &shape, key, maxScalars)
            }
            guard j < n && len == 0 else { break }
            (entry, len) = Self.readScalar(text, j)
            guard entry & TextUnits.WordEntry.word != 0 else { break }
            j &+= len
            Self.add(entry, &count, &h, &shape, key, maxScalars)
        }
        return WordScan(end: j, count: count, hash: h, shape: WordShape(rawValue: shape))
    }

    /// Adds the scalar of `entry` (a `TextUnits.WordEntry` of a word's scalar) to the word: its shape
    /// bits (upper case for the first scalar only) and, while there is room, its lower case to `key`
    /// and the hash. Marks are part of the word but not counted.
    @inline(__always)
    static func add(_ entry: UInt32, _ count: inout Int, _ h: inout UInt64, _ shape: inout UInt8,
                    _ key: UnsafeMutablePointer<UInt32>, _ maxScalars: Int) {
        if entry & TextUnits.WordEntry.mark != 0 { return }
        let bits = UInt8(truncatingIfNeeded: entry >> TextUnits.WordEntry.shapeShift)
        shape |= count == 0 ? bits : bits & ~WordShape.firstUpper.rawValue
        if count < maxScalars {
            let lower = entry & TextUnits.WordEntry.lowerMask
            key[count] = lower
            h = TextUnits.hash(h, lower)
        }
        count &+= 1
    }

    /// The `TextUnits.WordEntry` of the scalar at `j` and its length: for the scalars of three and four
    /// bytes and invalid bytes, rare in words, out of line so that `readWord`'s loop keeps its
    /// values in registers.
    @inline(never)
    static func readScalar(_ text: UnsafeBufferPointer<UInt8>, _ j: Int) -> (UInt32, Int) {
        let (s, len) = TextUnits.decode(text, j)
        return (TextUnits.WordEntry.make(s), len)
    }

    private func tokenize(_ text: UnsafeBufferPointer<UInt8>, key: UnsafeMutablePointer<UInt32>,
                          identifier: Bool, into tokens: UnsafeMutableBufferPointer<Token>, runs: CJKRunBuffer,
                          hits: inout HitStore) -> TokenizedText {
        var result = TokenizedText()
        let n = text.count
        var tokenCount = 0
        let maxScalars = configuration.limits.maxTokenScalars
        // The lexicon's tables, read through one pointer where they are needed (copying them all
        // into the frame cost more than tokenizing a short field).
        let tables = lexicon.tokenizerTables
        var allFlags: WordFlags = []
        var mayHaveSeeds = false
        // The shapes of all words together: which of them have digits or Hangul is read from it
        // after the loop (one value kept per word instead of two tests).
        var allShapes: WordShape = []
        let asciiWord = tables.pointee.asciiWord, wordTable = tables.pointee.wordTable
        var i = 0
        while i < n {
            let b = text[i]
            let start = i
            var word: WordScan
            if b < 0x80 {
                let bits = asciiWord[Int(b)]
                if bits & AsciiWord.word == 0 {
                    // Bytes some pattern needs ("@", "://", "." before a letter): see `mayHaveSeeds`.
                    if bits & AsciiWord.seed != 0 {
                        if b == UInt8(ascii: "@") {
                            mayHaveSeeds = true
                        } else if b == UInt8(ascii: ":") {
                            if i + 2 < n && text[i + 1] == UInt8(ascii: "/") && text[i + 2] == UInt8(ascii: "/") {
                                mayHaveSeeds = true
                            }
                        } else if i + 1 < n && (text[i + 1] >= 0xC0 || asciiWord[Int(text[i + 1])] & AsciiWord.letter != 0) {
                            mayHaveSeeds = true  // "."
                        }
                    }
                    i += 1
                    continue
                }
                // An ASCII word (the usual case) is read by one table lookup a byte; a non-ASCII byte
                // after it may continue it (a letter or a mark).
                word = Self.readASCIIWord(text, start, key, maxScalars, asciiWord, tables.pointee.asciiLowerAndBits)
                if word.end < n && text[word.end] >= 0x80 {
                    word = Self.readWord(text, key, maxScalars, wordTable, continuing: word)
                }
            } else {
                let (s0, l0) = TextUnits.decode(text, i)
                // A word or CJK run ends at an invalid byte (read as U+FFFD of one byte), and the next
                // round decodes it here.
                if s0 == 0xFFFD && l0 == 1 { result.validUTF8 = false }
                let startsWord: Bool
                if l0 == 2 {
                    // (no scalar of two bytes is CJK or Hangul)
                    let entry = wordTable[Int(s0)]
                    startsWord = entry & (TextUnits.WordEntry.word | TextUnits.WordEntry.mark) == TextUnits.WordEntry.word
                } else {
                    let class0 = TextUnits.charClassFast(s0)
                    if class0 == .cjk {
                        i = scanCJKRun(text, from: i, runs, into: &result, cjkHits: &hits.cjk, termHits: &hits.terms)
                        continue
                    }
                    startsWord = class0 == .letter || class0 == .digit || class0 == .hangul
                }
                guard startsWord else {
                    i += l0
                    continue
                }
                word = Self.readWord(text, key, maxScalars, wordTable,
                                     continuing: WordScan(end: start, count: 0, hash: TextUnits.hashStart(), shape: []))
            }
            let j = word.end, count = word.count
            let keyCount = min(count, maxScalars)
            // Prefix stems: searched only when some stem may start with the word's first scalars
            // (stems of one or two scalars, if any, whatever follows; longer ones only when some
            // stem starts with the first three or four: most words stop at this test).
            let prefixMask = tables.pointee.prefix.lengthMask
            if prefixMask != 0 && keyCount >= 1 {
                if prefixMask & 0b110 != 0 || keyCount >= 3 && tables.pointee.prefix.mayStartThreeOrMore(key, keyCount) {
                    Self.prefixStemHits(key, keyCount, start: start, end: j, tables, into: &hits.terms)
                }
            }
            var flags: WordFlags = []
            if count <= maxScalars {
                let full = identifier || word.shape.contains(.firstUpper)
                let index = full ? tables.pointee.words.find(key, count, hash: word.hash)
                    : tables.pointee.common.find(key, count, hash: word.hash)
                if index >= 0 {
                    let info = full ? tables.pointee.words.payload(index) : tables.pointee.common.payload(index)
                    flags = info.flags
                    allFlags.formUnion(info.flags)
                    if info.terms.count > 0 { Self.termHits(info.terms, start: start, end: j, tables, into: &hits.terms) }
                }
                // Suffix stems (of at least `minimumSuffix` scalars, shorter than the word) only when
                // the word ends in the last two scalars of one.
                if tables.pointee.suffix.lengthMask != 0 && !word.shape.isDisjoint(with: [.letter, .hangul])
                    && count > Lexicon.minimumSuffix && tables.pointee.suffixPairs.contains(key[count - 2], key[count - 1]) {
                    Self.suffixStemHits(key, count, start: start, end: j, tables, into: &hits.terms)
                }
            }
            allShapes.formUnion(word.shape)
            if tokenCount < tokens.count {
                tokens[tokenCount] = Token(start: start, end: j, scalarCount: count, flags: flags, shape: word.shape)
                tokenCount += 1
            }
            i = j
        }
        if allShapes.contains(.digit) { mayHaveSeeds = true }
        // (a word with Hangul in it is rare: only then are the words searched for one all Hangul;
        // every word has its token, see `TokenizedText.capacity`)
        let hasHangul = allShapes.contains(.hangul) && tokens[0..<tokenCount].contains { $0.isHangul }
        result.tokens = UnsafeBufferPointer(rebasing: tokens[0..<tokenCount])
        result.flags = allFlags
        result.mayHaveSeeds = mayHaveSeeds
        result.hasHangul = hasHangul
        result.hasDigit = allShapes.contains(.digit)
        return result
    }

    /// The terms of a word found in the lexicon (`range`, not empty), for the word at `start..<end`:
    /// out of line, since few words name terms and appending takes many values.
    @inline(never)
    static func termHits(_ range: TermRange, start: Int, end: Int, _ tables: UnsafePointer<TokenizerTables>,
                         into termHits: inout HitList<TermHit>) {
        for term in tables.pointee.terms(range) { termHits.append(TermHit(start: start, end: end, term: term)) }
    }

    /// The terms of every prefix stem the word (its `keyCount` lower-cased scalars at `key`) starts
    /// with, shortest first. Longer stems are looked up only while the prefix bits allow each longer
    /// prefix, and stems of two or more scalars only when the first two scalars are a stem's.
    @inline(never)
    static func prefixStemHits(_ key: UnsafeMutablePointer<UInt32>, _ keyCount: Int, start: Int, end: Int,
                               _ tables: UnsafePointer<TokenizerTables>, into termHits: inout HitList<TermHit>) {
        let prefix = tables.pointee.prefix
        let prefixMask = prefix.lengthMask
        var ph = TextUnits.hash(TextUnits.hashStart(), key[0])
        if prefixMask & 2 != 0 {
            let index = prefix.find(key, 1, hash: ph)
            if index >= 0 {
                for term in tables.pointee.terms(prefix.payload(index)) { termHits.append(TermHit(start: start, end: end, term: term)) }
            }
        }
        guard keyCount >= 2 && tables.pointee.prefixPairs.contains(key[0], key[1]) else { return }
        ph = TextUnits.hash(ph, key[1])
        var length = 2
        while true {
            if length < 64 && prefixMask & (1 << UInt64(length)) != 0 {
                let index = prefix.find(key, length, hash: ph)
                if index >= 0 {
                    for term in tables.pointee.terms(prefix.payload(index)) { termHits.append(TermHit(start: start, end: end, term: term)) }
                }
            }
            if length >= keyCount { break }
            ph = TextUnits.hash(ph, key[length])
            length += 1
            if !prefix.mayHavePrefix(ph) { break }
        }
    }

    /// The terms of every suffix stem (of at least `Lexicon.minimumSuffix` scalars, shorter than the
    /// word) the word (its `count` lower-cased scalars at `key`) ends with, shortest first.
    @inline(never)
    static func suffixStemHits(_ key: UnsafeMutablePointer<UInt32>, _ count: Int, start: Int, end: Int,
                               _ tables: UnsafePointer<TokenizerTables>, into termHits: inout HitList<TermHit>) {
        let suffix = tables.pointee.suffix
        let suffixMask = suffix.lengthMask
        var length = Lexicon.minimumSuffix
        while length < count && length < 64 {
            if suffixMask & (1 << UInt64(length)) != 0 {
                let tail = key + (count - length)
                var th = TextUnits.hashStart()
                for q in 0..<length { th = TextUnits.hash(th, tail[q]) }
                let index = suffix.find(tail, length, hash: th)
                if index >= 0 {
                    for term in tables.pointee.terms(suffix.payload(index)) { termHits.append(TermHit(start: start, end: end, term: term)) }
                }
            }
            length += 1
        }
    }

    /// Reads the CJK run at `start` (decoding each scalar once, into `runs`) and finds every lexicon
    /// entry inside it (names, honorifics, context words, terms). Returns the index after the run.
    private func scanCJKRun(_ text: UnsafeBufferPointer<UInt8>, from start: Int, _ runs: CJKRunBuffer,
                            into result: inout TokenizedText, cjkHits: inout HitList<CJKHit>, termHits: inout HitList<TermHit>) -> Int {
        let n = text.count
        let scalars = runs.scalars, offsets = runs.offsets
        var count = 0
        var j = start
        while j < n {
            // Ideographs and kana (U+3000..U+9FFF: lead bytes E3..E9, never a surrogate or an overlong
            // form) are decoded here; anything else by `decode`.
            var s: UInt32, len: Int
            let b0 = text[j]
            if b0 &- 0xE3 < 7 && j &+ 2 < n && text[j &+ 1] & 0xC0 == 0x80 && text[j &+ 2] & 0xC0 == 0x80 {
                s = (UInt32(b0) & 0x0F) << 12 | (UInt32(text[j + 1]) & 0x3F) << 6 | UInt32(text[j + 2]) & 0x3F
                len = 3
            } else {
                (s, len) = TextUnits.decode(text, j)
            }
            guard TextUnits.isCJK(s) else { break }
            scalars[count] = s
            offsets[count] = j
            // (wrapping: offsets and counts within the text cannot overflow)
            count &+= 1
            j &+= len
        }
        offsets[count] = j
        result.cjkScalars += count
        let table = lexicon.cjk.raw
        guard !lexicon.cjk.isEmpty else { return j }
        let maxLength = min(table.maxLength, configuration.limits.cjkMaxTerm)
        let mask = table.lengthMask
        let starts = cjkStarts
        let termBase = lexicon.termIndexBase
        for p in 0..<count {
            guard starts.contains(scalars[p]) else { continue }
            var h = TextUnits.hashStart()
            var length = 0
            while length < maxLength && p + length < count {
                h = TextUnits.hash(h, scalars[p + length])
                length += 1
                // no entry starts with these scalars: none longer either
                guard table.mayHavePrefix(h) else { break }
                guard mask & (1 << UInt64(length)) != 0 else { continue }
                let index = table.find(scalars + p, length, hash: h)
                if index >= 0 {
                    let info = table.payload(index)
                    let hit = CJKHit(start: offsets[p], end: offsets[p + length], flags: info.flags, entry: index)
                    if !info.flags.isEmpty { cjkHits.append(hit) }
                    for k in 0..<Int(info.terms.count) {
                        termHits.append(TermHit(start: hit.start, end: hit.end, term: termBase[Int(info.terms.start) + k]))
                    }
                }
            }
        }
        return j
    }
}

/// Room for the scalars of a text's CJK runs and where each starts, so that a run is decoded once.
/// A CJK character takes at least three bytes in UTF-8, so a text of `n` bytes has at most `n / 3`
/// of them (and a run of `k` needs `k + 1` offsets).
struct CJKRunBuffer {
    var scalars: UnsafeMutablePointer<UInt32>
    var offsets: UnsafeMutablePointer<Int>

    static func capacity(_ bytes: Int) -> Int { bytes / 3 + 2 }
}

/// What the tokenizer reads for every word: the lexicon's tables as plain pointers and numbers, and
/// the byte tables. Built once with the lexicon (`Lexicon.tokenizerTables`) and read through one
/// pointer, so that a field costs no copying of table descriptions, no reference counting and no
/// lazy-initialisation checks before its first word.
struct TokenizerTables {
    var words: RawScalarTable<WordInfo>
    var common: RawScalarTable<WordInfo>
    var prefix: RawScalarTable<TermRange>
    var suffix: RawScalarTable<TermRange>
    var prefixPairs: RawPairGate
    var suffixPairs: RawPairGate
    /// `Lexicon.termIndexBase`.
    var termBase: UnsafePointer<Int32>
    /// `AsciiWord.table`.
    var asciiWord: UnsafePointer<UInt8>
    /// `AsciiWord.lowerAndBits`.
    var asciiLowerAndBits: UnsafePointer<UInt16>
    /// `TextUnits.wordTable`.
    var wordTable: UnsafePointer<UInt32>

    /// The term numbers of `range`.
    @inline(__always)
    func terms(_ range: TermRange) -> UnsafeBufferPointer<Int32> {
        UnsafeBufferPointer(start: termBase + Int(range.start), count: Int(range.count))
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

    /// Each byte lower-cased (A-Z to a-z, others as they are) in the low byte and its bits of
    /// `table` in the high byte: one load a byte in the ASCII word loop.
    nonisolated(unsafe) static let lowerAndBits: UnsafePointer<UInt16> = {
        let t = UnsafeMutablePointer<UInt16>.allocate(capacity: 256)
        for c in 0..<256 {
            let b = UInt8(c), lower = UInt8(ascii: "A") <= b && b <= UInt8(ascii: "Z") ? b | 0x20 : b
            t[c] = UInt16(table[c]) << 8 | UInt16(lower)
        }
        return UnsafePointer(t)
    }()
}

/// The first scalars of the CJK lexicon entries, so that most positions are skipped with one test.
/// The bits for U+3000..U+9FFF are read through a plain pointer (no reference counting or bounds
/// checks in the run loop); scalars outside that range, rare in text, are in a set.
struct ScalarSet: @unchecked Sendable {
    private let store: PinnedBuffer<UInt64>
    private let bits: UnsafePointer<UInt64>
    private let others: Set<UInt32>
    private static let base: UInt32 = 0x3000
    private static let limit: UInt32 = 0xA000

    init(_ scalars: some Sequence<UInt32>) {
        var words = [UInt64](repeating: 0, count: Int(Self.limit - Self.base) / 64 + 1)
        var others = Set<UInt32>()
        for s in scalars {
            if s >= Self.base && s < Self.limit {
                let offset = Int(s - Self.base)
                words[offset >> 6] |= 1 << UInt64(offset & 63)
            } else {
                others.insert(s)
            }
        }
        store = PinnedBuffer(words)
        bits = UnsafePointer(store.base)
        self.others = others
    }

    @inline(__always)
    func contains(_ s: UInt32) -> Bool {
        let offset = s &- Self.base
        if offset < Self.limit - Self.base {
            return bits[Int(offset >> 6)] & (1 << UInt64(offset & 63)) != 0
        }
        return !others.isEmpty && others.contains(s)
    }
}
