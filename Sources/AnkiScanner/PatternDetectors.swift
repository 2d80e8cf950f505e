import AnkiPCRE2
import Foundation

/// A match in text offsets (whole range and capture groups, nil where a group did not take part).
struct TextMatch {
    var range: Range<Int>
    var groups: [Range<Int>?]
}

/// A compiled pattern with the fewest digits a match contains, and the fewest it has in a row
/// (`PatternDigits`).
final class DigitRule<Spec: Sendable>: Sendable {
    let spec: Spec
    let regex: PCRE2Regex
    let minimumDigits: Int
    let minimumRun: Int
    /// Every match starts with a digit: PCRE2 starts at a region's first digit.
    let startsWithDigit: Bool

    init(_ spec: Spec, _ regex: PCRE2Regex) {
        self.spec = spec
        self.regex = regex
        minimumDigits = PatternDigits.minimum(regex.pattern)
        minimumRun = PatternDigits.longestRun(regex.pattern)
        startsWithDigit = PatternDigits.startsWithDigit(regex.pattern)
    }
}

/// The PCRE2 patterns of `Config/scanner/patterns.json` and the per-country phone number patterns of
/// `phones.json`, compiled once (UTF + UCP, JIT, match and depth limits).
struct CompiledPatterns: Sendable {
    let email: PCRE2Regex
    let urlScheme: PCRE2Regex
    let urlWWW: PCRE2Regex
    let urlBare: PCRE2Regex
    let ipv4: PCRE2Regex
    let ipv6: PCRE2Regex
    let phone: PCRE2Regex
    let iban: PCRE2Regex
    let card: PCRE2Regex
    let digits: PCRE2Regex
    let dates: [DigitRule<DateSpec>]
    let ids: [DigitRule<NationalIDSpec>]
    /// Fewest digits in a match of `iban`, `card`, `phone`, `ipv4`, `digits`.
    let ibanDigits: Int, cardDigits: Int, phoneDigits: Int, ipv4Digits: Int, runDigits: Int
    let phoneCountries: [DigitRule<PhoneCountry>]
    /// `phoneCountries` by calling code.
    let phoneCountriesByCode: [String: [DigitRule<PhoneCountry>]]

    init(_ c: ScannerConfiguration) throws {
        func compile(_ name: String, _ spec: PatternSpec) throws -> PCRE2Regex {
            do {
                return try PCRE2Regex(spec.regex, options: spec.caseless ? [.caseless] : [],
                                      matchLimit: c.limits.matchLimit, depthLimit: c.limits.depthLimit)
            } catch let error as PCRE2Error {
                throw ScannerConfigurationError("Config/scanner: pattern \(name) does not compile: \(error.description)")
            }
        }
        func named(_ name: String) throws -> PCRE2Regex { try compile(name, c.patterns[name]!) }
        email = try named("email")
        urlScheme = try named("url_scheme")
        urlWWW = try named("url_www")
        urlBare = try named("url_bare")
        ipv4 = try named("ipv4")
        ipv6 = try named("ipv6")
        phone = try named("phone")
        iban = try named("iban")
        card = try named("card")
        digits = try named("digits")
        dates = try c.dateSpecs.map { DigitRule($0, try compile("dates.\($0.name)", $0.pattern)) }
        ids = try c.nationalIDs.map { DigitRule($0, try compile("national_ids.\($0.name)", $0.pattern)) }
        ibanDigits = PatternDigits.minimum(iban.pattern)
        cardDigits = PatternDigits.minimum(card.pattern)
        phoneDigits = PatternDigits.minimum(phone.pattern)
        ipv4Digits = PatternDigits.minimum(ipv4.pattern)
        runDigits = PatternDigits.minimum(digits.pattern)
        phoneCountries = try c.phoneCountries.map { country in
            DigitRule(country, try compile("phones.\(country.region)", PatternSpecLiteral.make("^(?:\(country.pattern))$")))
        }
        phoneCountriesByCode = Dictionary(grouping: phoneCountries, by: \.spec.callingCode)
    }
}

enum PatternSpecLiteral {
    static func make(_ regex: String) throws -> PatternSpec {
        try PatternSpec(try StrictObject(["regex": regex], path: "generated"))
    }
}

extension Scanner {
    private enum Priority {
        static let email = 0, url = 1, iban = 2, phoneInternational = 3, card = 4, nationalID = 5, ip = 6, date = 7
        static let phone = 8, urlBare = 9, digits = 10
    }

    // MARK: - Regions

