import AnkiSubmission
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Read-only memory for a big lookup table, allocated once. On Linux a table of a few hundred KB
/// or more is placed in 2 MB pages where the kernel allows it (`madvise`): lookups land at random
/// places in the table, and with 4 KB pages nearly every one would also miss the TLB.
final class PinnedBuffer<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>
    let count: Int

    init(_ elements: [Element]) {
        count = elements.count
        let bytes = max(1, count * MemoryLayout<Element>.stride)
        let huge = 2 << 20
        var raw: UnsafeMutableRawPointer?
        if bytes >= huge / 8 {
            let rounded = (bytes + huge - 1) / huge * huge
            if posix_memalign(&raw, huge, rounded) != 0 { raw = nil }
            #if os(Linux)
            if let raw { _ = madvise(raw, rounded, 14 /* MADV_HUGEPAGE */) }
            #endif
        }
        if raw == nil { raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64) }
        base = raw!.bindMemory(to: Element.self, capacity: max(count, 1))
        _ = elements.withUnsafeBufferPointer { base.initialize(from: $0.baseAddress ?? UnsafePointer(base), count: count) }
    }

    deinit {
        base.deinitialize(count: count)
        free(base)
    }
}

/// A read-only open-addressing hash table keyed by sequences of Unicode scalars, built once from
/// the word lists. Lookups take a pointer to scalars and their FNV-1a hash, so the hot loop never
/// creates a Swift string. Each slot holds the key's hash, where its scalars are and its payload,
/// so that a lookup reads one slot (and the key's scalars only when the hash matches).
struct ScalarTable<Payload: Sendable>: @unchecked Sendable {
    struct Slot: Sendable {
        var hash: UInt64 = 0
        var start: Int32 = 0
        /// -1 for an empty slot.
        var length: Int32 = -1
        var payload: Payload?
    }

    /// The slots, the keys' scalars and the filters, in pinned memory that `raw` points into.
    private let slotStore: PinnedBuffer<Slot>
    private let arenaStore: PinnedBuffer<UInt32>
    private let bloomStore: PinnedBuffer<UInt64>
    private let prefixStore: PinnedBuffer<UInt64>
    private let startStore: PinnedBuffer<UInt64>
    private let trigramStore: PinnedBuffer<UInt64>
    /// The table as plain pointers and numbers: copied into a hot loop without reference counting.
    /// Valid as long as this table (the scanner's lexicon) lives.
    let raw: RawScalarTable<Payload>
    /// Number of keys.
    let count: Int
    /// Bit `n` is set when some key has `n` scalars (n < 64): lets prefix searches skip lengths.
    var lengthMask: UInt64 { raw.lengthMask }
    var maxLength: Int { raw.maxLength }
    /// The first scalar of every key (for `ScalarSet`).
    let firstScalars: [UInt32]

