/// Given names and surnames, scored for vocabulary cards: a word on a name list counts as a name
/// only with evidence. Capitalization (German capitalizes every noun, so a capitalized German noun
/// proves nothing), a name next to a name, a title or cue word before it ("Herr", "my friend"), a
/// possessive or honorific after it; a determiner before it ("die Rose") or a common-word stop list
/// entry lowers the score. CJK names need a given name or an honorific after the surname.
extension Scanner {
    private static let namePriority = 20

    private struct NameToken {
        var index: Int
        var base: Double
        var isStop: Bool
    }

    /// The members of a chain of name tokens, as far as scoring needs them.
    private struct ChainSummary {
        var count = 1
        /// The highest base score of the members.
        var bestBase: Double
        var allStop: Bool
        var lastIsStop: Bool

        init(_ first: NameToken) {
            bestBase = first.base
            allStop = first.isStop
            lastIsStop = first.isStop
        }

        mutating func add(_ member: NameToken) {
            count += 1
            if member.base > bestBase { bestBase = member.base }  // as `max()` of the list: the first of equals
            allStop = allStop && member.isStop
            lastIsStop = member.isStop
        }
    }

    func nameCandidates(_ text: UnsafeBufferPointer<UInt8>, tokens tokenized: TokenizedText, claimed: [Candidate],
                        identifier: Bool) -> [Candidate] {
        // No word on a name list, no Hangul word, no CJK entry: no name.
        guard tokenized.mayHaveNames else { return [] }
        let s = configuration.names
        let tokens = tokenized.tokens
        var out: [Candidate] = []
        let german = tokenized.flags.contains(.germanFunction)

        // `claimed` is sorted by start and free of overlaps (resolveOverlaps).
        func isClaimed(_ start: Int, _ end: Int) -> Bool {
            let k = firstIndex(claimed.count) { claimed[$0].range.upperBound > start }
            return k < claimed.count && claimed[k].range.lowerBound < end
        }

        /// The name token at `k`, or nil.
        func nameToken(_ k: Int) -> NameToken? {
            let t = tokens[k]
            guard t.hasLetter, !t.hasDigit, !t.isHangul, !t.flags.isDisjoint(with: .name) else { return nil }
            // Function words that are also names somewhere ("Das", "Will", "Ben") are function words.
            // Nor are language names ("learning German").
            guard t.flags.isDisjoint(with: [.determiner, .firstPerson, .particle, .title, .cue, .language]) else { return nil }
            if !identifier {
                switch t.letterCase {
                case .lower: return nil
                case .upper: if t.scalarCount < 3 { return nil }
                case .capitalized: break
                }
            }
            if isClaimed(t.start, t.end) { return nil }
            let given = t.flags.contains(.given)
            var base = given ? s.given : s.surname
            var isStop = false
            // A capitalized German noun that is a lowercase word elsewhere ("Rose"): in German text it is
            // a noun; in other text, mid-sentence capitalization is evidence of a name.
            if t.flags.contains(.stopNoun) && (german || !t.flags.contains(.stopWord)) {
                base = s.commonNoun
                isStop = true
            } else if t.flags.contains(.stopWord) {
                base = identifier ? 0 : (sentenceStart(text, t.start) ? s.commonWordStart : s.commonWordMid)
                isStop = true
            }
            if identifier && !isStop { base = given ? s.tagScore : s.tagScore - 0.2 }
            if !identifier && t.letterCase == .upper { base -= s.upperCasePenalty }  // SHOUTING, acronyms
            return NameToken(index: k, base: base, isStop: isStop)
        }

        func adjacent(_ a: Token, _ b: Token) -> Bool {
            let gap = b.start - a.end
            guard gap >= 1 && gap <= 2 else { return false }
            for q in a.end..<b.start where text[q] != 0x20 && text[q] != UInt8(ascii: "-") { return false }
            return true
        }

        var k = 0
        while k < tokens.count {
            guard let first = nameToken(k) else { k += 1; continue }
            // Grow a chain: names joined by a space or hyphen, with particles ("de", "van") and
            // initials ("L.") allowed between two names. Only what the score needs is kept of the
            // members (no array per chain).
            var members = ChainSummary(first)
            var last = k
            var scan = k + 1
            while scan < tokens.count && !identifier {
                if adjacent(tokens[last], tokens[scan]), let next = nameToken(scan) {
                    members.add(next)
                    last = scan
                    scan += 1
                    continue
                }
                // particle or initial followed by a name
                let t = tokens[scan]
                let isParticle = t.flags.contains(.particle) && t.letterCase == .lower
                let isInitial = t.scalarCount == 1 && t.letterCase == .capitalized && t.end < text.count
                    && text[t.end] == UInt8(ascii: ".")
                if (isParticle || isInitial) && scan + 1 < tokens.count,
                   isInitial ? (t.start - tokens[last].end == 1) : adjacent(tokens[last], t) {
                    let after = scan + 1
                    let gapOK = isInitial ? tokens[after].start - t.end == 2 : adjacent(t, tokens[after])
                    if gapOK, let next = nameToken(after) {
                        members.add(next)
                        last = after
                        scan = after + 1
                        continue
                    }
                }
                break
            }
            // A given name followed by an unknown capitalized word: most likely its surname
            // ("Jens Kreutzmann"), which no list can hold them all.
            var extended = false
            if !identifier, !members.lastIsStop, tokens[last].flags.contains(.given),
               last + 1 < tokens.count {
                let next = tokens[last + 1]
                if adjacent(tokens[last], next), next.letterCase == .capitalized, next.hasLetter, !next.hasDigit,
                   next.scalarCount >= 2, next.flags.isEmpty, !sentenceStart(text, next.start) {
                    last += 1
                    extended = true
                }
            }
            // Inside the name of a street, a hospital, a school or a firm ("Calle Julio Vidal",
            // "Hospital Ramón y Cajal", "Johnson Ltd"): not a person; the rest of that name is skipped.
            if !identifier, placeWord(tokens, before: k, text: text) || placeWord(tokens, after: last) {
                k = endOfPlaceName(tokens, text, from: last + 1)
                continue
            }
            let start = tokens[k].start, end = tokens[last].end
            var score = members.bestBase
            var detector = "names.single"
            if members.count >= 2 {
                score += s.chainBonus
                detector = "names.chain"
            } else if extended {
                score += s.chainBonus / 2
                detector = "names.chain"
            }
            if !identifier {
                if k > 0 {
                    let prev = tokens[k - 1]
                    let gap = start - prev.end
                    if gap <= 3 && prev.flags.contains(.title) {
                        score += s.titleBonus
                        detector = "names.title"
                    } else if gap <= 2 && prev.flags.contains(.determiner) && !prev.flags.contains(.title) {
                        score -= s.determinerPenalty
                    }
                    if hasCue(tokens, before: k, end: start) { score += s.cueBonus }
                }
                if possessive(text, end) { score += s.possessiveBonus }
                // Title Case around it ("Síndrome Coronario Agudo", "Secretly Love"): a heading, not a name.
                if members.allStop, titleCaseNeighbour(text, tokens, before: k, after: last) {
                    score -= s.titleCasePenalty
                }
                if last + 1 < tokens.count, tokens[last + 1].flags.contains(.honorific), tokens[last + 1].start - end <= 2 {
                    score += s.honorificBonus
                }
            }
            // A lone two-letter word ("En", "Li") is too weak alone, whatever the lists say.
            if members.count == 1 && !extended && tokens[k].scalarCount < 3 && detector == "names.single" { score = 0 }
            if score > 0 {
                out.append(Candidate(range: start..<end, kind: "name", category: .pii, score: score, detector: detector,
                                     priority: Self.namePriority))
            }
            k = last + 1
        }
        if !identifier && !tokenized.flags.isDisjoint(with: [.nameLabel, .nameIntro]) {
            labelledNames(text, tokens, claimed: isClaimed, &out)
        }
        if tokenized.hasHangul { koreanNames(text, tokens, &out) }
        cjkNames(text, tokenized.cjkHits, &out)
        return out
    }

