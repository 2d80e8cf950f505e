/// The fewest decimal digits any match of a PCRE2 pattern can contain, read from the pattern text.
/// A region of text with fewer digits cannot hold a match, so the pattern is not run there: most
/// numbers on cards (a year, a card number "#1234") are too short for any identity number.
///
/// The reading is conservative: `\d`, a class made only of digits (`[0-9]`, `[12]`) and literal
/// digits count; everything else counts nothing; lookarounds, back-references and anything not
/// understood count nothing, and an unreadable pattern gives 0 (always run).
///
/// `longestRun` reads, in the same conservative way, how many digits every match has in a row
/// (`\d{9}` 9, `\d{4}[ -]?\d{4}` 4): a region whose longest run of digits is shorter cannot hold a
/// match either. Only digit atoms next to each other in one sequence, each required at least once,
/// add up; anything else (an optional part, a group, a lookaround) ends the run, and a group
/// required at least once contributes the longest run inside it.
///
/// `startsWithDigit` reads whether every match begins with a decimal digit (lookarounds before it
/// aside): such a pattern cannot match before the first digit of a region, so PCRE2 need not try
/// the positions before it. Anything not understood reads as false (try every position).
enum PatternDigits {
    static func minimum(_ pattern: String) -> Int {
        var parser = Parser(Array(pattern.unicodeScalars))
        guard let value = parser.alternation(), parser.atEnd else { return 0 }
        return value.digits
    }

    static func longestRun(_ pattern: String) -> Int {
        var parser = Parser(Array(pattern.unicodeScalars))
        guard let value = parser.alternation(), parser.atEnd else { return 0 }
        return value.run
    }

    static func startsWithDigit(_ pattern: String) -> Bool {
        var parser = Parser(Array(pattern.unicodeScalars))
        guard let value = parser.alternation(), parser.atEnd else { return false }
        return value.startsWithDigit
    }

    /// What a part of a pattern guarantees: digits in all, and digits in a row; whether every match
    /// of it starts with a digit, and whether it matches no characters at all (a lookaround).
    struct Reading {
        var digits: Int
        var run: Int
        var startsWithDigit = false
        var zeroWidth = false
    }

    private struct Parser {
        let s: [Unicode.Scalar]
        var i = 0

        init(_ s: [Unicode.Scalar]) { self.s = s }

        var atEnd: Bool { i >= s.count }

        private func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 0x30 && c.value <= 0x39 }

        /// Alternatives up to `)` or the end: the least of their minimums.
        mutating func alternation() -> Reading? {
            var best = Reading(digits: Int.max, run: Int.max, startsWithDigit: true)
            while true {
                guard let value = sequence() else { return nil }
                best.digits = min(best.digits, value.digits)
                best.run = min(best.run, value.run)
                best.startsWithDigit = best.startsWithDigit && value.startsWithDigit
                if i < s.count && s[i] == "|" { i += 1; continue }
                return best
            }
        }

        /// Atoms with quantifiers up to `|`, `)` or the end.
        mutating func sequence() -> Reading? {
            var total = 0
            var current = 0, longest = 0
            // The first atom that takes characters decides whether the sequence starts with a digit
            // (nil: not decided yet); optional atoms before it must start with a digit too.
            var starts: Bool?
            var optionalsStartWithDigit = true
            while i < s.count && s[i] != "|" && s[i] != ")" {
                let isGroup = s[i] == "("
                guard let atom = atom() else { return nil }
                guard let times = quantifier() else { return nil }
                if starts == nil && !atom.zeroWidth {
                    if times >= 1 {
                        starts = optionalsStartWithDigit && atom.startsWithDigit
                    } else {
                        optionalsStartWithDigit = optionalsStartWithDigit && atom.startsWithDigit
                    }
                }
                total += atom.digits * times
                if !isGroup && atom.digits == 1 && times >= 1 {
                    // a single digit (\d, [0-9], a literal digit), required `times` times in a row
                    current += times
                    longest = max(longest, current)
                } else {
                    current = 0
                    if isGroup && times >= 1 { longest = max(longest, atom.run) }
                }
            }
            return Reading(digits: total, run: longest, startsWithDigit: starts ?? false)
        }

        /// The least repeat count of the quantifier at `i` (1 when there is none).
        mutating func quantifier() -> Int? {
            guard i < s.count else { return 1 }
            var times: Int
            switch s[i] {
            case "?", "*":
                times = 0
                i += 1
            case "+":
                times = 1
                i += 1
            case "{":
                // {n}, {n,}, {n,m} (also {,m} and spaces, as newer PCRE2 reads them): the least count
                // is the first number, or 0 without one. A "{" that is not a quantifier is not read.
                var j = i + 1
                var n = 0
                var sawNumber = false, inFirst = true
                while j < s.count && s[j] != "}" {
                    let q = s[j]
                    if isDigit(q) {
                        if inFirst { n = n * 10 + Int(q.value - 0x30); sawNumber = true }
                    } else if q == "," {
                        inFirst = false
                    } else if q != " " {
                        return nil
                    }
                    j += 1
                }
                guard j < s.count else { return nil }
                times = sawNumber ? n : 0
                i = j + 1
            default:
                return 1
            }
            // lazy or possessive
            if i < s.count && (s[i] == "?" || s[i] == "+") { i += 1 }
            return times
        }