    init(_ dictionary: [[UInt32]: Payload], withPrefixes: Bool = false) {
        // At most two thirds full: probes stay short, and the big table of names stays small enough
        // to be mostly in cache.
        var capacity = 16
        while capacity * 2 < dictionary.count * 3 { capacity <<= 1 }
        var slots = [Slot](repeating: Slot(), count: capacity)
        var arena: [UInt32] = []
        var mask: UInt64 = 0
        var maxLength = 0
        var bloomWords = 16
        while bloomWords * 64 < dictionary.count * 8 && bloomWords < 4096 { bloomWords <<= 1 }
        var bloom = [UInt64](repeating: 0, count: bloomWords)
        let bloomShift = UInt64(64 - bloomWords.trailingZeroBitCount)
        var firstScalars: [UInt32] = []
        var prefixBits = [UInt64](repeating: 0, count: withPrefixes ? Int(RawScalarTable<Payload>.prefixBitCount / 64) : 0)
        var startBits = prefixBits
        var trigramBits = [UInt64](repeating: 0, count: withPrefixes ? RawScalarTable<Payload>.trigramBitCount / 64 : 0)
        // Sorted so that tables (and so scans) are identical from run to run.
        for (key, payload) in dictionary.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let h = TextUnits.hash(key)
            let m = RawScalarTable<Payload>.mix(h)
            var slot = Int(truncatingIfNeeded: m) & (capacity - 1)
            while slots[slot].length >= 0 { slot = (slot + 1) & (capacity - 1) }
            slots[slot] = Slot(hash: h, start: Int32(arena.count), length: Int32(key.count), payload: payload)
            arena.append(contentsOf: key)
            if let first = key.first { firstScalars.append(first) }
            if withPrefixes {
                if key.count >= 3 {
                    let t = RawScalarTable<Payload>.trigram(key[0], key[1], key[2])
                    trigramBits[t >> 6] |= 1 << UInt64(t & 63)
                }
                var ph = TextUnits.hashStart()
                for (k, scalar) in key.enumerated() {
                    ph = TextUnits.hash(ph, scalar)
                    let bit = RawScalarTable<Payload>.mix(ph) >> 48
                    prefixBits[Int(bit >> 6)] |= 1 << (bit & 63)
                    if k + 1 == min(key.count, RawScalarTable<Payload>.startLength) { startBits[Int(bit >> 6)] |= 1 << (bit & 63) }
                }
            }
            if key.count < 64 { mask |= 1 << UInt64(key.count) }
            maxLength = max(maxLength, key.count)
            bloom[Int(m >> bloomShift)] |= 1 << ((m >> 20) & 63) | 1 << ((m >> 26) & 63)
        }
        slotStore = PinnedBuffer(slots)
        arenaStore = PinnedBuffer(arena)
        bloomStore = PinnedBuffer(bloom)
        prefixStore = PinnedBuffer(prefixBits)
        startStore = PinnedBuffer(startBits)
        trigramStore = PinnedBuffer(trigramBits)
        raw = RawScalarTable(slotBase: UnsafePointer(slotStore.base), arenaBase: UnsafePointer(arenaStore.base),
                             bloomBase: UnsafePointer(bloomStore.base), prefixBase: UnsafePointer(prefixStore.base),
                             startBase: UnsafePointer(startStore.base), trigramBase: UnsafePointer(trigramStore.base),
                             mask: capacity - 1, bloomShift: bloomShift, lengthMask: mask, maxLength: maxLength)
        self.count = dictionary.count
        self.firstScalars = firstScalars
    }

    /// False when no key starts with the scalars whose FNV-1a hash is `hash` (true may be a false
    /// positive). Only for tables built `withPrefixes`.
    @inline(__always)
    func mayHavePrefix(_ hash: UInt64) -> Bool { raw.mayHavePrefix(hash) }

    var isEmpty: Bool { count == 0 }

    /// The slot index for `count` scalars at `key` with hash `hash`, or -1.
    @inline(__always)
    func find(_ key: UnsafePointer<UInt32>, _ count: Int, hash: UInt64) -> Int { raw.find(key, count, hash: hash) }

    func find(_ key: [UInt32]) -> Int {
        key.withUnsafeBufferPointer { raw.find($0.baseAddress ?? UnsafePointer(bitPattern: 4)!, key.count, hash: TextUnits.hash(key)) }
    }

    /// The payload of the slot `index` that `find` returned.
    @inline(__always)
    func payload(_ index: Int) -> Payload { raw.payload(index) }

    /// The number of scalars of the key in slot `index`.
    func length(of index: Int) -> Int { raw.length(of: index) }
}

