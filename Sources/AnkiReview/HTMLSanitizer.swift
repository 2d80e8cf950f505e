/// Makes untrusted card HTML safe to show on the review page: an allow-list of formatting tags and
/// attributes, everything else dropped. No scripts, no event handlers, no links that navigate, no
/// element that loads anything (images, audio, video, frames and objects become text placeholders),
/// no `url(...)` in styles. Tags are balanced, so a field can never close the page's own elements.
///
/// This is the first of two walls: the page's Content-Security-Policy forbids inline scripts and
/// every external resource as well, so a bug here still neither runs nor fetches anything.
public struct HTMLSanitizer: Sendable {
    public init() {}

    /// Formatting elements kept as they are (attributes filtered).
    static let allowedElements: Set<String> = [
        "b", "i", "u", "s", "em", "strong", "sub", "sup", "small", "big", "mark", "del", "ins", "kbd", "code",
        "pre", "tt", "q", "cite", "abbr", "var", "samp", "p", "div", "span", "br", "hr", "wbr", "blockquote",
        "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption",
        "col", "colgroup", "h1", "h2", "h3", "h4", "h5", "h6", "ruby", "rb", "rt", "rp", "font", "center",
        "section", "article", "header", "footer", "figure", "figcaption", "details", "summary", "label",
        "strike", "nobr", "address",
    ]
    static let voidElements: Set<String> = ["br", "hr", "wbr", "col", "img", "input", "source", "track", "embed",
                                            "area", "base", "link", "meta", "param"]
    /// Elements dropped together with everything inside them.
    static let droppedWithContent: Set<String> = [
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "noscript", "noembed",
        "noframes", "template", "svg", "math", "title", "head", "textarea", "select", "xmp", "plaintext",
        "video", "audio", "canvas", "map", "portal",
    ]
    /// Elements that load something: replaced by a placeholder naming what was there.
    static let placeholderKinds: [String: String] = [
        "img": "image", "video": "video", "audio": "sound", "iframe": "embedded page", "object": "embedded object",
        "embed": "embedded object", "svg": "drawing", "canvas": "drawing",
    ]
    static let allowedAttributes: Set<String> = ["class", "title", "dir", "lang", "colspan", "rowspan", "align",
                                                 "valign", "color", "face", "size", "style", "open"]
    static let allowedStyleProperties: Set<String> = [
        "color", "background-color", "font-weight", "font-style", "font-size", "font-family", "font-variant",
        "text-decoration", "text-decoration-line", "text-align", "vertical-align", "white-space", "line-height",
        "letter-spacing", "direction", "unicode-bidi", "text-transform", "margin", "margin-left", "margin-right",
        "margin-top", "margin-bottom", "padding", "padding-left", "padding-right", "padding-top", "padding-bottom",
        "border", "border-collapse", "width", "max-width", "display", "opacity",
    ]

    /// The marker characters the review page uses to find highlighted ranges in text; they are kept in
    /// text and removed from attribute values.
    static let markerScalars: ClosedRange<UInt32> = 0xFDD0...0xFDD2

    public func sanitize(_ html: String) -> String {
        var parser = Parser(Array(html.unicodeScalars))
        var out = String()
        out.reserveCapacity(html.utf8.count)
        var open: [String] = []
        while let token = parser.next() {
            switch token {
            case .text(let text):
                out += escapeText(text)
            case .comment:
                continue
            case .start(let name, let attributes, let selfClosing):
                if Self.droppedWithContent.contains(name) {
                    if let kind = Self.placeholderKinds[name] { out += placeholder(kind, attributes: attributes) }
                    if !selfClosing && !Self.voidElements.contains(name) { parser.skipContent(of: name) }
                    continue
                }
                if let kind = Self.placeholderKinds[name] {
                    out += placeholder(kind, attributes: attributes)
                    continue
                }
                // Links are shown as text: a card on this page never navigates anywhere.
                let element = name == "a" ? "span" : name
                guard Self.allowedElements.contains(element) else { continue }
                out += "<" + element
                for (key, value) in attributes {
                    guard let kept = keep(attribute: key, value: value) else { continue }
                    out += " \(key)=\"\(escapeAttribute(kept))\""
                }
                if name == "a" { out += " data-link=\"\"" }
                out += ">"
                if !Self.voidElements.contains(element) && !selfClosing { open.append(element) }
            case .end(let name):
                let element = name == "a" ? "span" : name
                guard let index = open.lastIndex(of: element) else { continue }
                for closing in open[index...].reversed() { out += "</\(closing)>" }
                open.removeSubrange(index...)
            }
        }
        for closing in open.reversed() { out += "</\(closing)>" }
        return out
    }

