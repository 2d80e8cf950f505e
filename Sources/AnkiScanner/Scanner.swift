import AnkiPCRE2
import AnkiReader
import AnkiSubmission
import Foundation

/// The personal-data and special-category scanner. Built once from `Config/scanner/` and
/// `Wordlists/` (patterns compiled with PCRE2 JIT, word lists hashed), then safe to use from any
/// thread. Scanning never throws: hostile text (huge fields, backtracking bait, NUL bytes, broken
/// UTF-8) is bounded by windows and PCRE2 match limits, and a window a pattern gives up on is
/// skipped rather than reported. Nothing here logs or prints card text.
public final class Scanner: Sendable {
    let configuration: ScannerConfiguration
    let lexicon: Lexicon
    let patterns: CompiledPatterns
    let cjkStarts: ScalarSet

    /// Findings below this score are left out (`Config/scanner/scanner.json`, `min_score`, unless
    /// overridden at init).
    public let minimumScore: Double

    /// Above this many notes with special-category findings the participant must see the extra
    /// notice and confirm (`special_category_threshold`).
    public var specialCategoryThreshold: Int { configuration.specialCategoryThreshold }

    /// Loads the configuration and word lists from `dataDirectory` (see `DataDirectory.locate`).
    /// Throws `ScannerConfigurationError` naming the file when something is missing or malformed.
    public init(dataDirectory: DataDirectory, minimumScore: Double? = nil) throws {
        let configuration = try ScannerConfiguration.load(from: dataDirectory)
        self.configuration = configuration
        let lexicon = try Lexicon.load(from: dataDirectory, configuration: configuration)
        self.lexicon = lexicon
        patterns = try CompiledPatterns(configuration)
        cjkStarts = ScalarSet(lexicon.cjk.firstScalars)
        self.minimumScore = minimumScore ?? configuration.minScore
    }

    // MARK: - Public scanning API

    /// Findings in one note field (HTML with cloze markup); offsets are into `field`'s UTF-8.
    public func scan(field: String, index: Int, minimumScore: Double? = nil) -> [Finding] {
        let threshold = minimumScore ?? self.minimumScore
        // A native string's bytes are read where they are (no copy, no reference counting); another
        // string is made contiguous first.
        if let findings = field.utf8.withContiguousStorageIfAvailable({
            scan(bytes: $0, field: index, mode: .html, minimumScore: threshold)
        }) {
            return findings
        }
        var copy = field
        return copy.withUTF8 { scan(bytes: $0, field: index, mode: .html, minimumScore: threshold) }
    }

    /// Findings in raw field bytes that may not be valid UTF-8 (invalid bytes are read as spaces,
    /// so offsets still point into `bytes`).
    public func scan(fieldBytes bytes: [UInt8], index: Int, minimumScore: Double? = nil) -> [Finding] {
        let repaired = Self.repairUTF8(bytes)
        return repaired.withUnsafeBufferPointer {
            scan(bytes: $0, field: index, mode: .html, minimumScore: minimumScore ?? self.minimumScore)
        }
    }

    /// Findings in every field of `note` and in its tags (field `Finding.tagsField`).
    public func scan(note: Note, minimumScore: Double? = nil) -> [Finding] {
        var findings: [Finding] = []
        for (index, field) in note.fields.enumerated() where !field.isEmpty {
            findings += scan(field: field, index: index, minimumScore: minimumScore)
        }
        if !note.tags.isEmpty {
            findings += scanText(note.tags, field: Finding.tagsField, minimumScore: minimumScore)
        }
        return findings
    }

    /// Findings in plain text: the survey's free text (`Finding.surveyField`), a media file name
    /// (`Finding.mediaNameField`) or tags (`Finding.tagsField`). Tags and file names are read as
    /// identifiers: `_` and `:` separate words, and names count in lowercase too.
    public func scanText(_ text: String, field: Int, minimumScore: Double? = nil) -> [Finding] {
        var copy = text
        let mode: VisibleText.Mode = field == Finding.tagsField || field == Finding.mediaNameField ? .identifier : .plain
        return copy.withUTF8 { scan(bytes: $0, field: field, mode: mode, minimumScore: minimumScore ?? self.minimumScore) }
    }

