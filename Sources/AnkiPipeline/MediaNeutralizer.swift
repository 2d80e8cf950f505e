import AnkiPCRE2
import AnkiSubmission
import Foundation

/// Replaces every media reference in a note's fields by a neutral placeholder that keeps only its
/// kind (`[sound:audio]`, `<img src="image">`): file names are personal data (`passport_scan.jpg`),
/// and so are remote addresses and embedded `data:` images. Plain-text mentions of the package's own
/// media file names are replaced too.
public final class MediaNeutralizer: @unchecked Sendable {
    private let media: Policy.Media
    /// The package's media names (3 characters or more) as they may appear in field text.
    private let knownNames: LiteralSetSearch?
    private let lock = NSLock()
    private var replaced = 0

    /// How many references were replaced so far.
    public var replacements: Int {
        lock.lock(); defer { lock.unlock() }
        return replaced
    }

    public init(policy: Policy, mediaNames: [String]) throws {
        media = policy.media
        var forms: [[UInt8]] = []
        for name in mediaNames where name.count >= 3 { forms += Self.writtenForms(of: name) }
        knownNames = forms.isEmpty ? nil : LiteralSetSearch(forms)
    }

    /// The ways a field may write `name`: as it is, in the other Unicode normalization (Anki stores NFC,
    /// a file from a Mac may be named in NFD), HTML-escaped (Anki writes `[sound:a &amp; b.mp3]`) and
    /// percent-encoded (Anki writes `<img src="my%20photo.jpg">`).
    static func writtenForms(of name: String) -> [[UInt8]] {
        // Byte strings, not `String`s: Swift compares strings by canonical equivalence, NFC == NFD.
        var forms: [[UInt8]] = [Array(name.utf8)]
        // Most names (`paste-<sha1>.jpg`, `audio_000123.mp3`) are written one way only: ASCII that
        // neither HTML nor percent-encoding changes.
        if forms[0].allSatisfy(isUnreserved) { return forms }
        func add(_ form: String) {
            let bytes = Array(form.utf8)
            if !forms.contains(bytes) { forms.append(bytes) }
        }
        if !name.utf8.allSatisfy({ $0 < 0x80 }) {
            add(name.precomposedStringWithCanonicalMapping)
            add(name.decomposedStringWithCanonicalMapping)
        }
        for form in forms.map({ String(decoding: $0, as: UTF8.self) }) {
            var escaped = form
            if escaped.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") }) {
                escaped = escaped.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                    .replacingOccurrences(of: ">", with: "&gt;")
                add(escaped)
            }
            if escaped.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "'") }) {
                add(escaped.replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#x27;"))
            }
            add(percentEncoded(form))
        }
        return forms
    }

    /// Letters, digits and `_.-~/`: the bytes `percentEncoded` keeps (and HTML escaping never touches).
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "~"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    /// Percent-encoding as Python's `urllib.parse.quote` does it (Anki's editor for image names): every
    /// byte but letters, digits and `_.-~/`.
    static func percentEncoded(_ name: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in name.utf8 {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The kind of a reference from its name or address ("image", "audio", "video", "other").
    public func kind(of reference: String, defaultKind: String = "other") -> String {
        let lower = reference.lowercased()
        if lower.hasPrefix("data:") {
            for kind in ["image", "audio", "video"] where lower.hasPrefix("data:\(kind)/") { return kind }
            return defaultKind
        }
        var path = Substring(lower)
        if let cut = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<cut] }
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return defaultKind }
        let found = media.kind(ofExtension: String(path[path.index(after: dot)...]))
        return found == "other" ? defaultKind : found
    }

    /// The kind of a media file from its name's extension ("other" without a known one). Unlike
    /// `kind(of:)`, which reads addresses too, a `?` or `#` is part of a file name.
    func kind(ofFileName name: String) -> String {
        guard let dot = name.lastIndex(of: "."), !name[dot...].contains("/") else { return "other" }
        return media.kind(ofExtension: String(name[name.index(after: dot)...]))
    }

    /// `neutralize` on UTF-8 bytes; nil when nothing changes (most notes: no reference, no known name).
    /// One pass over the bytes for references and one for known names, without a detour through `String`.
    public func neutralize(bytes input: UnsafeBufferPointer<UInt8>) throws -> [UInt8]? {
        var count = 0
        var rewritten: [UInt8]?
        // [sound:name] -> [sound:audio|video]; <tag src="..."> -> <tag src="image">
        if input.contains(ascii: "[sound:") || input.contains(UInt8(ascii: "=")) {
            let references = try MediaReferences.find(in: input)
            if !references.isEmpty {
                var out: [UInt8] = []
                out.reserveCapacity(input.count)
                var last = 0
                for reference in references where reference.range.lowerBound >= last {
                    out.append(contentsOf: input[last..<reference.range.lowerBound])
                    let value = String(decoding: UnsafeBufferPointer(rebasing: input[reference.valueRange]), as: UTF8.self)
                    switch reference.kind {
                    case .sound:
                        let kind = kind(of: value, defaultKind: "audio") == "video" ? "video" : "audio"
                        out.append(contentsOf: "[sound:".utf8)
                        out.append(contentsOf: media.placeholder(for: kind).utf8)
                        out.append(UInt8(ascii: "]"))
                    case .attribute(let tag):
                        let defaultKind = tag == "img" ? "image" : tag == "audio" ? "audio" : tag == "video" ? "video" : "other"
                        out.append(contentsOf: input[reference.attributePrefix!])
                        out.append(UInt8(ascii: "\""))
                        out.append(contentsOf: media.placeholder(for: kind(of: value, defaultKind: defaultKind)).utf8)
                        out.append(UInt8(ascii: "\""))
                    }
                    if !media.placeholders.values.contains(value) { count += 1 }
                    last = reference.range.upperBound
                }
                out.append(contentsOf: input[last...])
                rewritten = out
            }
        }
        // Plain-text mentions of the package's own media names, in what the references left.
        if let knownNames {
            let replaced: [UInt8]? = {
                func replace(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
                    let matches = knownNames.matches(in: text)
                    guard !matches.isEmpty else { return nil }
                    var out: [UInt8] = []
                    out.reserveCapacity(text.count)
                    var last = 0
                    for match in matches {
                        out.append(contentsOf: text[last..<match.lowerBound])
                        let name = String(decoding: UnsafeBufferPointer(rebasing: text[match]), as: UTF8.self)
                        out.append(contentsOf: media.placeholder(for: kind(ofFileName: name)).utf8)
                        last = match.upperBound
                    }
                    out.append(contentsOf: text[last...])
                    count += matches.count
                    return out
                }
                if let rewritten { return rewritten.withUnsafeBufferPointer { replace($0) } }
                return replace(input)
            }()
            if let replaced { rewritten = replaced }
        }
        if count > 0 {
            lock.lock(); replaced += count; lock.unlock()
        }
        return rewritten
    }

    /// The fields with every media reference neutralized.
    public func neutralize(_ text: String) throws -> String {
        var copy = text
        let result = try copy.withUTF8 { try neutralize(bytes: $0) }
        return result.map { String(decoding: $0, as: UTF8.self) } ?? text
    }

    private static func string(_ bytes: [UInt8], _ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }
}