/// A `ScalarTable` as pointers into its pinned memory: a plain value (no reference counting when
/// copied), valid while the table lives.
struct RawScalarTable<Payload: Sendable>: @unchecked Sendable {
    let slotBase: UnsafePointer<ScalarTable<Payload>.Slot>
    let arenaBase: UnsafePointer<UInt32>
    /// A blocked Bloom filter over the key hashes (two bits in one 64-bit word per key, 32 KB at
    /// most): most words of a text are in no list and are turned away with one memory read.
    let bloomBase: UnsafePointer<UInt64>
    /// Bits for the hashes of every prefix of every key (when built `withPrefixes`), so that a search
    /// growing a candidate one scalar at a time stops as soon as no key can start with it.
    let prefixBase: UnsafePointer<UInt64>
    /// Bits for the hash of each key's first `startLength` scalars (all of a shorter key's), when
    /// built `withPrefixes`: a sharper test than `prefixBase` for whether a word starts with some
    /// key, since many more words share their first three scalars with some key than their first
    /// four.
    let startBase: UnsafePointer<UInt64>
    /// Bits for the first three scalars of every key of three or more (when built `withPrefixes`),
    /// indexed by the low five bits of each (`trigram`): the first test of `mayStartThreeOrMore`,
    /// a few loads and shifts where the hashes of the other tests take a multiplication a scalar.
    let trigramBase: UnsafePointer<UInt64>
    let mask: Int
    let bloomShift: UInt64
    let lengthMask: UInt64
    let maxLength: Int

    static var prefixBitCount: UInt64 { 1 << 16 }
    static var startLength: Int { 4 }
    static var trigramBitCount: Int { 1 << 15 }

    /// The bit of `trigramBase` for keys that start with `a`, `b`, `c` (ASCII letters get bits of
    /// their own; other scalars share them).
    @inline(__always)
    static func trigram(_ a: UInt32, _ b: UInt32, _ c: UInt32) -> Int {
        Int(truncatingIfNeeded: (a & 31) << 10 | (b & 31) << 5 | (c & 31))
    }

    /// The hash's bits spread over the word (FNV-1a's low bits depend only on the scalars' low bits).
    @inline(__always)
    static func mix(_ hash: UInt64) -> UInt64 { (hash ^ (hash >> 32)) &* 0x9E37_79B9_7F4A_7C15 }

    @inline(__always)
    func mayHavePrefix(_ hash: UInt64) -> Bool {
        let bit = Self.mix(hash) >> 48
        return prefixBase[Int(bit >> 6)] & (1 << (bit & 63)) != 0
    }

    /// False when no key of at least three scalars is a prefix of the `count` scalars at `key`
    /// (`count` >= 3; true may be a false positive). Only for tables built `withPrefixes`.
    /// Most words fail the first tests (no key starts with their first three scalars: by their low
    /// bits, then by their hash); of the rest, most fail the last (no key of four or more starts with their first four, nor is a key of
    /// three their first three).
    @inline(__always)
    func mayStartThreeOrMore(_ key: UnsafePointer<UInt32>, _ count: Int) -> Bool {
        let t = Self.trigram(key[0], key[1], key[2])
        guard trigramBase[t >> 6] & (1 << UInt64(t & 63)) != 0 else { return false }
        let h3 = TextUnits.hash(TextUnits.hash(TextUnits.hash(TextUnits.hashStart(), key[0]), key[1]), key[2])
        let bit3 = Self.mix(h3) >> 48
        guard prefixBase[Int(bit3 >> 6)] & (1 << (bit3 & 63)) != 0 else { return false }
        if count >= 4 {
            let bit4 = Self.mix(TextUnits.hash(h3, key[3])) >> 48
            if startBase[Int(bit4 >> 6)] & (1 << (bit4 & 63)) != 0 { return true }
        }
        return lengthMask & (1 << 3) != 0 && startBase[Int(bit3 >> 6)] & (1 << (bit3 & 63)) != 0
    }