    /// The media file names a field refers to (`[sound:x]`, `<img src="x">`).
    public func mediaReferences(in field: String) -> [String] {
        var copy = field
        return copy.withUTF8 { p in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: p.count) { buffer in
                VisibleText(p, mode: .html, buffer: buffer.baseAddress!).mediaReferences.map { TextUnits.string(p, $0) }
            }
        }
    }

    // MARK: - Pipeline

    struct Candidate {
        var range: Range<Int>
        var kind: String
        var category: Finding.Category
        var score: Double
        var detector: String
        /// Lower wins when PII candidates overlap.
        var priority: Int
    }

    func scan(bytes source: UnsafeBufferPointer<UInt8>, field: Int, mode: VisibleText.Mode,
              minimumScore: Double) -> [Finding] {
        var references: [String]? = nil
        return scan(bytes: source, field: field, mode: mode, minimumScore: minimumScore, references: &references)
    }

    /// A field's findings and (when `references` is not nil) the media file names it refers to.
    func scanFieldAndMedia(_ field: String, index: Int, minimumScore: Double) -> (findings: [Finding], media: [String]) {
        var copy = field
        var references: [String]? = []
        let findings = copy.withUTF8 {
            scan(bytes: $0, field: index, mode: .html, minimumScore: minimumScore, references: &references)
        }
        return (findings, references ?? [])
    }

    func scan(bytes source: UnsafeBufferPointer<UInt8>, field: Int, mode: VisibleText.Mode,
              minimumScore: Double, references: inout [String]?) -> [Finding] {
        guard !source.isEmpty else { return [] }
        // The visible text (never longer than the source), the tokens, the CJK runs and the lexicon
        // hits live in buffers this thread reuses from field to field; a huge field gets buffers of
        // its own, freed after it.
        let ownScratch = source.count > ScanScratch.keptBytes
        let scratch = ownScratch ? ScanScratch.make(capacity: source.count) : ScanScratch.current()
        defer { if ownScratch { ScanScratch.release(scratch) } }
        let visible = VisibleText(source, mode: mode, buffer: scratch.pointee.bytes(source.count))
        if references != nil && !visible.mediaReferences.isEmpty {
            references = visible.mediaReferences.map { TextUnits.string(source, $0) }
        }
        let text = visible.text
        let tokenBuffer = scratch.pointee.tokens(TokenizedText.capacity(source.count))
        let runs = scratch.pointee.runs(CJKRunBuffer.capacity(source.count))
        // (the hit lists keep their capacity from field to field: no allocation for most fields)
        defer { scratch.pointee.hits.clear() }
        var tokens = tokenize(text, identifier: mode == .identifier, into: tokenBuffer, runs: runs, hits: &scratch.pointee.hits)
        tokens.cjkHits = scratch.pointee.hits.cjk.buffer
        tokens.termHits = scratch.pointee.hits.terms.buffer
        return candidates(text, tokens, visible: visible, source: source, field: field, mode: mode, minimumScore: minimumScore)
    }

    private func candidates(_ text: UnsafeBufferPointer<UInt8>, _ tokens: TokenizedText, visible: VisibleText,
                            source: UnsafeBufferPointer<UInt8>, field: Int, mode: VisibleText.Mode,
                            minimumScore: Double) -> [Finding] {
        // Most fields give no detector anything to start from: skip making their empty lists.
        guard tokens.mayHavePatterns || tokens.mayHaveNames || tokens.mayHaveTerms else { return [] }
        var pii = patternCandidates(text, tokens: tokens)
        // (addresses have a number in them: no digit, no address)
        if tokens.mayHavePatterns && tokens.hasDigit && mode != .identifier {
            let addresses = addressCandidates(text, tokens: tokens)
            if !addresses.isEmpty { pii += addresses }
        }
        if pii.count > 1 { pii = resolveOverlaps(pii) }
        let names = nameCandidates(text, tokens: tokens, claimed: pii, identifier: mode == .identifier)
        // (pii is already free of overlaps: resolving it again would change nothing)
        if !names.isEmpty { pii = resolveOverlaps(pii + names) }
        let special = specialCandidates(text, tokens: tokens)
        guard !pii.isEmpty || !special.isEmpty else { return [] }
        var findings: [Finding] = []
        var map: VisibleText.OriginMap?
        func report(_ candidate: Candidate) {
            guard candidate.score >= minimumScore && candidate.score > 0 else { return }
            if map == nil {
                // (only as far as the last candidate reaches)
                let end = max(pii.map(\.range.upperBound).max() ?? 0, special.map(\.range.upperBound).max() ?? 0)
                map = visible.originMap(source, upTo: end)
            }
            let original = map!.originalRange(candidate.range)
            findings.append(Finding(kind: candidate.kind, category: candidate.category,
                                    text: TextUnits.string(text, candidate.range), field: field,
                                    start: original.lowerBound, end: original.upperBound,
                                    score: min(candidate.score, 0.99), detector: candidate.detector))
        }
        for candidate in pii { report(candidate) }
        for candidate in special { report(candidate) }
        if findings.count > 1 { findings.sort { ($0.start, $0.end, $0.kind) < ($1.start, $1.end, $1.kind) } }
        return findings
    }

    /// Keeps, among overlapping candidates, the one with the lowest priority (then highest score).
    func resolveOverlaps(_ candidates: [Candidate]) -> [Candidate] {
        guard candidates.count > 1 else { return candidates }
        let ordered = candidates.sorted {
            ($0.priority, -$0.score, $0.range.lowerBound) < ($1.priority, -$1.score, $1.range.lowerBound)
        }
        var accepted: [Candidate] = []
        if candidates.count <= 32 {
            for candidate in ordered where !accepted.contains(where: { $0.range.overlaps(candidate.range) }) {
                accepted.append(candidate)
            }
        } else {
            // Many candidates (hostile or huge fields): mark taken bytes instead of comparing pairs.
            let limit = (candidates.map(\.range.upperBound).max() ?? 0)
            var taken = [Bool](repeating: false, count: limit)
            for candidate in ordered where !candidate.range.contains(where: { taken[$0] }) {
                for q in candidate.range { taken[q] = true }
                accepted.append(candidate)
            }
        }
        return accepted.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    /// The first index in `0..<count` for which `predicate` holds (it must be monotonic).
    func firstIndex(_ count: Int, where predicate: (Int) -> Bool) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if predicate(mid) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// Invalid UTF-8 bytes become spaces (same length, so offsets stay valid).
    static func repairUTF8(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        bytes.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                let (s, len) = TextUnits.decode(p, i)
                if s == 0xFFFD && len == 1 && !(p[i] == 0xEF && i + 2 < p.count && p[i + 1] == 0xBF && p[i + 2] == 0xBD) {
                    out[i] = UInt8(ascii: " ")
                }
                i += len
            }
        }
        return out
    }

    // MARK: - Context

    /// True when a word with one of `flags` stands within the context window before `position`
    /// (or, with `after`, after it).
    func hasContext(_ flags: WordFlags, _ tokens: TokenizedText, before position: Int, after end: Int? = nil) -> Bool {
        let window = configuration.limits.contextBytes
        let low = position - window
        // Tokens are in text order: binary search for the first token ending after `low`.
        var lo = 0, hi = tokens.tokens.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if tokens.tokens[mid].end <= low { lo = mid + 1 } else { hi = mid }
        }
        var k = lo
        while k < tokens.tokens.count {
            let token = tokens.tokens[k]
            if token.start >= position { break }
            if !token.flags.isDisjoint(with: flags) { return true }
            k += 1
        }
        if let end {
            while k < tokens.tokens.count && tokens.tokens[k].start < end { k += 1 }
            while k < tokens.tokens.count && tokens.tokens[k].start <= end + window / 2 {
                if !tokens.tokens[k].flags.isDisjoint(with: flags) { return true }
                k += 1
            }
        }
        var h = firstIndex(tokens.cjkHits.count) { tokens.cjkHits[$0].start >= low }
        while h < tokens.cjkHits.count && tokens.cjkHits[h].start < position {
            let hit = tokens.cjkHits[h]
            if hit.end <= position && !hit.flags.isDisjoint(with: flags) { return true }
            h += 1
        }
        return false
    }
}