    /// Runs `regex` over `region` of `text` in bounded windows; matches come back in text offsets.
    /// A window whose match hits the PCRE2 limits (or is not valid UTF-8) is skipped.
    ///
    /// `valid`: `text` is known to be valid UTF-8, so PCRE2 need not check each window again (it still
    /// does for a window that does not start and end on a character boundary).
    ///
    /// `from`: no match can start before this text offset (a pattern that starts with a digit, and
    /// the region's first digit), so PCRE2 starts there in a window it need not check for UTF-8 (its
    /// lookbehinds still see the bytes before).
    func matches(_ regex: PCRE2Regex, _ text: UnsafeBufferPointer<UInt8>, _ region: Range<Int>,
                 valid: Bool = false, from firstStart: Int = 0) -> [TextMatch] {
        let windowBytes = configuration.limits.windowBytes, overlap = configuration.limits.windowOverlap
        var results: [TextMatch] = []
        // Windows overlap, so a match may be found twice; the first window needs no bookkeeping.
        var windows = 0
        var seen = Set<Range<Int>>()
        var start = region.lowerBound
        while start < region.upperBound {
            windows += 1
            if windows == 2 { for r in results { seen.insert(r.range) } }
            var end = min(region.upperBound, start + windowBytes)
            if end < text.count { end = TextUnits.scalarStart(text, end) }
            if end <= start { end = min(region.upperBound, start + windowBytes) }
            let window = UnsafeBufferPointer(rebasing: text[start..<end])
            let aligned = valid && (start == text.count || text[start] & 0xC0 != 0x80)
                && (end == text.count || text[end] & 0xC0 != 0x80)
            let offset = aligned ? max(0, min(firstStart - start, window.count)) : 0
            if let found = try? regex.matches(in: window, checkUTF8: !aligned, startOffset: offset) {
                for m in found {
                    let shifted = TextMatch(range: (m.range.lowerBound + start)..<(m.range.upperBound + start),
                                             groups: m.groups.map { $0.map { ($0.lowerBound + start)..<($0.upperBound + start) } })
                    if windows == 1 || seen.insert(shifted.range).inserted { results.append(shifted) }
                }
            }
            if end >= region.upperBound { break }
            start = TextUnits.scalarStart(text, max(start + 1, end - overlap))
        }
        return results
    }

    private func expand(_ range: Range<Int>, by amount: Int, in text: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        let lo = TextUnits.scalarStart(text, max(0, range.lowerBound - amount))
        var hi = min(text.count, range.upperBound + amount)
        if hi < text.count { hi = TextUnits.scalarStart(text, hi) }
        return lo..<max(hi, lo)
    }

    private static func merge(_ ranges: [Range<Int>]) -> [Range<Int>] {
        guard ranges.count > 1 else { return ranges }
        var merged: [Range<Int>] = []
        var sorted = true
        for k in 1..<ranges.count where ranges[k].lowerBound < ranges[k - 1].lowerBound { sorted = false; break }
        for r in sorted ? ranges : ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, r.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        return merged
    }

