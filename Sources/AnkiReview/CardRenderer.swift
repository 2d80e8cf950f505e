import AnkiReader
import AnkiScanner

/// Renders a card the way Anki shows it, for the preview only: the note type's question and answer
/// templates with field substitution, `{{FrontSide}}`, `{{#Field}}`/`{{^Field}}` sections, filters
/// (`text:`, `cloze:`, `hint:`, `type:`, `furigana:`/`kana:`/`kanji:`) and cloze deletions. The result is
/// sanitized ([HTMLSanitizer]) and the scanner's findings become `<mark>` elements with a tooltip.
/// Templates and CSS never leave this preview; the submission keeps neither.
public struct CardRenderer: Sendable {
    public struct Context: Sendable {
        public var noteTypeName: String
        public var templateName: String
        public var deckName: String
        public var tags: [String]
        /// 0-based card ordinal (for cloze note types, the cloze number minus one).
        public var ord: Int
        public init(noteTypeName: String, templateName: String, deckName: String, tags: [String], ord: Int) {
            self.noteTypeName = noteTypeName
            self.templateName = templateName
            self.deckName = deckName
            self.tags = tags
            self.ord = ord
        }
    }

    public struct Rendered: Sendable, Equatable {
        public var question: String
        public var answer: String
    }

    let sanitizer = HTMLSanitizer()

    public init() {}

    /// Renders one card. `fields` are the note's fields in note-type order; `findings` are the
    /// scanner's findings for this note (byte ranges into the original fields).
    public func render(noteType: NoteType, template: NoteType.Template, fields: [String], findings: [Finding],
                       context: Context) -> Rendered {
        let marked = Self.markFields(fields, findings: findings)
        var values: [String: String] = [:]
        for field in noteType.fields where field.ord < marked.count { values[field.name] = marked[field.ord] }
        let raw = Raw(values: values, context: context, cloze: noteType.kind == .cloze)
        let question = raw.render(template.questionFormat, frontSide: nil, answer: false)
        let answer = raw.render(template.answerFormat, frontSide: question, answer: true)
        return Rendered(question: finish(question, findings: findings), answer: finish(answer, findings: findings))
    }

    /// Sanitizes, turns `[sound:…]` into placeholders and markers into highlights.
    func finish(_ html: String, findings: [Finding]) -> String {
        let withSounds = Self.replaceSoundTags(html)
        return Self.replaceMarkers(sanitizer.sanitize(withSounds), findings: findings)
    }

    // MARK: Finding markers

    /// Inserts U+FDD0 index U+FDD2 … U+FDD1 around each finding's byte range (overlapping findings
    /// after the first are listed but not highlighted). Marker characters already in the text are
    /// replaced by U+FFFD first (same UTF-8 length, so offsets stay valid).
    static func markFields(_ fields: [String], findings: [Finding]) -> [String] {
        var result: [String] = []
        for (index, field) in fields.enumerated() {
            var bytes = Array(field.utf8)
            var i = 0
            while i + 2 < bytes.count {
                if bytes[i] == 0xEF && bytes[i + 1] == 0xB7 && (0x90...0x92).contains(bytes[i + 2]) {
                    bytes[i + 1] = 0xBF
                    bytes[i + 2] = 0xBD
                }
                i += 1
            }
            var ranges: [(start: Int, end: Int, finding: Int)] = []
            for (number, finding) in findings.enumerated() where finding.field == index {
                guard finding.start >= 0, finding.end <= bytes.count, finding.start < finding.end,
                      isBoundary(bytes, finding.start), isBoundary(bytes, finding.end) else { continue }
                if ranges.contains(where: { $0.start < finding.end && finding.start < $0.end }) { continue }
                ranges.append((finding.start, finding.end, number))
            }
            for range in ranges.sorted(by: { $0.start > $1.start }) {
                bytes.insert(contentsOf: markClose, at: range.end)
                bytes.insert(contentsOf: markOpenStart + Array(String(range.finding).utf8) + markOpenEnd, at: range.start)
            }
            result.append(String(decoding: bytes, as: UTF8.self))
        }
        return result
    }

    // U+FDD0, U+FDD2 and U+FDD1 in UTF-8 (noncharacters, which Swift string literals refuse).
    static let markOpenStart: [UInt8] = [0xEF, 0xB7, 0x90]
    static let markOpenEnd: [UInt8] = [0xEF, 0xB7, 0x92]
    static let markClose: [UInt8] = [0xEF, 0xB7, 0x91]