/// Buffers for the visible text, the tokens and the CJK runs of one field, and its lexicon hits,
/// kept per thread so that scanning a field allocates nothing for them (most fields are short, and
/// allocating and freeing them cost more than tokenizing). Grown as needed up to `keptBytes` of
/// text; freed when the thread ends. A larger field gets buffers of its own (`make(capacity:)`),
/// freed after it. Reached through a plain pointer: a field costs no reference counting for them.
struct ScanScratch {
    /// Fields up to this many bytes use the thread's buffers (larger ones get their own).
    static let keptBytes = 1 << 16

    private var byteBuffer: UnsafeMutablePointer<UInt8>
    private var byteCapacity: Int
    private var tokenBuffer: UnsafeMutablePointer<Token>
    private var tokenCapacity: Int
    private var scalarBuffer: UnsafeMutablePointer<UInt32>
    private var offsetBuffer: UnsafeMutablePointer<Int>
    private var runCapacity: Int
    /// The lexicon hits of the field being scanned, empty between fields.
    var hits = HitStore()

    /// Buffers for a text of `capacity` bytes.
    private init(capacity: Int) {
        byteCapacity = capacity
        byteBuffer = .allocate(capacity: byteCapacity)
        tokenCapacity = TokenizedText.capacity(byteCapacity)
        tokenBuffer = .allocate(capacity: tokenCapacity)
        runCapacity = CJKRunBuffer.capacity(byteCapacity)
        scalarBuffer = .allocate(capacity: runCapacity)
        offsetBuffer = .allocate(capacity: runCapacity)
    }

