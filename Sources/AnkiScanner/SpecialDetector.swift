/// Special categories of personal data (GDPR Art. 9: health, religion, politics) from the term lists
/// in `Wordlists/special/`. A term's weight is raised by a first-person word in the same sentence
/// ("ich", "my", "私") and by other terms in the field, and lowered on a bare vocabulary card
/// ("die Kirche" alone says nothing about the learner).
extension Scanner {
    func specialCandidates(_ text: UnsafeBufferPointer<UInt8>, tokens tokenized: TokenizedText) -> [Candidate] {
        guard tokenized.mayHaveTerms else { return [] }
        let sp = configuration.special
        let tokens = tokenized.tokens
        var raw: [(range: Range<Int>, category: SpecialTerm.Category, weight: Double)] = []
        raw.reserveCapacity(tokenized.termHits.count)  // one allocation, not one per doubling

        func tokenIndex(startingAt start: Int) -> Int? {
            var lo = 0, hi = tokens.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if tokens[mid].start < start { lo = mid + 1 } else { hi = mid }
            }
            return lo < tokens.count && tokens[lo].start == start ? lo : nil
        }

        /// The token's lower-cased scalars (marks left out) are `key` (or start with it, `stem`).
        func matches(_ t: Token, _ key: [UInt32], stem: Bool) -> Bool {
            var k = 0
            var i = t.start
            while i < t.end {
                let (s, len) = TextUnits.decode(text, i)
                i += len
                if TextUnits.charClass(s) == .mark { continue }
                if k == key.count { return stem }
                if TextUnits.lower(s) != key[k] { return false }
                k += 1
            }
            return k == key.count
        }

        for hit in tokenized.termHits {
            let term = lexicon.terms[Int(hit.term)]
            var range = hit.start..<hit.end
            if let exact = term.exactForm {
                var scalars: [UInt32] = []
                var i = hit.start
                while i < hit.end {
                    let (s, len) = TextUnits.decode(text, i)
                    scalars.append(s)
                    i += len
                }
                guard scalars == exact else { continue }
            }
            if !term.rest.isEmpty {
                guard var k = tokenIndex(startingAt: hit.start) else { continue }
                var matched = true
                for part in term.rest {
                    let next = k + 1
                    guard next < tokens.count, tokens[next].start - tokens[k].end <= 3 else { matched = false; break }
                    var gapOK = true
                    for q in tokens[k].end..<tokens[next].start where text[q] == 0x0A || text[q] == UInt8(ascii: ".") {
                        gapOK = false
                    }
                    guard gapOK, matches(tokens[next], part.key, stem: part.isStem) else { matched = false; break }
                    k = next
                }
                guard matched else { continue }
                range = hit.start..<tokens[k].end
            }
            raw.append((range, term.category, term.weight))
        }
        guard !raw.isEmpty else { return [] }

        // One finding per place and category: the longest range, the highest weight.
        raw.sort { ($0.range.lowerBound, -$0.range.count) < ($1.range.lowerBound, -$1.range.count) }
        var merged: [(range: Range<Int>, category: SpecialTerm.Category, weight: Double)] = []
        merged.reserveCapacity(raw.count)
        var lastOfCategory = (-1, -1, -1)
        for item in raw {
            // Sorted by start: only the latest entry of the category can overlap.
            let last: Int
            switch item.category {
            case .health: last = lastOfCategory.0
            case .religion: last = lastOfCategory.1
            case .politics: last = lastOfCategory.2
            }
            if last >= 0, merged[last].range.overlaps(item.range) {
                let index = last
                merged[index].weight = max(merged[index].weight, item.weight)
                let r = merged[index].range
                merged[index].range = min(r.lowerBound, item.range.lowerBound)..<max(r.upperBound, item.range.upperBound)
            } else {
                switch item.category {
                case .health: lastOfCategory.0 = merged.count
                case .religion: lastOfCategory.1 = merged.count
                case .politics: lastOfCategory.2 = merged.count
                }
                merged.append(item)
            }
        }

        var letterWords = 0
        for token in tokens where token.hasLetter { letterWords += 1 }
        let words = letterWords + tokenized.cjkScalars / 2
        let vocabulary = words <= sp.vocabularyMaxWords
        // `merged` is in order of start (each entry starts where its first item did).
        var distinctPlaces = merged.isEmpty ? 0 : 1
        for k in merged.indices.dropFirst() where merged[k].range.lowerBound != merged[k - 1].range.lowerBound {
            distinctPlaces += 1
        }
        var out: [Candidate] = []
        out.reserveCapacity(merged.count)
        for item in merged {
            var score = item.weight
            if firstPersonNearby(text, tokenized, item.range) {
                score += item.weight >= sp.weakBelow ? sp.firstPersonBonus : sp.weakFirstPersonBonus
            }
            if distinctPlaces > 1 { score += sp.cooccurrenceBonus }
            if vocabulary { score *= sp.vocabularyFactor }
            out.append(Candidate(range: item.range, kind: item.category.name, category: .special, score: min(score, 0.99),
                                 detector: "special.terms", priority: 100))
        }
        return out
    }

    /// A first-person word ("ich", "my", "私") in the sentence around `range`.
    private func firstPersonNearby(_ text: UnsafeBufferPointer<UInt8>, _ tokenized: TokenizedText, _ range: Range<Int>) -> Bool {
        var lo = range.lowerBound
        var steps = 0
        while lo > 0 && steps < 300 {
            let b = text[lo - 1]
            if b == UInt8(ascii: ".") || b == UInt8(ascii: "!") || b == UInt8(ascii: "?") || b == 0x0A { break }
            if b == 0x82 && lo >= 3 && text[lo - 3] == 0xE3 && text[lo - 2] == 0x80 { break }  // 。
            lo -= 1
            steps += 1
        }
        var hi = range.upperBound
        steps = 0
        while hi < text.count && steps < 300 {
            let b = text[hi]
            if b == UInt8(ascii: ".") || b == UInt8(ascii: "!") || b == UInt8(ascii: "?") || b == 0x0A { break }
            if b == 0xE3 && hi + 2 < text.count && text[hi + 1] == 0x80 && text[hi + 2] == 0x82 { break }
            hi += 1
            steps += 1
        }
        var k = firstIndex(tokenized.tokens.count) { tokenized.tokens[$0].start >= lo }
        while k < tokenized.tokens.count && tokenized.tokens[k].start < hi {
            if tokenized.tokens[k].flags.contains(.firstPerson) { return true }
            k += 1
        }
        k = firstIndex(tokenized.cjkHits.count) { tokenized.cjkHits[$0].start >= lo }
        while k < tokenized.cjkHits.count && tokenized.cjkHits[k].start < hi {
            if tokenized.cjkHits[k].flags.contains(.firstPerson) { return true }
            k += 1
        }
        return false
    }
}
