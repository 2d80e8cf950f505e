/// Street addresses: a street type (`street` words of `Wordlists/context/`: "Calle", "Rue", "Via",
/// "Street", "St", "ul.") or a compound street name ("Hauptstraße", "Storgatan", `street_suffix`
/// entries) with a house number before or after it ("42 Rue Victor Hugo", "Calle Mayor 5",
/// "Hauptstraße 12", "123 Main St"), taking in the flat numbers and a postcode with its place that
/// follow ("…, 3 B, 28046 Madrid"); and what follows an address or postcode label ("Domicilio:",
/// "Address:", "CP:") when it has a number in it. A street name without a number is no finding: on
/// a vocabulary card "la calle Mayor" is a word, not an address.
extension Scanner {
    static let addressPriority = 9

    func addressCandidates(_ text: UnsafeBufferPointer<UInt8>, tokens tokenized: TokenizedText) -> [Candidate] {
        let all = tokenized.tokens
        guard all.count >= 2 else { return [] }
        let score = configuration.names.given + configuration.names.chainBonus - 0.05  // 0.85 with the shipped scores
        var out: [Candidate] = []

        /// Only the bytes of `allowed` (and at most `most` of them, at least one) between tokens `a` and `b`.
        func joined(_ a: Int, _ b: Int, _ allowed: StaticString = " ,", most: Int = 2) -> Bool {
            let gap = all[b].start - all[a].end
            guard gap >= 1 && gap <= most else { return false }
            return allowed.withUTF8Buffer { set in
                (all[a].end..<all[b].start).allSatisfy { set.contains(text[$0]) }
            }
        }
        /// A house number: digits first, at most six characters ("5", "12a", "4D", "1050").
        func houseNumber(_ k: Int) -> Bool {
            guard k >= 0 && k < all.count else { return false }
            let t = all[k]
            let first = text[t.start]
            return t.hasDigit && t.scalarCount <= 6 && first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")
        }
        /// "s/n" (sin número) after a Spanish street name.
        func withoutNumber(_ k: Int) -> Bool {
            guard k + 1 < all.count, all[k].end - all[k].start == 1, all[k + 1].end - all[k + 1].start == 1 else { return false }
            return text[all[k].start] | 0x20 == UInt8(ascii: "s") && text[all[k].end] == UInt8(ascii: "/")
                && all[k + 1].start == all[k].end + 1 && text[all[k + 1].start] | 0x20 == UInt8(ascii: "n")
        }
        func capitalizedWord(_ k: Int) -> Bool {
            let t = all[k]
            return t.letterCase != .lower && t.hasLetter && !t.hasDigit && !t.flags.contains(.idContext)
        }
        func streetType(_ k: Int) -> Bool {
            let t = all[k]
            guard t.flags.contains(.street), t.hasLetter, !t.hasDigit else { return false }
            // one letter only as "C/" ("c.c." is a unit)
            if t.scalarCount == 1 { return t.end < text.count && text[t.end] == UInt8(ascii: "/") }
            if t.letterCase != .lower { return true }
            // lowercase only as an abbreviation: "c/", "av.", "ul."
            return t.end < text.count && (text[t.end] == UInt8(ascii: ".") || text[t.end] == UInt8(ascii: "/"))
        }
        /// A capitalized word ending in a street suffix ("Hauptstraße", "Storgatan", "Bahnhofstr."),
        /// tested only next to a house number.
        func compoundStreet(_ k: Int) -> Bool {
            let t = all[k]
            guard t.hasLetter, !t.hasDigit, t.scalarCount >= 5, houseNumber(k + 1) || houseNumber(k - 1) else { return false }
            // lowercase only between two numbers ("255 hersnapvej 18")
            guard t.letterCase == .capitalized || (houseNumber(k + 1) && houseNumber(k - 1)) else { return false }
            let end = t.end < text.count && text[t.end] == UInt8(ascii: ".") ? t.end + 1 : t.end
            for suffix in lexicon.streetSuffixes where suffix.count + 3 <= end - t.start {
                var same = true
                var q = end - suffix.count
                for b in suffix {
                    let c = text[q]
                    if (c >= 0x41 && c <= 0x5A ? c | 0x20 : c) != b { same = false; break }
                    q += 1
                }
                if same { return true }
            }
            return false
        }
        /// The last token of what follows an address: flat numbers ("4", "3 B", "4D") and a postcode
        /// with its place ("28046 Madrid", "46017 Valencia").
        func extend(_ end: Int) -> Int {
            var last = end
            var j = end + 1
            var parts = 0
            while j < all.count && parts < 6 && joined(j - 1, j, " ,.-º", most: 3) {
                let t = all[j]
                if t.hasDigit && t.scalarCount <= 3 { last = j; j += 1; parts += 1; continue }
                if t.flags.contains(.addressUnit), houseNumber(j + 1), joined(j, j + 1, " .", most: 2) {  // "Apt. 656"
                    last = j + 1; j += 2; parts += 1; continue
                }
                if t.hasDigit && t.scalarCount <= 6 && text[t.start] >= 0x30 && text[t.start] <= 0x39,
                   j + 1 < all.count, joined(j, j + 1, " ,", most: 2), capitalizedWord(j + 1) {
                    // postcode and place (a second capitalized word too: "Santiago de Compostela" aside)
                    last = j + 1
                    if j + 2 < all.count, joined(j + 1, j + 2, " -", most: 1), capitalizedWord(j + 2) { last = j + 2 }
                    break
                }
                if t.scalarCount == 1 && t.letterCase != .lower && !t.hasDigit { last = j; j += 1; parts += 1; continue }  // "B"
                break
            }
            return last
        }
        func add(_ first: Int, _ last: Int, _ detector: String) {
            out.append(Candidate(range: all[first].start..<all[last].end, kind: "address", category: .pii, score: score,
                                 detector: detector, priority: Self.addressPriority))
        }

        var k = 0
        while k < all.count {
            if !all[k].flags.isDisjoint(with: [.addressLabel, .postcodeLabel]), let last = labelled(text, all, k) {
                add(k + 1, extend(last), all[k].flags.contains(.addressLabel) ? "address.label" : "address.postcode")
                k = last + 1
                continue
            }
            // "Suite 501", "Apt. 4", "Postfach 1234": a flat or post box on its own
            if all[k].flags.contains(.addressUnit), all[k].letterCase != .lower, houseNumber(k + 1), joined(k, k + 1, " .", most: 2) {
                let last = extend(k + 1)
                add(k, last, "address.unit")
                k = last + 1
                continue
            }
            let isType = streetType(k)
            guard isType || compoundStreet(k) else { k += 1; continue }
            // Type first: "Calle Mayor 5", "42 Rue Victor Hugo", "Avda. Prof. Martín Lagos, s/n"
            var nameEnd = k
            if isType && !all[k].flags.contains(.streetAfter) {
                var j = k + 1
                while j < all.count && j - k <= 6 && joined(j - 1, j, " ./", most: 2) {
                    if capitalizedWord(j) { nameEnd = j; j += 1; continue }
                    if all[j].letterCase == .lower && !all[j].hasDigit && all[j].scalarCount <= 3 { j += 1; continue }  // de, la, del
                    break
                }
            }
            var first = k, last = nameEnd
            var found = false
            if nameEnd > k || !isType {
                if houseNumber(nameEnd + 1) && joined(nameEnd, nameEnd + 1, " ,º", most: 3) {
                    last = nameEnd + 1
                    found = true
                } else if withoutNumber(nameEnd + 1) && joined(nameEnd, nameEnd + 1, " ,", most: 2) {
                    last = nameEnd + 2
                    found = true
                }
                if houseNumber(k - 1) && joined(k - 1, k, " ,", most: 2) {
                    first = k - 1
                    found = true
                }
            }
            // Type last: "123 Main St", "22 Pollen Crescent", "Berliner Straße 12"
            if !found && isType && all[k].letterCase != .lower {
                var f = k
                while f > 0 && k - f < 3 && capitalizedWord(f - 1) && !streetType(f - 1) && joined(f - 1, f, " ", most: 1) { f -= 1 }
                if f < k {
                    if houseNumber(f - 1) && joined(f - 1, f, " ,", most: 2) {
                        first = f - 1; last = k; found = true
                    } else if houseNumber(k + 1) && joined(k, k + 1, " .,", most: 3) {
                        first = f; last = k + 1; found = true
                    }
                }
            }
            if found {
                last = extend(last)
                add(first, last, "address.street")
                k = last + 1
            } else {
                k += 1
            }
        }
        return out
    }