    @inline(__always)
    private static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D || b == 0x0C || b == 0x0B
    }

    /// The run of non-space bytes around `position`, bounded.
    private func word(around position: Int, in text: UnsafeBufferPointer<UInt8>, before: Int, after: Int) -> Range<Int> {
        var lo = position
        while lo > 0 && position - lo < before && !Self.isSpace(text[lo - 1]) { lo -= 1 }
        var hi = position
        while hi < text.count && hi - position < after && !Self.isSpace(text[hi]) { hi += 1 }
        lo = TextUnits.scalarStart(text, lo)
        if hi < text.count { hi = TextUnits.scalarStart(text, hi) }
        return lo..<max(lo, hi)
    }

    // MARK: - Candidates

    /// Bytes that can start a candidate: digits, "@", ":", ".", and the lead byte of full-width digits.
    /// A raw pointer allocated once for the life of the process (no retain in the byte loop).
    nonisolated(unsafe) private static let seedBytePointer: UnsafePointer<Bool> = {
        let table = UnsafeMutablePointer<Bool>.allocate(capacity: 256)
        table.initialize(repeating: false, count: 256)
        for c in "0123456789@:.".utf8 { table[Int(c)] = true }
        table[0xEF] = true
        return UnsafePointer(table)
    }()

    func patternCandidates(_ text: UnsafeBufferPointer<UInt8>, tokens: TokenizedText) -> [Candidate] {
        guard tokens.mayHavePatterns else { return [] }
        var emailSeeds: [Range<Int>] = []
        var urlSeeds: [Range<Int>] = []
        var digitSeeds: [(range: Range<Int>, digits: Int)] = []
        let n = text.count
        var i = 0
        let seeds = Self.seedBytePointer
        // One pass over the bytes decides which patterns can match at all, and where.
        while i < n {
            let b = text[i]
            if !seeds[Int(b)] { i += 1; continue }
            if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") || (b == 0xEF && i + 2 < n && text[i + 1] == 0xBC && text[i + 2] >= 0x90 && text[i + 2] <= 0x99) {
                let start = i
                var digits = 0, separatorsInRow = 0, colons = 0, lettersInRow = 0
                var j = i
                while j < n {
                    let c = text[j]
                    if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                        digits += 1; separatorsInRow = 0; lettersInRow = 0; j += 1
                    } else if c == 0xEF && j + 2 < n && text[j + 1] == 0xBC && text[j + 2] >= 0x90 && text[j + 2] <= 0x99 {
                        digits += 1; separatorsInRow = 0; j += 3
                    } else if (c == 0x20 || c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || c == UInt8(ascii: "/")
                               || c == UInt8(ascii: "(") || c == UInt8(ascii: ")") || c == UInt8(ascii: "+")
                               || c == UInt8(ascii: ":") || c == UInt8(ascii: ",")) && separatorsInRow < 3 {
                        if c == UInt8(ascii: ":") { colons += 1 }
                        separatorsInRow += 1; j += 1
                    } else if colons > 0 && ((c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "f")) {
                        separatorsInRow = 0; j += 1  // hex digits of an IPv6 address
                    } else if (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") && lettersInRow < 3 {
                        lettersInRow += 1; j += 1    // ids mixing letters and digits: L01X00T471, 85T10A562S
                        continue
                    } else {
                        break
                    }
                }
                digitSeeds.append((start..<j, digits))
                i = max(j, i + 1)
                continue
            }
            switch b {
            case UInt8(ascii: "@"):
                emailSeeds.append(word(around: i, in: text, before: 200, after: 400))
            case UInt8(ascii: ":") where i + 2 < n && text[i + 1] == UInt8(ascii: "/") && text[i + 2] == UInt8(ascii: "/"):
                urlSeeds.append(word(around: i, in: text, before: 64, after: 2048))
            case UInt8(ascii: "."):
                if i > 0 && i + 1 < n {
                    let prev = text[i - 1], next = text[i + 1]
                    let prevOK = prev >= 0x80 || (prev | 0x20) >= UInt8(ascii: "a") && (prev | 0x20) <= UInt8(ascii: "z")
                        || prev >= UInt8(ascii: "0") && prev <= UInt8(ascii: "9") || prev == UInt8(ascii: "-")
                    let nextOK = next >= 0xC0 || (next | 0x20) >= UInt8(ascii: "a") && (next | 0x20) <= UInt8(ascii: "z")
                    if prevOK && nextOK { urlSeeds.append(word(around: i, in: text, before: 256, after: 2048)) }
                }
            default:
                break
            }
            i += 1
        }

        var candidates: [Candidate] = []
        let valid = tokens.validUTF8
        for region in Self.merge(emailSeeds) { emailCandidates(text, region, valid: valid, &candidates) }
        for region in Self.merge(urlSeeds) { urlCandidates(text, region, valid: valid, &candidates) }
        if !digitSeeds.isEmpty {
            // Regions around digit clusters, with room for IBAN letters, month names and context.
            var regions: [(range: Range<Int>, digits: Int)] = []
            for seed in digitSeeds where seed.digits >= 4 {
                let r = expand(seed.range, by: 40, in: text)
                if let last = regions.last, r.lowerBound <= last.range.upperBound {
                    regions[regions.count - 1] = (last.range.lowerBound..<max(last.range.upperBound, r.upperBound),
                                                  last.digits + seed.digits)
                } else {
                    regions.append((r, seed.digits))
                }
            }
            for region in regions {
                // count every digit of the region (short numbers nearby belong to dates: "14. März 1998")
                var digits = 0
                for k in region.range where text[k] >= UInt8(ascii: "0") && text[k] <= UInt8(ascii: "9")
                    || (text[k] >= 0x90 && text[k] <= 0x99 && k >= 2 && text[k - 1] == 0xBC && text[k - 2] == 0xEF) {
                    digits += 1
                }
                digitCandidates(text, region.range, digits: max(digits, region.digits), tokens: tokens, &candidates)
            }
        }
        return candidates
    }

    // MARK: E-mail

    private func emailCandidates(_ text: UnsafeBufferPointer<UInt8>, _ region: Range<Int>, valid: Bool,
                                 _ out: inout [Candidate]) {
        for m in matches(patterns.email, text, region, valid: valid) {
            // The pattern admits no marks, so byte tests are character tests here.
            guard let at = m.range.last(where: { text[$0] == UInt8(ascii: "@") }) else { continue }
            let local = m.range.lowerBound..<at
            if local.isEmpty || text[local.lowerBound] == UInt8(ascii: ".") || text[at - 1] == UInt8(ascii: ".") { continue }
            if local.dropFirst().contains(where: { text[$0] == UInt8(ascii: ".") && text[$0 - 1] == UInt8(ascii: ".") }) { continue }
            let domain = (at + 1)..<m.range.upperBound
            let dot = domain.last(where: { text[$0] == UInt8(ascii: ".") })
            let tld = TextUnits.string(text, (dot.map { $0 + 1 } ?? domain.lowerBound)..<domain.upperBound).lowercased()
            let score = configuration.tlds.contains(tld) ? configuration.emailScore : configuration.emailUnknownTLDScore
            out.append(Candidate(range: m.range, kind: "email", category: .pii, score: score, detector: "email",
                                 priority: Priority.email))
        }
    }

    // MARK: URLs

    private static let trailing: Set<UInt8> = Set(".,;:!?'\"»”’)]}>".utf8)

    private func trimURL(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var end = range.upperBound
        while end > range.lowerBound + 1 && Self.trailing.contains(text[end - 1]) {
            if text[end - 1] == UInt8(ascii: ")") {
                // keep a closing parenthesis that closes one inside the URL (Wikipedia links)
                var open = 0, close = 0
                for k in range.lowerBound..<end {
                    if text[k] == UInt8(ascii: "(") { open += 1 } else if text[k] == UInt8(ascii: ")") { close += 1 }
                }
                if open >= close { break }
            }
            end -= 1
        }
        return range.lowerBound..<end
    }

    private func urlCandidates(_ text: UnsafeBufferPointer<UInt8>, _ region: Range<Int>, valid: Bool,
                               _ out: inout [Candidate]) {
        let u = configuration.url
        var hasScheme = false, hasWWW = false
        var k = region.lowerBound
        while k + 3 < region.upperBound {
            if text[k] == UInt8(ascii: ":") && text[k + 1] == UInt8(ascii: "/") && text[k + 2] == UInt8(ascii: "/") { hasScheme = true }
            if (text[k] | 0x20) == UInt8(ascii: "w") && (text[k + 1] | 0x20) == UInt8(ascii: "w")
                && (text[k + 2] | 0x20) == UInt8(ascii: "w") && text[k + 3] == UInt8(ascii: ".") { hasWWW = true }
            k += 1
        }
        if hasScheme {
            for m in matches(patterns.urlScheme, text, region, valid: valid) {
                out.append(Candidate(range: trimURL(text, m.range), kind: "url", category: .pii, score: u.scheme,
                                     detector: "url.scheme", priority: Priority.url))
            }
        }
        if hasWWW {
            for m in matches(patterns.urlWWW, text, region, valid: valid) {
                out.append(Candidate(range: trimURL(text, m.range), kind: "url", category: .pii, score: u.www,
                                     detector: "url.www", priority: Priority.url))
            }
        }
        for m in matches(patterns.urlBare, text, region, valid: valid) {
            guard let tldRange = m.groups.first ?? nil else { continue }
            let tld = TextUnits.string(text, tldRange)
            let lower = tld.lowercased()
            guard configuration.tlds.contains(lower) else { continue }
            // "kam.Es war": a capitalized TLD is a sentence, unless the whole domain is upper-case.
            let whole = TextUnits.string(text, m.range)
            if tld != lower && whole != whole.uppercased() { continue }
            let score = u.fileLikeTLDs.contains(lower) ? u.bareFileLike : u.commonTLDs.contains(lower) ? u.bareCommon : u.bare
            out.append(Candidate(range: trimURL(text, m.range), kind: "url", category: .pii, score: score,
                                 detector: "url.bare", priority: Priority.urlBare))
        }
    }

    // MARK: Digits, phones, cards, IBANs, ids, dates

    private func digitCandidates(_ text: UnsafeBufferPointer<UInt8>, _ region: Range<Int>, digits: Int,
                                 tokens: TokenizedText, _ out: inout [Candidate]) {
        let d = configuration.digits
        let valid = tokens.validUTF8
        var hasLetters = false, colons = 0, dots = 0
        // What `\d` can match here (any Unicode decimal digit, as PCRE2 reads it in UCP mode), at most:
        // a pattern needing more digits than this cannot match in the region.
        var possibleDigits = 0
        // The longest run of such digits in a row: a rule needing more in a row cannot match.
        var run = 0, possibleRun = 0
        // Where the first character `\d` can match is: no match of a rule that starts with a digit
        // starts before it.
        var firstDigit = region.upperBound
        var k = region.lowerBound
        while k < region.upperBound {
            let c = text[k]
            if c < 0x80 {
                if (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") { hasLetters = true }
                if c == UInt8(ascii: ":") { colons += 1 } else if c == UInt8(ascii: ".") { dots += 1 }
                if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                    firstDigit = min(firstDigit, k)
                    possibleDigits += 1
                    run += 1
                    possibleRun = max(possibleRun, run)
                } else {
                    run = 0
                }
                k += 1
            } else {
                let (scalar, length) = TextUnits.decode(text, k)
                if Self.mayBeDecimalDigit(scalar) {
                    firstDigit = min(firstDigit, k)
                    possibleDigits += 1
                    run += 1
                    possibleRun = max(possibleRun, run)
                } else {
                    run = 0
                }
                k += length
            }
        }
        // IBAN
        if hasLetters && digits >= 10 && possibleDigits >= patterns.ibanDigits {
            for m in matches(patterns.iban, text, region, valid: valid) {
                if let range = validIBAN(text, m.range) {
                    out.append(Candidate(range: range, kind: "iban", category: .pii, score: d.iban, detector: "iban.mod97",
                                         priority: Priority.iban))
                }
            }
        }
        // Card numbers
        if digits >= 12 && possibleDigits >= patterns.cardDigits {
            for m in matches(patterns.card, text, region, valid: valid) {
                let value = TextUnits.string(text, m.range)
                let compact = Validators.compact(value)
                guard (12...19).contains(compact.count), let ds = Validators.digits(compact), Validators.luhn(ds),
                      configuration.cardPrefixes.contains(where: { compact.starts(with: Array($0.utf8)) }) else { continue }
                let groups = value.split(whereSeparator: { $0 == " " || $0 == "-" }).map(\.count)
                guard groups.count == 1 || groups.allSatisfy({ $0 >= 3 }) else { continue }
                let score = hasContext(.idContext, tokens, before: m.range.lowerBound) ? max(d.card, d.idContext) : d.card
                out.append(Candidate(range: m.range, kind: "card_number", category: .pii, score: score, detector: "card.luhn",
                                     priority: Priority.card))
            }
        }
        // National identity numbers
        if digits >= 5 {
            for rule in patterns.ids where rule.minimumDigits <= possibleDigits && rule.minimumRun <= possibleRun {
                for m in matches(rule.regex, text, region, valid: valid,
                                 from: rule.startsWithDigit ? firstDigit : region.lowerBound) {
                    let spec = rule.spec
                    let value = TextUnits.string(text, m.range)
                    guard Validators.validate(spec.validator, value) else { continue }
                    let context = hasContext(.idContext, tokens, before: m.range.lowerBound)
                    if spec.needsContext && !context { continue }
                    let score = context ? max(spec.score, d.idContext) : spec.score
                    out.append(Candidate(range: m.range, kind: "national_id", category: .pii, score: score,
                                         detector: "national_id.\(spec.name)", priority: Priority.nationalID))
                }
            }
        }
        // Dates (of birth)
        if digits >= 5 {
            for rule in patterns.dates where rule.minimumDigits <= possibleDigits && rule.minimumRun <= possibleRun {
                for m in matches(rule.regex, text, region, valid: valid,
                                 from: rule.startsWithDigit ? firstDigit : region.lowerBound) {
                    guard let date = dateParts(text, m, rule) else { continue }
                    let dt = configuration.dates
                    guard (dt.minYear...dt.maxYear).contains(date.year) else { continue }
                    let birth = hasContext(.birthContext, tokens, before: m.range.lowerBound)
                    out.append(Candidate(range: m.range, kind: birth ? "date_of_birth" : "date", category: .pii,
                                         score: birth ? dt.birth : dt.plain, detector: "date.\(rule.spec.name)",
                                         priority: Priority.date))
                }
            }
        }
        // Phones
        if digits >= 6 && possibleDigits >= patterns.phoneDigits {
            for m in matches(patterns.phone, text, region, valid: valid) {
                if let (score, detector, international) = classifyPhone(text, m.range, tokens: tokens) {
                    out.append(Candidate(range: m.range, kind: "phone", category: .pii, score: score, detector: detector,
                                         priority: international ? Priority.phoneInternational : Priority.phone))
                }
            }
        }
        // IP addresses
        if dots >= 3 && digits >= 4 && possibleDigits >= patterns.ipv4Digits {
            for m in matches(patterns.ipv4, text, region, valid: valid) {
                let parts = TextUnits.string(text, m.range).split(separator: ".").compactMap { Int($0) }
                guard parts.count == 4, parts.allSatisfy({ $0 <= 255 }) else { continue }
                let score = parts.allSatisfy({ $0 < 10 }) ? configuration.ipSmallScore : configuration.ipScore
                out.append(Candidate(range: m.range, kind: "ip_address", category: .pii, score: score, detector: "ip.v4",
                                     priority: Priority.ip))
            }
        }
        if colons >= 3 {
            for m in matches(patterns.ipv6, text, region, valid: valid) {
                let value = TextUnits.string(text, m.range)
                guard value.contains("::") || value.filter({ $0 == ":" }).count >= 4
                    || value.contains(where: { "abcdefABCDEF".contains($0) }) else { continue }
                out.append(Candidate(range: m.range, kind: "ip_address", category: .pii, score: configuration.ipScore,
                                     detector: "ip.v6", priority: Priority.ip))
            }
        }
        // Any other long digit sequence, and a shorter one (5+ digits) right after an id-like label
        // ("NHC: 2846731", "MRN 123456", "Nº historia clínica: 845213")
        if digits >= Self.labelledMinimum && possibleDigits >= Self.labelledMinimum {
            for m in matches(patterns.digits, text, region, valid: valid) {
                // Digit groups (characters) between the separators " ", ".", "-", "/" the pattern allows.
                var groups: [Int] = []
                var separators: [UInt8] = []
                var current = 0
                for k in m.range {
                    let c = text[k]
                    if c == 0x20 || c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || c == UInt8(ascii: "/") {
                        if current > 0 { groups.append(current); current = 0 }
                        separators.append(c)
                    } else if c & 0xC0 != 0x80 {
                        current += 1
                    }
                }
                if current > 0 { groups.append(current) }
                let total = groups.reduce(0, +)
                guard total >= d.minRun else {
                    if total >= Self.labelledMinimum, groups.count <= 3, labelledNumber(text, tokens, before: m.range.lowerBound) {
                        out.append(Candidate(range: m.range, kind: "digits", category: .pii, score: d.idContext,
                                             detector: "digits.labelled", priority: Priority.digits))
                    }
                    continue
                }
                let context = hasContext(.idContext, tokens, before: m.range.lowerBound)
                if groups.count > 1 && !context {
                    guard groups.max()! >= 4 else { continue }
                    // 1500-2000, 1299/2006: a range or a reference, not an identifier
                    if groups.count == 2 && groups.allSatisfy({ $0 <= 4 }) { continue }
                    // 31.02.1990: shaped like a date (the date rules decide), not an identifier
                    if groups.count == 3 && groups[0] <= 2 && groups[1] <= 2 && (groups[2] == 4 || groups[2] == 2) { continue }
                    // 3.14159265 or 1,000000: a decimal number, not an identifier
                    if groups.count == 2 && separators == [UInt8(ascii: ".")] && groups[0] <= 3 { continue }
                }
                out.append(Candidate(range: m.range, kind: "digits", category: .pii, score: context ? d.idContext : d.run,
                                     detector: "digits.run", priority: Priority.digits))
            }
        }
    }

    /// The fewest digits a number after an id-like label needs to count (`labelledNumber`).
    static let labelledMinimum = 5

    /// True when an id-like label stands right before `position`: "NHC: ", "MRN ", "ID#", "Nr. ",
    /// "Nº historia clínica: ". The word right before (across spaces and ":", "#", ".", "º", "°", "=",
    /// "-") must be an `id` context word, or one of the two before it when a ":" or "#" follows the
    /// label. Without ":" or "#" the label must be an abbreviation (upper case, or followed by ".",
    /// "º", "°") or a compound of eight letters or more: "page number 12345" is no record number.
    func labelledNumber(_ text: UnsafeBufferPointer<UInt8>, _ tokens: TokenizedText, before position: Int) -> Bool {
        var i = position
        var strong = false
        var abbreviation = false
        var steps = 0
        while i > 0 && steps < 6 {
            let c = text[i - 1]
            if c == 0x20 || c == 0x09 || c == UInt8(ascii: "=") || c == UInt8(ascii: "-") { i -= 1 }
            else if c == UInt8(ascii: ":") || c == UInt8(ascii: "#") { strong = true; i -= 1 }
            else if c == UInt8(ascii: ".") { abbreviation = true; i -= 1 }
            else if i >= 2 && text[i - 2] == 0xC2 && (c == 0xBA || c == 0xB0) { abbreviation = true; i -= 2 }  // º °
            else if i >= 3 && text[i - 3] == 0xEF && text[i - 2] == 0xBC && text[i - 1] == 0x9A { strong = true; i -= 3 }  // ：
            else { break }
            steps += 1
        }
        guard i < position else { return false }  // a number glued to a word
        let all = tokens.tokens
        let k = firstIndex(all.count) { all[$0].end >= i }
        guard k < all.count, all[k].end == i else { return false }
        let label = all[k]
        if label.flags.contains(.idContext) {
            // (a long label is a compound naming the number: "Matrikelnummer", "Kundennummer")
            if strong || abbreviation || label.letterCase == .upper || label.scalarCount >= 8 { return true }
            // "Nº" ends in a letter (º is one): an abbreviation all the same
            if i >= 2 && text[i - 2] == 0xC2 && (text[i - 1] == 0xBA || text[i - 1] == 0xB0) { return true }
            return false
        }
        guard strong else { return false }
        var j = k - 1
        var seen = 0
        while j >= 0 && seen < 2 && label.start - all[j].end < 32 {
            if all[j].flags.contains(.idContext) { return true }
            j -= 1
            seen += 1
        }
        return false
    }

    /// False only for scalars that are surely not decimal digits (`\p{Nd}`): the blocks most card
    /// text is written in have none but the full-width digits; elsewhere Unicode's data decides, and
    /// a scalar this Swift does not know counts as a digit (PCRE2 may know it).
    @inline(__always)
    static func mayBeDecimalDigit(_ s: UInt32) -> Bool {
        switch s {
        case 0x80..<0x590, 0x2000..<0x2070, 0x3000..<0x3007, 0x3008..<0xA620, 0xAC00..<0xD7B0, 0xFF00..<0xFF10, 0xFF1A..<0xFFF0:
            return false
        case 0xFF10...0xFF19:
            return true
        default:
            guard let u = Unicode.Scalar(s) else { return false }
            return u.properties.numericType != nil || u.properties.generalCategory == .unassigned
        }
    }

    private func validIBAN(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int>? {
        // The pattern may run on into the next word ("... 1332 für"): take the country's length.
        var compact: [UInt8] = []
        var ends: [Int] = []
        var k = range.lowerBound
        while k < range.upperBound {
            let c = text[k]
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") || (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") {
                compact.append(c >= UInt8(ascii: "a") ? c - 32 : c)
                ends.append(k + 1)
            }
            k += 1
        }
        guard compact.count >= 4 else { return nil }
        let country = String(decoding: compact[0..<2], as: UTF8.self)
        guard let length = configuration.ibanLengths[country], compact.count >= length else { return nil }
        guard Validators.iban(Array(compact[0..<length]), lengths: configuration.ibanLengths) else { return nil }
        let end = ends[length - 1]
        // The next character must not continue the number.
        if end < range.upperBound, length < compact.count, text[end] != 0x20 { return nil }
        return range.lowerBound..<end
    }

    private func dateParts(_ text: UnsafeBufferPointer<UInt8>, _ m: TextMatch, _ rule: DigitRule<DateSpec>) -> (day: Int, month: Int, year: Int)? {
        let dayGroup = rule.spec.day, monthGroup = rule.spec.month, yearGroup = rule.spec.year
        func group(_ index: Int) -> String? {
            guard index >= 1, index <= m.groups.count, let r = m.groups[index - 1] else { return nil }
            return TextUnits.string(text, r)
        }
        func number(_ s: String?) -> Int? {
            guard let s else { return nil }
            var v = 0
            for u in s.unicodeScalars {
                guard let dv = TextUnits.digitValue(u.value) else { return nil }
                v = v * 10 + dv
            }
            return s.isEmpty ? nil : v
        }
        // day 0: a month and a year only ("mayo de 2006")
        guard var day = dayGroup == 0 ? 1 : number(group(dayGroup)), let year = number(group(yearGroup)),
              let monthText = group(monthGroup) else { return nil }
        var month: Int
        if let numeric = number(monthText) {
            month = numeric
        } else {
            var key = Substring(monthText.lowercased())
            while key.first == "." { key.removeFirst() }
            while key.last == "." { key.removeLast() }
            guard let named = configuration.monthNames[String(key)] else { return nil }
            month = named
        }
        if month > 12 && day <= 12 { swap(&day, &month) }  // 12/31/1990 (US order)
        guard Validators.validDate(year: year, month: month, day: day) else { return nil }
        return (day, month, year)
    }

    // MARK: Phone numbers

    struct PhoneShape {
        var digits: [UInt8] = []
        var groups: [Int] = []
        var plus = false
        var parens = false
    }

    static func phoneShape(_ value: String) -> PhoneShape {
        var shape = PhoneShape()
        var current = 0
        var scalars = Array(value.unicodeScalars)
        // "(0)" after a country code is the trunk prefix people keep: drop it (the first one).
        if scalars.count >= 3, let k = (0...(scalars.count - 3)).first(where: {
            scalars[$0] == "(" && scalars[$0 + 1] == "0" && scalars[$0 + 2] == ")"
        }) {
            scalars.replaceSubrange(k..<(k + 3), with: [" "])
        }
        var sawDigit = false
        for (index, s) in scalars.enumerated() {
            if let d = TextUnits.digitValue(s.value) {
                shape.digits.append(UInt8(d))
                current += 1
                sawDigit = true
                continue
            }
            if current > 0 { shape.groups.append(current); current = 0 }
            switch s {
            case "+": if !sawDigit { shape.plus = true }
            case "(", ")": shape.parens = true
            case "x", "X", "#", "e":
                // extension: stop reading digits
                if shape.digits.count >= 6 { return shape }
            default: _ = index
            }
        }
        if current > 0 { shape.groups.append(current) }
        return shape
    }

    /// True when the anchored country pattern matches the digit string.
    static func fullMatch(_ regex: PCRE2Regex, _ digits: String) -> Bool {
        var copy = digits
        return copy.withUTF8 { ((try? regex.firstMatch(in: $0)) ?? nil) != nil }
    }

    enum NationalMatch { case trunk, direct }

    /// How the digits validate as a national number of a configured country: written with the
    /// trunk prefix (030..., 0171...), or directly (ES, US, PL... have none or drop it).
    private func validNational(_ digits: String) -> NationalMatch? {
        var direct = false
        for rule in patterns.phoneCountries {
            let country = rule.spec, regex = rule.regex
            if !country.trunkPrefix.isEmpty && digits.hasPrefix(country.trunkPrefix) {
                let nsn = String(digits.dropFirst(country.trunkPrefix.count))
                if country.lengths.contains(nsn.count), Self.fullMatch(regex, nsn) { return .trunk }
            }
            if !direct && (country.trunkPrefix.isEmpty || country.direct) {
                if country.lengths.contains(digits.count), Self.fullMatch(regex, digits) { direct = true }
            }
        }
        return direct ? .direct : nil
    }

    private func validInternational(_ digits: String) -> (known: Bool, valid: Bool)? {
        for length in 1...3 where digits.count > length {
            let code = String(digits.prefix(length))
            guard configuration.callingCodes.contains(code) else { continue }
            var nsn = String(digits.dropFirst(length))
            let countries = patterns.phoneCountriesByCode[code] ?? []
            if countries.isEmpty { return (false, (6...13).contains(nsn.count)) }
            for rule in countries {
                let country = rule.spec, regex = rule.regex
                var candidates = [nsn]
                if !country.trunkPrefix.isEmpty && nsn.hasPrefix(country.trunkPrefix) {
                    candidates.append(String(nsn.dropFirst(country.trunkPrefix.count)))
                }
                for candidate in candidates where country.lengths.contains(candidate.count) {
                    if Self.fullMatch(regex, candidate) { return (true, true) }
                }
            }
            nsn = ""
            return (true, false)
        }
        return nil
    }

    /// Score, detector and whether it is an international number, or nil when it is no phone number.
    func classifyPhone(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, tokens: TokenizedText) -> (Double, String, Bool)? {
        let p = configuration.phone
        let value = TextUnits.string(text, range)
        let shape = Self.phoneShape(value)
        let digits = String(decoding: shape.digits.map { $0 + 48 }, as: UTF8.self)
        guard digits.count >= 6, digits.count <= 17 else { return nil }
        let context = hasContext(.phoneContext, tokens, before: range.lowerBound)
        let bonus = context ? p.contextBonus : 0
        let formatted = shape.groups.count >= 2

        // +49 30 1234567, 0049 30 1234567
        if shape.plus || (digits.hasPrefix("00") && !digits.hasPrefix("000")) {
            let international = shape.plus ? digits : String(digits.dropFirst(2))
            if let result = validInternational(international) {
                if result.known && result.valid { return (p.international + bonus, "phone.international", true) }
                if !result.known && result.valid { return (p.internationalOther + bonus, "phone.international", true) }
                if result.known && (7...13).contains(international.count - 2) && shape.plus {
                    return (p.internationalOther + bonus, "phone.international", true)
                }
            }
            return nil
        }
        let groups = shape.groups
        // 31.02.1990, 12/31/90: shaped like a date (even an impossible one), not like a phone number
        if groups.count == 3 && groups[0] <= 2 && groups[1] <= 2 && (groups[2] == 4 || groups[2] == 2) && !context
            && value.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/") }) { return nil }
        // Phone numbers do not end in a one-digit group (92-91-90-8443-1 is an insurance number), and
        // after the first group of three or more their groups are short (28 28 20943 is a licence).
        if groups.count >= 2 && groups.last! < 2 && !context { return nil }
        let shortTail = groups.count < 3 || groups.dropFirst().allSatisfy { $0 <= p.genericMaxGroup }
        // 34 93 693 29 05: a calling code written without "+", as its own group
        if formatted, let first = groups.first, first <= 3, shortTail || groups.count == 2,
           configuration.callingCodes.contains(String(digits.prefix(first))),
           let result = validInternational(digits), result.known && result.valid, validNational(digits) == nil {
            return (p.noPlus + bonus, "phone.international", false)
        }
        let slash = value.utf8.contains(UInt8(ascii: "/"))
        // National formats of the configured countries
        if let national = validNational(digits) {
            guard formatted || shape.parens else {
                return context ? (p.national + bonus, "phone.national", false) : nil  // bare digit runs need a word like "Tel."
            }
            guard shortTail || context else { return nil }
            if national == .direct && !context {
                // without a trunk prefix the number itself is weaker evidence
                guard digits.count >= 9, groups[0] <= 4 || shape.parens, !slash else { return nil }
            }
            return (p.national + bonus, "phone.national", false)
        }
        // Phone-like grouping of any other country: 467 3395 (with a word like "phone"), 60-56-85-91
        guard (p.genericMinDigits...p.genericMaxDigits).contains(digits.count) else { return nil }
        guard context || (groups.count >= 3 && shortTail && groups[0] <= p.genericMaxGroup && !slash) || shape.parens else { return nil }
        if !context && groups.count >= 3 && groups.dropFirst().allSatisfy({ $0 == 3 }) && groups[0] <= 3 && !shape.parens {
            return nil  // 1 234 567: thousands, not a phone number
        }
        return (p.generic + bonus, "phone.generic", false)
    }
}