    /// A street type or an institution word right before token `k` ("Calle", "C/", "Avda.", "Hospital").
    private func placeWord(_ tokens: UnsafeBufferPointer<Token>, before k: Int, text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard k > 0 else { return false }
        var p = k - 1
        // "Plaza de Verín", "Paseo de la Castellana": particles between
        while p > 0 && k - p <= 2 && tokens[p].flags.contains(.particle) && tokens[p].letterCase == .lower
            && tokens[p + 1].start - tokens[p].end <= 1 {
            p -= 1
        }
        let prev = tokens[p]
        guard tokens[p + 1].start - prev.end <= 3, !prev.flags.isDisjoint(with: [.street, .institution]),
              !prev.flags.contains(.title) else { return false }
        for q in prev.end..<tokens[p + 1].start {
            let c = text[q]
            if c != 0x20 && c != UInt8(ascii: ".") && c != UInt8(ascii: "/") { return false }
        }
        // a lowercase street or institution word ("the clinic Anna runs") names no place
        return prev.letterCase != .lower || prev.scalarCount <= 2
    }

    /// A capitalized street type or institution word right after token `last` ("Vidal Street", "Smith Ltd").
    private func placeWord(_ tokens: UnsafeBufferPointer<Token>, after last: Int) -> Bool {
        guard last + 1 < tokens.count else { return false }
        let next = tokens[last + 1]
        return next.start - tokens[last].end <= 2 && next.letterCase != .lower
            && !next.flags.isDisjoint(with: [.street, .institution]) && !next.flags.contains(.title)
    }