    func keep(attribute name: String, value: String) -> String? {
        guard Self.allowedAttributes.contains(name) else { return nil }
        let cleaned = removeMarkers(decodeEntities(value))
        if name == "style" {
            let style = sanitizeStyle(cleaned)
            return style.isEmpty ? nil : style
        }
        return cleaned
    }

    /// Keeps `property: value` pairs whose property is on the allow-list and whose value loads nothing.
    public func sanitizeStyle(_ style: String) -> String {
        var kept: [String] = []
        for declaration in style.split(separator: ";") {
            guard let colon = declaration.firstIndex(of: ":") else { continue }
            let property = declaration[..<colon].trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            let value = declaration[declaration.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            let lowered = value.lowercased()
            guard Self.allowedStyleProperties.contains(property),
                  !lowered.contains("url("), !lowered.contains("expression"), !lowered.contains("\\"),
                  !lowered.contains("image"), !lowered.contains("@"), !lowered.contains("<"),
                  !lowered.contains("var(") else { continue }
            kept.append("\(property): \(value)")
        }
        return kept.joined(separator: "; ")
    }

    /// Note-type CSS for the preview: `@import`, `@font-face` and every `url(...)` removed, so styles
    /// can colour and size a card but never load anything.
    public func sanitizeCSS(_ css: String) -> String {
        let text = removeAtRules(css, named: ["import", "font-face", "namespace"])
        // Any value that could load something is replaced, up to the end of its declaration.
        let loaders = ["url(", "image-set(", "-webkit-image-set(", "image(", "cross-fade(", "element(", "src(",
                       "expression("]
        var out = String()
        let characters = Array(text)
        let lowered = Array(text.lowercased())
        guard characters.count == lowered.count else { return "" }
        var index = 0
        while index < characters.count {
            if let loader = loaders.first(where: { matches(lowered, $0, at: index) }) {
                _ = loader
                out += "none"
                while index < characters.count && characters[index] != ";" && characters[index] != "}" { index += 1 }
                continue
            }
            out.append(characters[index])
            index += 1
        }
        return out
    }

    private func matches(_ text: [Character], _ word: String, at index: Int) -> Bool {
        let pattern = Array(word)
        guard index + pattern.count <= text.count else { return false }
        // A function name must start a token (so `background-image(` does not match `image(`).
        if index > 0, let previous = text[index - 1].unicodeScalars.first,
           previous == "-" || ("a"..."z").contains(previous) || ("0"..."9").contains(previous) {
            return false
        }
        for offset in 0..<pattern.count where text[index + offset] != pattern[offset] { return false }
        return true
    }

    private func removeAtRules(_ css: String, named names: [String]) -> String {
        var out = String()
        var index = css.startIndex
        while index < css.endIndex {
            let character = css[index]
            if character == "@" {
                let after = css[css.index(after: index)...]
                if let name = names.first(where: { after.lowercased().hasPrefix($0) }) {
                    _ = name
                    // A statement ends at `;`, a block at its matching `}`.
                    var depth = 0
                    var cursor = index
                    while cursor < css.endIndex {
                        let c = css[cursor]
                        if c == "{" { depth += 1 }
                        if c == "}" { depth -= 1; if depth <= 0 { cursor = css.index(after: cursor); break } }
                        if c == ";" && depth == 0 { cursor = css.index(after: cursor); break }
                        cursor = css.index(after: cursor)
                    }
                    index = cursor
                    continue
                }
            }
            out.append(character)
            index = css.index(after: index)
        }
        return out
    }

    private func placeholder(_ kind: String, attributes: [(String, String)]) -> String {
        // The file name only when it is a local media name; remote addresses are not shown at all.
        var label = kind
        if let source = attributes.first(where: { $0.0 == "src" || $0.0 == "data" })?.1 {
            let decoded = removeMarkers(decodeEntities(source))
            if decoded.contains(":") || decoded.hasPrefix("//") {
                label = "remote \(kind) (not loaded)"
            } else if !decoded.isEmpty {
                label = "\(kind): \(decoded)"
            }
        }
        return "<span class=\"media-placeholder\">[\(escapeText(label))]</span>"
    }

    /// Text keeps its character references as typed (`&amp;` stays), so only `<` and `>` are escaped.
    func escapeText(_ text: String) -> String { escape(text, attribute: false) }

    /// Attribute values were decoded, so everything that could end or start markup is escaped.
    func escapeAttribute(_ text: String) -> String { escape(text, attribute: true) }

    private func escape(_ text: String, attribute: Bool) -> String {
        var out = String()
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\0": continue
            case "&" where attribute: out += "&amp;"
            case "\"" where attribute: out += "&quot;"
            case "'" where attribute: out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    func removeMarkers(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { Self.markerScalars.contains($0.value) }) else { return text }
        // A marker is U+FDD0, digits, U+FDD2 (open) or U+FDD1 (close); drop them with their digits.
        var out = String.UnicodeScalarView()
        var skippingDigits = false
        for scalar in text.unicodeScalars {
            if scalar.value == 0xFDD0 { skippingDigits = true; continue }
            if scalar.value == 0xFDD2 { skippingDigits = false; continue }
            if scalar.value == 0xFDD1 { continue }
            if skippingDigits && ("0"..."9").contains(scalar) { continue }
            skippingDigits = false
            out.append(scalar)
        }
        return String(out)
    }

    /// Decodes character references in an attribute value (so `java&#115;cript:` is seen for what it is).
    func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return HTMLEntities.decode(text)
    }
}