    @inline(__always)
    func find(_ key: UnsafePointer<UInt32>, _ count: Int, hash: UInt64) -> Int {
        let m = Self.mix(hash)
        // (masking shift and truncating conversion: `bloomShift` is below 64 and the result fits,
        // so the checks of `>>` and `Int(_:)` would only cost instructions)
        let word = bloomBase[Int(truncatingIfNeeded: m &>> bloomShift)]
        let bits: UInt64 = 1 << ((m >> 20) & 63) | 1 << ((m >> 26) & 63)
        guard word & bits == bits else { return -1 }
        var slot = Int(truncatingIfNeeded: m) & mask
        while true {
            let entry = slotBase[slot]
            if entry.length < 0 { return -1 }
            if entry.hash == hash && Int(entry.length) == count {
                let stored = arenaBase + Int(entry.start)
                var k = 0
                while k < count && stored[k] == key[k] { k += 1 }
                if k == count { return slot }
            }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always)
    func payload(_ index: Int) -> Payload { slotBase[index].payload! }

    @inline(__always)
    func length(of index: Int) -> Int { Int(slotBase[index].length) }
}

/// A cheap first test for the stem tables: the pairs of scalars (by their low bytes) that start
/// (or end) some key, as bits. A word whose first (last) two scalars are no such pair has no stem of
/// the table at its start (end), so the per-length probes are skipped.
struct PairGate: @unchecked Sendable {
    private let store: PinnedBuffer<UInt64>
    /// The bits as a plain value (no reference counting when copied), valid while the gate lives.
    let raw: RawPairGate

    init(_ pairs: some Sequence<(UInt32, UInt32)>) {
        var bits = [UInt64](repeating: 0, count: 1024)
        for (a, b) in pairs {
            let index = RawPairGate.index(a, b)
            bits[index >> 6] |= 1 << UInt64(index & 63)
        }
        store = PinnedBuffer(bits)
        raw = RawPairGate(bits: UnsafePointer(store.base))
    }

    /// False when no key starts (ends) with `a` then `b`.
    @inline(__always)
    func contains(_ a: UInt32, _ b: UInt32) -> Bool { raw.contains(a, b) }
}

struct RawPairGate: @unchecked Sendable {
    let bits: UnsafePointer<UInt64>

    @inline(__always)
    static func index(_ a: UInt32, _ b: UInt32) -> Int { Int((a & 0xFF) << 8 | (b & 0xFF)) }

    @inline(__always)
    func contains(_ a: UInt32, _ b: UInt32) -> Bool {
        let index = Self.index(a, b)
        return bits[index >> 6] & (1 << UInt64(index & 63)) != 0
    }
}

/// A run of entries in `Lexicon.termIndex`.
struct TermRange: Sendable {
    var start: Int32 = 0
    var count: Int32 = 0
}

/// What a word (lower-cased) is known as.
struct WordFlags: OptionSet, Sendable, Hashable {
    let rawValue: UInt32
    static let given = WordFlags(rawValue: 1 << 0)
    static let surname = WordFlags(rawValue: 1 << 1)
    /// An ordinary word normally written in lowercase ("will", "rosa", "luz").
    static let stopWord = WordFlags(rawValue: 1 << 2)
    /// A capitalized common noun, month or weekday ("Rose", "Wolf", "Mai").
    static let stopNoun = WordFlags(rawValue: 1 << 3)
    static let title = WordFlags(rawValue: 1 << 4)
    static let cue = WordFlags(rawValue: 1 << 5)
    static let honorific = WordFlags(rawValue: 1 << 6)
    static let determiner = WordFlags(rawValue: 1 << 7)
    static let particle = WordFlags(rawValue: 1 << 8)
    static let phoneContext = WordFlags(rawValue: 1 << 9)
    static let birthContext = WordFlags(rawValue: 1 << 10)
    static let idContext = WordFlags(rawValue: 1 << 11)
    static let firstPerson = WordFlags(rawValue: 1 << 12)
    static let month = WordFlags(rawValue: 1 << 13)
    /// A German function word: the field is German, so capitalization says nothing about nouns.
    static let germanFunction = WordFlags(rawValue: 1 << 14)
    /// The name of a language ("German", "Deutsch", "español"): never a person's name, though some
    /// are also surnames somewhere ("learning German", "A2 German exam").
    static let language = WordFlags(rawValue: 1 << 15)
    /// A field label a name follows ("Nombre:", "Apellidos:", "Name:", "名前：").
    static let nameLabel = WordFlags(rawValue: 1 << 16)
    /// A street type ("Calle", "Rue", "Street", "St", "Straße", "ul.").
    static let street = WordFlags(rawValue: 1 << 17)
    /// A word that makes the capitalized words beside it a place or an organization, not a person
    /// ("Hospital", "Universidad", "Inc", "GmbH"; street types count too).
    static let institution = WordFlags(rawValue: 1 << 18)
    /// A field label an address follows ("Domicilio:", "Address:", "Anschrift:").
    static let addressLabel = WordFlags(rawValue: 1 << 19)
    /// A label a postcode follows ("CP", "ZIP", "PLZ").
    static let postcodeLabel = WordFlags(rawValue: 1 << 20)
    /// A verb a name follows ("called", "me llamo", "ich heiße", "je m'appelle").
    static let nameIntro = WordFlags(rawValue: 1 << 21)
    /// A street type written after the street's name ("Main Street", "Berliner Straße", "Atatürk Caddesi").
    static let streetAfter = WordFlags(rawValue: 1 << 22)
    /// A flat or post-box word a number follows ("Suite 501", "Apt. 4", "Postfach 12 34").
    static let addressUnit = WordFlags(rawValue: 1 << 23)