    /// The index after the capitalized words (and "y", "de", "and", "&" between them) from `k` on.
    private func endOfPlaceName(_ tokens: UnsafeBufferPointer<Token>, _ text: UnsafeBufferPointer<UInt8>, from k: Int) -> Int {
        var j = k
        while j < tokens.count && j - k < 6 {
            let t = tokens[j]
            guard t.start - tokens[j - 1].end <= 3 else { break }
            for q in tokens[j - 1].end..<t.start where text[q] != 0x20 && text[q] != UInt8(ascii: "&") && text[q] != UInt8(ascii: "-") {
                return j
            }
            if t.letterCase != .lower && t.hasLetter { j += 1; continue }
            if t.flags.contains(.particle) || t.scalarCount <= 2 || t.flags.contains(.institution) {
                // a connector: only with a capitalized word after it
                if j + 1 < tokens.count && tokens[j + 1].letterCase != .lower { j += 1; continue }
            }
            break
        }
        return j
    }

    /// Words after a field label and a colon ("Nombre: Ana", "Apellidos: Charro Rodrigo",
    /// "Name: Isabel Rolc"), after "name is" ("My name is Rubija") or a verb of naming ("called
    /// Takahito", "me llamo Brodie"): up to four capitalized words, listed or not.
    private func labelledNames(_ text: UnsafeBufferPointer<UInt8>, _ tokens: UnsafeBufferPointer<Token>,
                               claimed: (Int, Int) -> Bool, _ out: inout [Candidate]) {
        let copulas: Set<String> = ["is", "es", "ist", "est", "è", "é", "är", "jest", "was", "era", "war", "était"]
        for var k in tokens.indices where !tokens[k].flags.isDisjoint(with: [.nameLabel, .nameIntro]) && k + 1 < tokens.count {
            var score = configuration.names.given + configuration.names.titleBonus
            var colon = false
            var weak = false
            if tokens[k].flags.contains(.nameIntro) {
                // "called X": a verb, no colon; after a person ("I'm called", "se llama", "er heißt")
                // or in the first person ("me llamo", "heiße"): "es heißt Tisch", "so-called" name nobody
                guard introducesName(text, tokens, k) else { continue }
                colon = true
                weak = true
                score = configuration.names.given + configuration.names.cueBonus
            } else if k + 2 < tokens.count, tokens[k + 1].start - tokens[k].end == 1,
                      copulas.contains(TextUnits.string(text, tokens[k + 1].start..<tokens[k + 1].end).lowercased()) {
                k += 1  // "name is X"
                colon = true
                weak = true
                score = configuration.names.given + configuration.names.cueBonus
            }
            var q = tokens[k].end
            while q < tokens[k + 1].start {
                let c = text[q]
                if c == UInt8(ascii: ":") { colon = true; q += 1 }
                else if c == 0x20 || c == 0x09 { q += 1 }
                else if q + 2 < text.count && c == 0xEF && text[q + 1] == 0xBC && text[q + 2] == 0x9A { colon = true; q += 3 }
                else { break }
            }
            guard colon, q == tokens[k + 1].start else { continue }
            var last = k
            var j = k + 1
            while j < tokens.count && j - k <= 4 {
                let t = tokens[j]
                if j > k + 1 {
                    let gap = t.start - tokens[j - 1].end
                    guard gap >= 1 && gap <= 2 else { break }
                    var ok = true
                    for p in tokens[j - 1].end..<t.start where text[p] != 0x20 && text[p] != UInt8(ascii: "-") { ok = false }
                    guard ok else { break }
                }
                let cased = t.letterCase != .lower || (t.shape.contains(.letter) && !t.shape.contains(.firstUpper)
                    && !t.shape.contains(.ownLowerLetter))  // caseless scripts
                guard t.hasLetter, !t.hasDigit, cased, t.flags.isDisjoint(with: [.nameLabel, .institution, .street, .idContext]) else { break }
                // after a verb, an ordinary word ("es heißt Tisch", "so-called Renaissance") ends it
                if weak && !t.flags.isDisjoint(with: [.stopWord, .stopNoun, .language, .determiner]) && !t.flags.contains(.given) { break }
                last = j
                j += 1
            }
            guard last > k else { continue }
            let range = tokens[k + 1].start..<tokens[last].end
            if claimed(range.lowerBound, range.upperBound) { continue }
            out.append(Candidate(range: range, kind: "name", category: .pii, score: score,
                                 detector: weak ? "names.intro" : "names.label", priority: Self.namePriority))
        }
    }