        /// Digits of the atom at `i` (for a group, also its longest run), after which `i` is past it.
        mutating func atom() -> Reading? {
            let c = s[i]
            switch c {
            case "(":
                i += 1
                var counts = true
                if i < s.count && s[i] == "?" {
                    // (?: (?= (?! (?<= (?<! (?<name> (?| (?> ; anything else (options, callouts,
                    // conditionals) is not read.
                    guard i + 1 < s.count else { return nil }
                    let k = s[i + 1]
                    if k == ":" || k == ">" {
                        i += 2
                    } else if k == "=" || k == "!" {
                        counts = false
                        i += 2
                    } else if k == "<" && i + 2 < s.count && (s[i + 2] == "=" || s[i + 2] == "!") {
                        counts = false
                        i += 3
                    } else if k == "<" || k == "P" || k == "'" {
                        // named group: skip to the end of the name
                        var j = i + 1
                        while j < s.count && s[j] != ">" && s[j] != "'" { j += 1 }
                        guard j < s.count else { return nil }
                        i = j + 1
                    } else {
                        return nil
                    }
                }
                guard let inner = alternation(), i < s.count, s[i] == ")" else { return nil }
                i += 1
                return counts ? inner : Reading(digits: 0, run: 0, zeroWidth: true)
            case "[":
                return characterClass().map { Reading(digits: $0, run: $0, startsWithDigit: $0 == 1) }
            case "\\":
                guard i + 1 < s.count else { return nil }
                let e = s[i + 1]
                i += 2
                switch e {
                case "d":
                    return Reading(digits: 1, run: 1, startsWithDigit: true)
                case "p", "P":
                    // \pL or \p{...}
                    if i < s.count && s[i] == "{" {
                        while i < s.count && s[i] != "}" { i += 1 }
                        guard i < s.count else { return nil }
                        i += 1
                    } else {
                        i += 1
                    }
                    return Reading(digits: 0, run: 0)
                case "Q", "E", "x", "o", "g", "k", "N", "c", "u":
                    return nil  // quoting, code points, references: not read
                default:
                    // \s \w \b \2 \. \- ... : no digit for sure (a back-reference may repeat one, which
                    // only makes the true minimum larger)
                    if isDigit(e) {
                        while i < s.count && isDigit(s[i]) { i += 1 }
                    }
                    return Reading(digits: 0, run: 0)
                }
            case ")", "|":
                return nil
            default:
                i += 1
                return isDigit(c) ? Reading(digits: 1, run: 1, startsWithDigit: true) : Reading(digits: 0, run: 0)
            }
        }

        /// 1 when every character the class at `i` admits is a decimal digit, else 0.
        mutating func characterClass() -> Int? {
            i += 1  // "["
            var negated = false
            if i < s.count && s[i] == "^" { negated = true; i += 1 }
            var onlyDigits = true
            var first = true
            var previous: Unicode.Scalar?
            while i < s.count {
                let c = s[i]
                if c == "]" && !first { i += 1; return onlyDigits && !negated ? 1 : 0 }
                first = false
                if c == "[" && i + 1 < s.count && s[i + 1] == ":" { return nil }  // POSIX classes: not read
                if c == "\\" {
                    guard i + 1 < s.count else { return nil }
                    let e = s[i + 1]
                    i += 2
                    if e == "d" { previous = nil; continue }
                    if e == "p" || e == "P" {
                        if i < s.count && s[i] == "{" {
                            while i < s.count && s[i] != "}" { i += 1 }
                            guard i < s.count else { return nil }
                        }
                        i += 1
                    }
                    if e == "Q" || e == "E" || e == "x" || e == "o" || e == "N" || e == "c" { return nil }
                    onlyDigits = false
                    previous = nil
                    continue
                }
                if c == "-" && previous != nil && i + 1 < s.count && s[i + 1] != "]" {
                    // a range: both ends digits keeps the class all digits
                    let end = s[i + 1]
                    if end == "\\" || !isDigit(previous!) || !isDigit(end) { onlyDigits = false }
                    if end == "\\" { return nil }
                    i += 2
                    previous = nil
                    continue
                }
                if !isDigit(c) { onlyDigits = false }
                previous = c
                i += 1
            }
            return nil
        }
    }
}