    private static func isBoundary(_ bytes: [UInt8], _ offset: Int) -> Bool {
        offset == bytes.count || (bytes[offset] & 0xC0) != 0x80
    }

    static func replaceMarkers(_ html: String, findings: [Finding]) -> String {
        guard html.unicodeScalars.contains(where: { HTMLSanitizer.markerScalars.contains($0.value) }) else { return html }
        var out = String()
        var digits = ""
        var inOpen = false
        var depth = 0
        for scalar in html.unicodeScalars {
            switch scalar.value {
            case 0xFDD0:
                inOpen = true
                digits = ""
            case 0xFDD2:
                inOpen = false
                if let index = Int(digits), index < findings.count {
                    out += markOpen(findings[index])
                    depth += 1
                }
            case 0xFDD1:
                if depth > 0 {
                    out += "</mark>"
                    depth -= 1
                }
            default:
                if inOpen { digits.unicodeScalars.append(scalar) } else { out.unicodeScalars.append(scalar) }
            }
        }
        for _ in 0..<depth { out += "</mark>" }
        return out
    }

    static func markOpen(_ finding: Finding) -> String {
        let kind = safeToken(finding.kind)
        let label = FindingLabels.label(finding.kind)
        let title = "\(label) (detector: \(finding.detector), score \(Int((finding.score * 100).rounded())) %)"
        return "<mark class=\"finding kind-\(kind) \(finding.category.rawValue)\" data-kind=\"\(kind)\" "
            + "title=\"\(HTMLSanitizer().escapeAttribute(title))\">"
    }

    static func safeToken(_ text: String) -> String {
        String(text.unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
            .map(Character.init))
    }

    static func replaceSoundTags(_ html: String) -> String {
        guard html.contains("[sound:") else { return html }
        var out = String()
        var rest = Substring(html)
        while let start = rest.range(of: "[sound:") {
            out += rest[..<start.lowerBound]
            guard let close = rest[start.upperBound...].firstIndex(of: "]") else {
                out += rest[start.lowerBound...]
                rest = ""
                break
            }
            let name = rest[start.upperBound..<close]
            out += "<span class=\"media-placeholder\">[sound: \(name.replacingOccurrences(of: "<", with: "&lt;"))]</span>"
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out
    }
}

/// The template language, on raw (unsanitized) text.
struct Raw {
    let values: [String: String]
    let context: CardRenderer.Context
    let cloze: Bool

    func render(_ template: String, frontSide: String?, answer: Bool) -> String {
        var out = String()
        var rest = Substring(template)
        // Section stack: (field name, inverted, parent output, whether the section shows).
        var stack: [(name: String, inverted: Bool, saved: String, shown: Bool)] = []
        var showing: Bool { stack.allSatisfy(\.shown) }
        while let open = rest.range(of: "{{") {
            if showing { out += rest[..<open.lowerBound] }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                if showing { out += rest[open.lowerBound...] }
                rest = ""
                break
            }
            let tag = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            rest = rest[close.upperBound...]
            if let first = tag.first, first == "#" || first == "^" {
                let name = String(tag.dropFirst()).trimmingCharacters(in: .whitespaces)
                let nonEmpty = !Self.isEmpty(value(of: name) ?? "")
                stack.append((name, first == "^", "", first == "#" ? nonEmpty : !nonEmpty))
                continue
            }
            if tag.hasPrefix("/") {
                let name = String(tag.dropFirst()).trimmingCharacters(in: .whitespaces)
                if let index = stack.lastIndex(where: { $0.name == name }) { stack.removeSubrange(index...) }
                continue
            }
            guard showing else { continue }
            if tag == "FrontSide" {
                out += frontSide ?? ""
                continue
            }
            out += substitute(tag, answer: answer)
        }
        if showing { out += rest }
        return out
    }

    private func value(of name: String) -> String? {
        if let field = values[name] { return field }
        switch name {
        case "Tags": return context.tags.joined(separator: " ")
        case "Type": return context.noteTypeName
        case "Deck": return context.deckName
        case "Subdeck": return context.deckName.components(separatedBy: "::").last ?? context.deckName
        case "Card": return context.templateName
        case "CardFlag": return ""
        default: return nil
        }
    }