    private static let introFirstPerson: Set<String> = ["llamo", "heiße", "heisse", "chiamo", "chamo", "nazywam", "adım", "heet"]
    private static let introSubjects: Set<String> = [
        "i", "is", "was", "am", "are", "be", "been", "being", "he", "she", "they", "ich", "er", "sie", "du", "me", "se", "te",
        "m", "s", "t", "si", "mi", "ti", "jag", "han", "hon", "ik", "hij", "zij", "ze", "je", "il", "elle", "меня", "его", "её", "ее",
        "benim", "eu", "ele", "ela", "yo", "él", "ella", "io", "lui", "lei",
    ]

    /// True when the naming verb at `k` speaks of a person: a first-person form, or a subject or
    /// copula right before it ("I'm called", "se llama", "er heißt", "was named").
    private func introducesName(_ text: UnsafeBufferPointer<UInt8>, _ tokens: UnsafeBufferPointer<Token>, _ k: Int) -> Bool {
        let word = TextUnits.string(text, tokens[k].start..<tokens[k].end).lowercased()
        if Self.introFirstPerson.contains(word) { return true }
        guard k > 0 else { return false }
        let gap = tokens[k].start - tokens[k - 1].end
        guard gap >= 1 && gap <= 2 else { return false }
        for q in tokens[k - 1].end..<tokens[k].start where text[q] != 0x20 && text[q] != UInt8(ascii: "'") && text[q] != 0xE2 && text[q] != 0x80 && text[q] != 0x99 {
            return false
        }
        return Self.introSubjects.contains(TextUnits.string(text, tokens[k - 1].start..<tokens[k - 1].end).lowercased())
    }

    private func titleCaseNeighbour(_ text: UnsafeBufferPointer<UInt8>, _ tokens: UnsafeBufferPointer<Token>, before k: Int, after last: Int) -> Bool {
        func plainCapitalized(_ t: Token) -> Bool {
            t.letterCase != .lower && t.hasLetter && t.flags.isDisjoint(with: [.given, .surname, .title, .cue, .honorific])
        }
        if k > 0 {
            let prev = tokens[k - 1]
            if tokens[k].start - prev.end <= 2, plainCapitalized(prev), !sentenceStart(text, prev.start) { return true }
        }
        if last + 1 < tokens.count {
            let next = tokens[last + 1]
            if next.start - tokens[last].end <= 2, plainCapitalized(next),
               !(tokens[last].end < text.count && [UInt8(ascii: "."), UInt8(ascii: ":")].contains(text[tokens[last].end])) {
                return true
            }
        }
        return false
    }

    /// True when the text before `position` ends a sentence (or nothing precedes it).
    func sentenceStart(_ text: UnsafeBufferPointer<UInt8>, _ position: Int) -> Bool {
        var i = position
        var steps = 0
        while i > 0 && steps < 16 {
            guard let (scalar, start) = TextUnits.decodeBefore(text, i) else { return true }
            switch scalar {
            case 0x20, 0x09, 0x22, 0x27, 0x28, 0x5B, 0xAB, 0xBB, 0x201C, 0x201E, 0x2018, 0x201A, 0x2022, 0x2A, 0x3E:
                i = start
                steps += 1
            case 0x2E, 0x21, 0x3F, 0x3A, 0x3B, 0x0A, 0x0D, 0xBF, 0xA1, 0x2013, 0x2014, 0x2D, 0x3002, 0xFF01, 0xFF1F, 0x7C:
                return true
            default:
                return false
            }
        }
        return i == 0
    }