    static let name: WordFlags = [.given, .surname]
    static let stop: WordFlags = [.stopWord, .stopNoun]

    static let contextClasses: [String: WordFlags] = [
        "title": .title, "cue": .cue, "honorific": .honorific, "determiner": .determiner, "particle": .particle,
        "phone": .phoneContext, "birth": .birthContext, "id": .idContext, "first_person": .firstPerson,
        "function": .germanFunction, "name_label": .nameLabel, "street": .street, "institution": .institution,
        "address_label": .addressLabel, "postcode_label": .postcodeLabel, "name_intro": .nameIntro,
        "street_after": [.street, .streetAfter], "address_unit": .addressUnit,
    ]
    /// `street_suffix` entries are the ends of compound street names ("…straße", "…gatan"), kept
    /// apart (`Lexicon.streetSuffixes`), not words.
}

/// One special-category entry of `Wordlists/special/<category>/<lang>.txt`.
struct SpecialTerm: Sendable {
    enum Category: UInt8, Sendable, CaseIterable {
        case health, religion, politics
        var name: String { ["health", "religion", "politics"][Int(rawValue)] }
    }

    struct Part: Sendable {
        var key: [UInt32]
        var isStem: Bool
    }

    var category: Category
    var weight: Double
    /// For `=Term` entries: the exact scalars the text must have.
    var exactForm: [UInt32]?
    /// For phrases: the words after the first.
    var rest: [Part]
}

struct WordInfo: Sendable {
    var flags: WordFlags = []
    /// Entries of `Lexicon.termIndex` naming the terms whose (first) word is exactly this word.
    var terms = TermRange()
}

/// All word lists, loaded once: names, stop lists, context words and special-category terms.
struct Lexicon: @unchecked Sendable {
    /// The term numbers of `range`.
    @inline(__always)
    func terms(_ range: TermRange) -> UnsafeBufferPointer<Int32> {
        UnsafeBufferPointer(start: termIndexBase + Int(range.start), count: Int(range.count))
    }