    /// After an address label and ":" ("Domicilio: Los Alisos, 10", "Address: 4 Elm Row"), or a
    /// postcode label ("CP: 39658", "PLZ 10115"): the last token of the address, up to the end of the
    /// line (or "|", ";") and at most eight words, when it has a number in it.
    private func labelled(_ text: UnsafeBufferPointer<UInt8>, _ all: UnsafeBufferPointer<Token>, _ k: Int) -> Int? {
        guard k + 1 < all.count else { return nil }
        var q = all[k].end
        var colon = false
        while q < all[k + 1].start {
            let c = text[q]
            if c == UInt8(ascii: ":") { colon = true } else if c != 0x20 && c != 0x09 && c != UInt8(ascii: ".") { return nil }
            q += 1
        }
        if all[k].flags.contains(.postcodeLabel) {
            let t = all[k + 1]
            guard colon || all[k].letterCase == .upper, t.hasDigit, (4...6).contains(t.scalarCount),
                  text[t.start] >= 0x30 && text[t.start] <= 0x39 else { return nil }
            return k + 1
        }
        guard colon else { return nil }
        var last = k
        var digit = false
        var j = k + 1
        while j < all.count && j - k <= 8 {
            if j > k + 1 {
                for p in all[j - 1].end..<all[j].start {
                    let c = text[p]
                    if c == 0x0A || c == 0x0D || c == UInt8(ascii: "|") || c == UInt8(ascii: ";") || c == 0x09 { return digit ? last : nil }
                }
                if all[j].start - all[j - 1].end > 3 { break }
            }
            if all[j].flags.contains(.nameLabel) || all[j].flags.contains(.idContext) && all[j].letterCase == .upper { break }
            if all[j].hasDigit { digit = true }
            last = j
            j += 1
        }
        return digit ? last : nil
    }
}