/// A lenient HTML tokenizer: enough of the HTML parsing rules to find tags, attributes, comments and
/// raw-text elements the way a browser would, never failing.
struct Parser {
    enum Token {
        case text(String)
        case start(String, [(String, String)], selfClosing: Bool)
        case end(String)
        case comment
    }

    private let scalars: [Unicode.Scalar]
    private var position = 0

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    mutating func next() -> Token? {
        guard position < scalars.count else { return nil }
        if scalars[position] == "<", let token = tag() { return token }
        // Text up to the next `<` that starts a tag (a lone `<` is text).
        let start = position
        position += 1
        while position < scalars.count && scalars[position] != "<" { position += 1 }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars[start..<position])
        return .text(String(text))
    }

    /// Skips everything up to and including `</name>` (or to the end).
    mutating func skipContent(of name: String) {
        let closing = Array("</\(name)".unicodeScalars)
        var depth = 1
        let opening = Array("<\(name)".unicodeScalars)
        let nests = !["script", "style", "textarea", "title", "xmp", "plaintext", "noscript", "noembed", "noframes", "iframe"]
            .contains(name)
        while position < scalars.count {
            if matches(closing, at: position) && boundary(at: position + closing.count) {
                depth -= 1
                position += closing.count
                while position < scalars.count && scalars[position] != ">" { position += 1 }
                position = min(scalars.count, position + 1)
                if depth == 0 || !nests { return }
                continue
            }
            if nests && matches(opening, at: position) && boundary(at: position + opening.count) { depth += 1 }
            position += 1
        }
    }

    private func boundary(at index: Int) -> Bool {
        guard index < scalars.count else { return true }
        let c = scalars[index]
        return c == ">" || c == "/" || c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}"
    }

    private func matches(_ pattern: [Unicode.Scalar], at index: Int) -> Bool {
        guard index + pattern.count <= scalars.count else { return false }
        for (offset, expected) in pattern.enumerated() {
            let actual = scalars[index + offset]
            if actual != expected && lower(actual) != expected { return false }
        }
        return true
    }

    private func lower(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
    }

    private func isNameStart(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }

    private func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar == "\u{0C}"
    }

    private mutating func tag() -> Token? {
        let start = position
        guard start + 1 < scalars.count else { return nil }
        let second = scalars[start + 1]
        if second == "!" || second == "?" {
            // Comments, doctypes, processing instructions: dropped whole.
            if matches(Array("<!--".unicodeScalars), at: start) {
                var index = start + 4
                while index < scalars.count && !matches(Array("-->".unicodeScalars), at: index) { index += 1 }
                position = min(scalars.count, index + 3)
            } else {
                var index = start + 2
                while index < scalars.count && scalars[index] != ">" { index += 1 }
                position = min(scalars.count, index + 1)
            }
            return .comment
        }
        var index = start + 1
        var closing = false
        if second == "/" {
            closing = true
            index += 1
        }
        guard index < scalars.count, isNameStart(scalars[index]) else {
            if closing && index < scalars.count {
                // `</ ...>` and similar: a bogus comment, dropped.
                while index < scalars.count && scalars[index] != ">" { index += 1 }
                position = min(scalars.count, index + 1)
                return .comment
            }
            return nil
        }
        var name = String.UnicodeScalarView()
        while index < scalars.count && !isSpace(scalars[index]) && scalars[index] != "/" && scalars[index] != ">" {
            name.append(lower(scalars[index]))
            index += 1
        }
        var attributes: [(String, String)] = []
        var selfClosing = false
        while index < scalars.count {
            while index < scalars.count && (isSpace(scalars[index]) || scalars[index] == "/") {
                if scalars[index] == "/" { selfClosing = true }
                index += 1
            }
            guard index < scalars.count else { break }
            if scalars[index] == ">" { index += 1; break }
            selfClosing = false
            var key = String.UnicodeScalarView()
            // An attribute name may start with `=` per the spec; take at least one character.
            repeat {
                key.append(lower(scalars[index]))
                index += 1
            } while index < scalars.count && !isSpace(scalars[index]) && scalars[index] != "/" && scalars[index] != ">"
                && scalars[index] != "="
            while index < scalars.count && isSpace(scalars[index]) { index += 1 }
            var value = String.UnicodeScalarView()
            if index < scalars.count && scalars[index] == "=" {
                index += 1
                while index < scalars.count && isSpace(scalars[index]) { index += 1 }
                if index < scalars.count && (scalars[index] == "\"" || scalars[index] == "'") {
                    let quote = scalars[index]
                    index += 1
                    while index < scalars.count && scalars[index] != quote {
                        value.append(scalars[index])
                        index += 1
                    }
                    index += 1
                } else {
                    while index < scalars.count && !isSpace(scalars[index]) && scalars[index] != ">" {
                        value.append(scalars[index])
                        index += 1
                    }
                }
            }
            let keyText = String(key)
            if !attributes.contains(where: { $0.0 == keyText }) { attributes.append((keyText, String(value))) }
        }
        position = min(scalars.count, index)
        let tagName = String(name)
        return closing ? .end(tagName) : .start(tagName, attributes, selfClosing: selfClosing)
    }
}