    let words: ScalarTable<WordInfo>
    /// The entries of `words` that matter for a word written in lowercase: context words (with any
    /// flag but name and stop-list flags) and the first words of special terms. Much smaller than
    /// `words`, whose names and stop words count only for capitalized words (see `Scanner.tokenize`).
    let common: ScalarTable<WordInfo>
    let prefixStems: ScalarTable<TermRange>
    let suffixStems: ScalarTable<TermRange>
    /// First tests for the stem tables (see `Scanner.tokenize`).
    let prefixPairs: PairGate
    let suffixPairs: PairGate
    /// CJK entries (names, honorifics, context words, terms), matched as substrings.
    let cjk: ScalarTable<WordInfo>
    let terms: [SpecialTerm]
    /// Term numbers, in runs that `TermRange`s point to.
    private let termIndexStore: PinnedBuffer<Int32>
    /// `termIndexStore`'s elements, read without reference counting.
    let termIndexBase: UnsafePointer<Int32>
    /// Lower-cased month names for written dates.
    let months: [String: Int]
    /// The lower-cased UTF-8 ends of compound street names ("straße", "gatan", "straat"), longest first.
    let streetSuffixes: [[UInt8]]
    /// The tables the tokenizer reads for every word, behind one pointer (see `TokenizerTables`).
    private let tokenizerStore: PinnedBuffer<TokenizerTables>
    let tokenizerTables: UnsafePointer<TokenizerTables>

    /// Suffix stems shorter than this are not looked up.
    static let minimumSuffix = 3