    private func hasCue(_ tokens: UnsafeBufferPointer<Token>, before k: Int, end: Int) -> Bool {
        var j = k - 1
        var seen = 0
        while j >= 0 && seen < 3 && end - tokens[j].end < 40 {
            if tokens[j].flags.contains(.cue) || tokens[j].flags.contains(.title) { return true }
            j -= 1
            seen += 1
        }
        return false
    }

    /// `'s` or `’s` right after the name.
    private func possessive(_ text: UnsafeBufferPointer<UInt8>, _ end: Int) -> Bool {
        var i = end
        if i < text.count && text[i] == UInt8(ascii: "'") {
            i += 1
        } else if i + 2 < text.count && text[i] == 0xE2 && text[i + 1] == 0x80 && text[i + 2] == 0x99 {
            i += 3
        } else {
            return false
        }
        guard i < text.count, text[i] | 0x20 == UInt8(ascii: "s") else { return false }
        return i + 1 >= text.count || TextUnits.charClassASCII(text[i + 1] & 0x7F) != .letter || text[i + 1] >= 0x80
    }

    /// 김민준, 김민준씨: a surname syllable and a two-syllable given name at the start of a word.
    private func koreanNames(_ text: UnsafeBufferPointer<UInt8>, _ tokens: UnsafeBufferPointer<Token>, _ out: inout [Candidate]) {
        let s = configuration.names
        for t in tokens where t.isHangul && t.scalarCount >= 3 {
            var scalars: [UInt32] = []
            var ends: [Int] = []
            var i = t.start
            while i < t.end && scalars.count < 6 {
                let (scalar, len) = TextUnits.decode(text, i)
                scalars.append(scalar)
                i += len
                ends.append(i)
            }
            guard scalars.count >= 3 else { continue }
            let surname = lexicon.words.find([scalars[0]])
            guard surname >= 0, lexicon.words.payload(surname).flags.contains(.surname) else { continue }
            let given = lexicon.words.find(Array(scalars[1...2]))
            guard given >= 0, lexicon.words.payload(given).flags.contains(.given) else { continue }
            var score = s.koreanPair
            if scalars.count > 3, scalars[3] == 0xC528 || scalars[3] == 0xB2D8 { score += s.honorificBonus }  // 씨, 님
            out.append(Candidate(range: t.start..<ends[2], kind: "name", category: .pii, score: score,
                                 detector: "names.korean", priority: Self.namePriority))
        }
    }

    /// 佐藤健さん, 田中さん, 王秀英: a surname followed by a given name or (after up to two more
    /// characters) an honorific, inside a CJK run.
    private func cjkNames(_ text: UnsafeBufferPointer<UInt8>, _ hits: UnsafeBufferPointer<CJKHit>, _ out: inout [Candidate]) {
        guard !hits.isEmpty else { return }
        let s = configuration.names
        // `hits` are in text order (by start): the hits starting at a position are a run found by
        // binary search.
        func starting(at position: Int) -> Range<Int> {
            let lo = firstIndex(hits.count) { hits[$0].start >= position }
            var hi = lo
            while hi < hits.count && hits[hi].start == position { hi += 1 }
            return lo..<hi
        }
        func honorific(at position: Int) -> Bool {
            starting(at: position).contains { hits[$0].flags.contains(.honorific) }
        }
        for hit in hits where hit.flags.contains(.surname) {
            let surnameLength = lexicon.cjk.length(of: hit.entry)
            var best: (end: Int, score: Double, detector: String)?
            // surname + given name (+ honorific)
            for g in starting(at: hit.end) where hits[g].flags.contains(.given) {
                let given = hits[g]
                var score = surnameLength >= 2 ? s.cjkPair : s.chinesePair
                if honorific(at: given.end) { score = max(score, s.cjkHonorific) }
                if best == nil || best!.end < given.end { best = (given.end, score, "names.cjk") }
            }
            // surname (+ up to two characters) + honorific
            var position = hit.end
            for _ in 0...2 {
                if honorific(at: position) {
                    if best == nil || best!.score < s.cjkHonorific { best = (position, s.cjkHonorific, "names.cjk_honorific") }
                    break
                }
                guard position < text.count else { break }
                let (scalar, len) = TextUnits.decode(text, position)
                guard TextUnits.isCJK(scalar), scalar >= 0x3400 else { break }  // kanji only, not kana
                position += len
            }
            if let best {
                out.append(Candidate(range: hit.start..<best.end, kind: "name", category: .pii, score: best.score,
                                     detector: best.detector, priority: Self.namePriority))
            }
        }
    }
}