    /// Room for `count` bytes (contents undefined).
    @inline(__always)
    mutating func bytes(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        if count > byteCapacity {
            byteBuffer.deallocate()
            byteCapacity = max(count, byteCapacity * 2)
            byteBuffer = .allocate(capacity: byteCapacity)
        }
        return byteBuffer
    }

    /// Room for `count` tokens (uninitialized; `Token` is a plain value).
    @inline(__always)
    mutating func tokens(_ count: Int) -> UnsafeMutableBufferPointer<Token> {
        if count > tokenCapacity {
            tokenBuffer.deallocate()
            tokenCapacity = max(count, tokenCapacity * 2)
            tokenBuffer = .allocate(capacity: tokenCapacity)
        }
        return UnsafeMutableBufferPointer(start: tokenBuffer, count: count)
    }

    /// Room for `count` CJK scalars and offsets (uninitialized).
    @inline(__always)
    mutating func runs(_ count: Int) -> CJKRunBuffer {
        if count > runCapacity {
            scalarBuffer.deallocate()
            offsetBuffer.deallocate()
            runCapacity = max(count, runCapacity * 2)
            scalarBuffer = .allocate(capacity: runCapacity)
            offsetBuffer = .allocate(capacity: runCapacity)
        }
        return CJKRunBuffer(scalars: scalarBuffer, offsets: offsetBuffer)
    }

    /// Buffers of their own for a field of `capacity` bytes; free them with `release`.
    static func make(capacity: Int = 4096) -> UnsafeMutablePointer<ScanScratch> {
        let scratch = UnsafeMutablePointer<ScanScratch>.allocate(capacity: 1)
        scratch.initialize(to: ScanScratch(capacity: capacity))
        return scratch
    }

    static func release(_ scratch: UnsafeMutablePointer<ScanScratch>) {
        scratch.pointee.byteBuffer.deallocate()
        scratch.pointee.tokenBuffer.deallocate()
        scratch.pointee.scalarBuffer.deallocate()
        scratch.pointee.offsetBuffer.deallocate()
        scratch.pointee.hits.deallocate()
        scratch.deinitialize(count: 1)
        scratch.deallocate()
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { pointer in
            guard let pointer else { return }
            ScanScratch.release(pointer.assumingMemoryBound(to: ScanScratch.self))
        }
        precondition(status == 0, "pthread_key_create failed")
        return key
    }()

    /// This thread's buffers.
    @inline(__always)
    static func current() -> UnsafeMutablePointer<ScanScratch> {
        if let raw = pthread_getspecific(key) { return raw.assumingMemoryBound(to: ScanScratch.self) }
        let scratch = make()
        pthread_setspecific(key, scratch)
        return scratch
    }
}