/// Anki's sort field: the field's text without HTML, entities decoded.
public enum SortField {
    static let tags = try! PCRE2Regex("<[^>]*>")

    /// `text(of:index:)` on UTF-8 bytes: a slice of the input when the field has no tags, no entities
    /// and no white space at its ends; otherwise the string path decides.
    static func text(of fields: UnsafeBufferPointer<UInt8>, index: Int) -> TextFunction.Result {
        var start = 0, field = 0
        while field < index, let next = fields[start...].firstIndex(of: 0x1f) {
            start = next + 1
            field += 1
        }
        guard field == index else { return .bytes([]) }
        let end = fields[start...].firstIndex(of: 0x1f) ?? fields.count
        let slice = UnsafeBufferPointer(rebasing: fields[start..<end])
        func isEdgeSafe(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x80 }
        if !slice.contains(UInt8(ascii: "<")) && !slice.contains(UInt8(ascii: "&"))
            && (slice.isEmpty || (isEdgeSafe(slice[0]) && isEdgeSafe(slice[slice.count - 1]))) {
            return .slice(start..<end)
        }
        return .bytes(Array(plainText(String(decoding: slice, as: UTF8.self)).utf8))
    }

    public static func text(of fields: String, index: Int) -> String {
        let parts = fields.split(separator: "\u{1f}", omittingEmptySubsequences: false)
        guard index >= 0, index < parts.count else { return "" }
        return plainText(String(parts[index]))
    }

    public static func plainText(_ html: String) -> String {
        var bytes = Array(html.utf8)
        if let matches = try? bytes.withUnsafeBufferPointer({ try tags.matches(in: $0) }), !matches.isEmpty {
            var out: [UInt8] = []
            var last = 0
            for match in matches {
                out.append(contentsOf: bytes[last..<match.range.lowerBound])
                last = match.range.upperBound
            }
            out.append(contentsOf: bytes[last...])
            bytes = out
        }
        return decodeEntities(String(decoding: bytes, as: UTF8.self)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let named: [String: String] = ["nbsp": " ", "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'"]

    public static func decodeEntities(_ text: String) -> String {
        guard text.containsBytes("&") else { return text }
        var result = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            result += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            if let semi = after.prefix(12).firstIndex(of: ";") {
                let name = String(after[..<semi])
                var decoded: String?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    decoded = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String($0) }
                } else if name.hasPrefix("#") {
                    decoded = UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init).map { String($0) }
                } else {
                    decoded = named[name]
                }
                if let decoded {
                    result += decoded
                    rest = after[after.index(after: semi)...]
                    continue
                }
            }
            result += "&"
            rest = after
        }
        return result + rest
    }
}