/// HTML character references: the numeric forms and the named ones card text actually uses.
enum HTMLEntities {
    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}", "colon": ":",
        "tab": "\t", "newline": "\n", "lpar": "(", "rpar": ")", "sol": "/", "bsol": "\\", "num": "#",
        "period": ".", "comma": ",", "semi": ";", "equals": "=",
    ]

    static func decode(_ text: String) -> String {
        var out = String()
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            guard scalars[index] == "&" else {
                out.unicodeScalars.append(scalars[index])
                index += 1
                continue
            }
            var end = index + 1
            while end < scalars.count && end - index < 12 && scalars[end] != ";" && scalars[end] != "&"
                && !(scalars[end] == " ") { end += 1 }
            let body = String(String.UnicodeScalarView(scalars[(index + 1)..<min(end, scalars.count)]))
            var replacement: String?
            if body.hasPrefix("#x") || body.hasPrefix("#X") {
                replacement = UInt32(body.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String($0) }
            } else if body.hasPrefix("#") {
                replacement = UInt32(body.dropFirst(1)).flatMap(Unicode.Scalar.init).map { String($0) }
            } else {
                replacement = named[body.lowercased()]
            }
            if let replacement {
                out += replacement
                index = end < scalars.count && scalars[end] == ";" ? end + 1 : end
            } else {
                out += "&"
                index += 1
            }
        }
        return out
    }
}