    static func load(from data: DataDirectory, configuration: ScannerConfiguration) throws -> Lexicon {
        var builder = Builder()
        for lang in configuration.nameLanguages {
            try builder.addNames(data, "Wordlists/names/\(lang)/given.txt", flag: .given)
            try builder.addNames(data, "Wordlists/names/\(lang)/surnames.txt", flag: .surname)
            let stop = "Wordlists/stop/\(lang).txt"
            if data.exists(stop) { try builder.addStopWords(data, stop) }
            let context = "Wordlists/context/\(lang).txt"
            if data.exists(context) { try builder.addContext(data, context) }
        }
        let places = "Wordlists/stop/places.txt"
        if data.exists(places) { try builder.addStopWords(data, places) }
        let languages = "Wordlists/stop/languages.txt"
        if data.exists(languages) { try builder.addNames(data, languages, flag: .language) }
        for lang in configuration.specialLanguages {
            for category in SpecialTerm.Category.allCases {
                let path = "Wordlists/special/\(category.name)/\(lang).txt"
                guard data.exists(path) else { continue }
                try builder.addTerms(data, path, category: category, defaultWeight: configuration.special.defaultWeight)
            }
        }
        for (month, _) in configuration.monthNames { builder.insert(TextUnits.lowerScalars(month), flags: .month) }
        // Flatten the term lists into one index array.
        var termIndex: [Int32] = []
        func flatten(_ lists: [Int32]) -> TermRange {
            let range = TermRange(start: Int32(termIndex.count), count: Int32(lists.count))
            termIndex += lists
            return range
        }
        var words: [[UInt32]: WordInfo] = [:]
        for (key, info) in builder.words { words[key] = WordInfo(flags: info.flags, terms: flatten(info.terms)) }
        var cjk: [[UInt32]: WordInfo] = [:]
        for (key, info) in builder.cjk { cjk[key] = WordInfo(flags: info.flags, terms: flatten(info.terms)) }
        let prefix = builder.prefix.mapValues(flatten)
        let suffix = builder.suffix.mapValues(flatten)
        let lowercaseFlags = WordFlags(rawValue: ~(WordFlags.name.rawValue | WordFlags.stop.rawValue))
        let common = words.filter { !$0.value.flags.isDisjoint(with: lowercaseFlags) || $0.value.terms.count > 0 }
        return Lexicon(words: ScalarTable(words), common: ScalarTable(common), prefixStems: ScalarTable(prefix, withPrefixes: true),
                       suffixStems: ScalarTable(suffix),
                       prefixPairs: PairGate(prefix.keys.filter { $0.count >= 2 }.map { ($0[0], $0[1]) }),
                       suffixPairs: PairGate(suffix.keys.filter { $0.count >= Lexicon.minimumSuffix }
                           .map { ($0[$0.count - 2], $0[$0.count - 1]) }),
                       cjk: ScalarTable(cjk, withPrefixes: true), terms: builder.terms, termIndex: termIndex, months: configuration.monthNames,
                       streetSuffixes: builder.streetSuffixes.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) })
    }

    init(words: ScalarTable<WordInfo>, common: ScalarTable<WordInfo>, prefixStems: ScalarTable<TermRange>,
         suffixStems: ScalarTable<TermRange>, prefixPairs: PairGate, suffixPairs: PairGate, cjk: ScalarTable<WordInfo>,
         terms: [SpecialTerm], termIndex: [Int32], months: [String: Int], streetSuffixes: [[UInt8]] = []) {
        self.streetSuffixes = streetSuffixes
        self.words = words
        self.common = common
        self.prefixStems = prefixStems
        self.suffixStems = suffixStems
        self.prefixPairs = prefixPairs
        self.suffixPairs = suffixPairs
        self.cjk = cjk
        self.terms = terms
        termIndexStore = PinnedBuffer(termIndex)
        termIndexBase = UnsafePointer(termIndexStore.base)
        self.months = months
        tokenizerStore = PinnedBuffer([TokenizerTables(
            words: words.raw, common: common.raw, prefix: prefixStems.raw, suffix: suffixStems.raw,
            prefixPairs: prefixPairs.raw, suffixPairs: suffixPairs.raw, termBase: termIndexBase,
            asciiWord: AsciiWord.table, asciiLowerAndBits: AsciiWord.lowerAndBits, wordTable: TextUnits.wordTable)])
        tokenizerTables = UnsafePointer(tokenizerStore.base)
    }

    struct BuilderInfo {
        var flags: WordFlags = []
        var terms: [Int32] = []
    }

    struct Builder {
        var words: [[UInt32]: BuilderInfo] = [:]
        var cjk: [[UInt32]: BuilderInfo] = [:]
        var prefix: [[UInt32]: [Int32]] = [:]
        var suffix: [[UInt32]: [Int32]] = [:]
        var terms: [SpecialTerm] = []
        var streetSuffixes = Set<[UInt8]>()

        static func isCJK(_ key: [UInt32]) -> Bool {
            guard let first = key.first else { return false }
            return TextUnits.charClass(first) == .cjk
        }

        mutating func insert(_ key: [UInt32], flags: WordFlags) {
            if Self.isCJK(key) {
                cjk[key, default: BuilderInfo()].flags.formUnion(flags)
            } else {
                words[key, default: BuilderInfo()].flags.formUnion(flags)
            }
        }

        static func fileName(_ path: String) -> Substring { path.split(separator: "/").last ?? Substring(path) }

        static func lines(_ data: DataDirectory, _ path: String) throws -> [String] {
            guard let bytes = data.contents(path), let text = String(data: bytes, encoding: .utf8) else {
                throw ScannerConfigurationError("cannot read the word list \(data.describe(path))")
            }
            return lines(of: text)
        }

        /// The entries of a word list: its lines without the spaces and tabs around them, in NFC,
        /// leaving out empty lines and comments (`#`). Read scalar by scalar: Foundation's trimming
        /// and normalization of every line took most of the scanner's start-up.
        static func lines(of text: String) -> [String] {
            text.unicodeScalars.split(whereSeparator: isLineBreak).compactMap { line in
                guard let first = line.firstIndex(where: { !isSpace($0) }) else { return nil }
                let last = line.lastIndex(where: { !isSpace($0) })!
                let trimmed = line[first..<line.index(after: last)]
                if trimmed.first == "#" { return nil }
                let entry = String(String.UnicodeScalarView(trimmed))
                // Scalars below U+0300 (before the combining marks) have nothing to compose: NFC already.
                return trimmed.allSatisfy({ $0.value < 0x300 }) ? entry : entry.precomposedStringWithCanonicalMapping
            }
        }

        /// What `Character.isNewline` breaks lines at (a CR LF pair leaves an empty line, left out).
        private static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x0A...0x0D, 0x85, 0x2028, 0x2029: true
            default: false
            }
        }

        /// Foundation's `.whitespaces`: tab and the space separators.
        private static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator
        }

        mutating func addNames(_ data: DataDirectory, _ path: String, flag: WordFlags) throws {
            for line in try Self.lines(data, path) { insert(TextUnits.lowerScalars(line), flags: flag) }
        }

        mutating func addStopWords(_ data: DataDirectory, _ path: String) throws {
            for line in try Self.lines(data, path) {
                let capitalized = line.unicodeScalars.first.map { TextUnits.isUpper($0.value) } ?? false
                insert(TextUnits.lowerScalars(line), flags: capitalized ? .stopNoun : .stopWord)
            }
        }

        mutating func addContext(_ data: DataDirectory, _ path: String) throws {
            for (number, line) in try Self.lines(data, path).enumerated() {
                let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
                if parts.count == 2 && parts[0] == "street_suffix" {
                    let suffix = parts[1].trimmingCharacters(in: .whitespaces).lowercased()
                    if !suffix.isEmpty { streetSuffixes.insert(Array(suffix.utf8)) }
                    continue
                }
                guard parts.count == 2, let flag = WordFlags.contextClasses[parts[0]] else {
                    throw ScannerConfigurationError("\(Self.fileName(path)): entry \(number + 1) is not \"class<TAB>word\" with a known class")
                }
                insert(TextUnits.lowerScalars(parts[1].trimmingCharacters(in: .whitespaces)), flags: flag)
            }
        }

        mutating func addTerms(_ data: DataDirectory, _ path: String, category: SpecialTerm.Category, defaultWeight: Double) throws {
            for line in try Self.lines(data, path) {
                let parts = line.split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) }
                var entry = parts[0]
                var weight = defaultWeight
                if parts.count > 1 {
                    guard let w = Double(parts[1]), (0...1).contains(w) else {
                        throw ScannerConfigurationError("\(category.name)/\(Self.fileName(path)): a weight is a number between 0 and 1")
                    }
                    weight = w
                }
                var exact = false
                if entry.hasPrefix("=") { exact = true; entry.removeFirst() }
                let scalars = TextUnits.scalars(entry)
                if Self.isCJK(scalars) {
                    let key = scalars.filter { $0 != 0x2A }
                    cjk[key, default: BuilderInfo()].terms.append(Int32(terms.count))
                    terms.append(SpecialTerm(category: category, weight: weight, exactForm: nil, rest: []))
                    continue
                }
                // Hyphens and apostrophes separate words in the text, so they separate phrase parts too.
                let wordsOfEntry = entry.split(whereSeparator: { $0 == " " || $0 == "-" || $0 == "'" || $0 == "’" })
                    .map(String.init)
                guard let first = wordsOfEntry.first else { continue }
                let rest = wordsOfEntry.dropFirst().map { part -> SpecialTerm.Part in
                    let stem = part.hasSuffix("*")
                    return SpecialTerm.Part(key: TextUnits.lowerScalars(stem ? String(part.dropLast()) : part), isStem: stem)
                }
                let term = SpecialTerm(category: category, weight: weight,
                                       exactForm: exact ? TextUnits.scalars(first) : nil, rest: Array(rest))
                let index = Int32(terms.count)
                terms.append(term)
                if first.hasPrefix("*") && first.count > 1 && !first.hasSuffix("*") {
                    suffix[TextUnits.lowerScalars(String(first.dropFirst())), default: []].append(index)
                } else if first.hasSuffix("*") && first.count > 1 && !first.hasPrefix("*") {
                    prefix[TextUnits.lowerScalars(String(first.dropLast())), default: []].append(index)
                } else if first.contains("*") {
                    throw ScannerConfigurationError("\(category.name)/\(Self.fileName(path)): \"*\" goes at the start or the end of a word")
                } else {
                    words[TextUnits.lowerScalars(first), default: BuilderInfo()].terms.append(index)
                }
            }
        }
    }
}