    private func substitute(_ tag: String, answer: Bool) -> String {
        var parts = tag.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let name = parts.removeLast()
        let filters = parts.reversed().map { $0.trimmingCharacters(in: .whitespaces) }
        guard var text = value(of: name.trimmingCharacters(in: .whitespaces)) else {
            // Anki shows an unknown field as an error in the card; here it is simply left out.
            return ""
        }
        for filter in filters {
            switch filter {
            case "text": text = Self.stripHTML(text)
            case "cloze", "cloze-only": text = cloze ? Cloze.render(text, ord: context.ord + 1, answer: answer) : text
            case "hint": text = "<details class=\"hint\"><summary>Show hint</summary>\(text)</details>"
            case "type": text = "<span class=\"type-box\">[typing box]</span>"
            case "furigana": text = Ruby.furigana(text)
            case "kana": text = Ruby.kana(text)
            case "kanji": text = Ruby.kanji(text)
            case let f where f.hasPrefix("tts"): text = "<span class=\"media-placeholder\">[read aloud]</span>"
            default: continue
            }
        }
        return text
    }

    static func isEmpty(_ text: String) -> Bool {
        var rest = text
        for token in ["<br>", "<br/>", "<br />", "<div>", "</div>", "&nbsp;"] {
            rest = rest.replacingOccurrences(of: token, with: "", options: .caseInsensitive)
        }
        return rest.allSatisfy(\.isWhitespace)
    }

    /// The text between tags (on UTF-8 bytes: `<` and `>` never occur inside a multi-byte character).
    static func stripHTML(_ html: String) -> String {
        var text = html
        return text.withUTF8 { bytes in
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var inTag = false
            for byte in bytes {
                if byte == UInt8(ascii: "<") { inTag = true; continue }
                if byte == UInt8(ascii: ">") && inTag { inTag = false; continue }
                if !inTag { out.append(byte) }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}

/// Cloze deletions: `{{c1::answer}}`, `{{c1::answer::hint}}`, nested ones included.
enum Cloze {
    static func render(_ text: String, ord: Int, answer: Bool) -> String {
        let scalars = Array(text.unicodeScalars)
        var index = 0
        return render(scalars, &index, ord: ord, answer: answer, stopAtClose: false)
    }

    private static func render(_ s: [Unicode.Scalar], _ i: inout Int, ord: Int, answer: Bool, stopAtClose: Bool) -> String {
        var out = String()
        while i < s.count {
            if stopAtClose && s[i] == "}" && i + 1 < s.count && s[i + 1] == "}" { return out }
            if s[i] == "{", i + 3 < s.count, s[i + 1] == "{", s[i + 2] == "c" || s[i + 2] == "C" {
                var j = i + 3
                var number = 0
                var digits = 0
                while j < s.count, let d = Int(String(s[j])), ("0"..."9").contains(s[j]) {
                    number = number * 10 + d
                    digits += 1
                    j += 1
                }
                if digits > 0, j + 1 < s.count, s[j] == ":", s[j + 1] == ":" {
                    i = j + 2
                    let inner = render(s, &i, ord: ord, answer: answer, stopAtClose: true)
                    if i < s.count { i += 2 }
                    // Split off the hint at the last top-level `::`.
                    var body = inner
                    var hint: String?
                    if let range = inner.range(of: "::", options: .backwards) {
                        body = String(inner[..<range.lowerBound])
                        hint = String(inner[range.upperBound...])
                    }
                    if number == ord {
                        out += answer
                            ? "<span class=\"cloze\">\(body)</span>"
                            : "<span class=\"cloze\">[\(hint ?? "...")]</span>"
                    } else {
                        out += body
                    }
                    continue
                }
            }
            out.unicodeScalars.append(s[i])
            i += 1
        }
        return out
    }
}

/// Japanese readings in Anki's ` 漢字[かんじ]` notation.
enum Ruby {
    private static func transform(_ text: String, _ body: (String, String) -> String) -> String {
        var out = String()
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "["), let close = rest[open...].firstIndex(of: "]") {
            var base = rest[..<open]
            var prefix = Substring("")
            if let space = base.lastIndex(of: " ") {
                prefix = base[...space]
                base = base[base.index(after: space)...]
                prefix = prefix.dropLast()
            }
            out += prefix
            out += body(String(base), String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out
    }

    static func furigana(_ text: String) -> String { transform(text) { "<ruby><rb>\($0)</rb><rt>\($1)</rt></ruby>" } }
    static func kana(_ text: String) -> String { transform(text) { $1 } }
    static func kanji(_ text: String) -> String { transform(text) { base, _ in base } }
}
