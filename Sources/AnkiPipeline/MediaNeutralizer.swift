import AnkiPCRE2
import AnkiSubmission
import Foundation

/// Replaces every media reference in a note's fields by a neutral placeholder that keeps only its
/// kind (`[sound:audio]`, `<img src="image">`): file names are personal data (`passport_scan.jpg`),
/// and so are remote addresses and embedded `data:` images. Plain-text mentions of the package's own
/// media file names are replaced too.
public final class MediaNeutralizer: @unchecked Sendable {
    private let media: Policy.Media
    private let knownNames: PCRE2Regex?
    private let lock = NSLock()
    private var replaced = 0

    /// How many references were replaced so far.
    public var replacements: Int {
        lock.lock(); defer { lock.unlock() }
        return replaced
    }

    public init(policy: Policy, mediaNames: [String]) throws {
        media = policy.media
        let names = mediaNames.filter { $0.count >= 3 }.sorted { $0.utf8.count > $1.utf8.count }
        knownNames = names.isEmpty ? nil
            : try PCRE2Regex(names.map { "\\Q" + $0.replacingOccurrences(of: "\\E", with: "\\E\\\\E\\Q") + "\\E" }
                .joined(separator: "|"))
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

    /// `neutralize` on UTF-8 bytes; nil when nothing changes (most notes: no reference, no known name).
    public func neutralize(bytes: UnsafeBufferPointer<UInt8>) throws -> [UInt8]? {
        var mayChange = false
        if bytes.contains(ascii: "[sound:") || bytes.contains(UInt8(ascii: "=")) {
            mayChange = try !MediaReferences.find(in: bytes).isEmpty
        }
        if !mayChange, let knownNames {
            mayChange = try knownNames.firstMatch(in: bytes) != nil
        }
        guard mayChange else { return nil }
        return Array(try neutralize(String(decoding: bytes, as: UTF8.self)).utf8)
    }

    /// The fields with every media reference neutralized.
    public func neutralize(_ text: String) throws -> String {
        guard text.containsBytes("[sound:") || text.containsBytes("=") || knownNames != nil else { return text }
        var bytes = Array(text.utf8)
        var count = 0
        // [sound:name] -> [sound:audio|video]; <tag src="..."> -> <tag src="image">
        let references = try bytes.withUnsafeBufferPointer { try MediaReferences.find(in: $0) }
        if !references.isEmpty {
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var last = 0
            for reference in references where reference.range.lowerBound >= last {
                out.append(contentsOf: bytes[last..<reference.range.lowerBound])
                let value = Self.string(bytes, reference.valueRange)
                switch reference.kind {
                case .sound:
                    let kind = kind(of: value, defaultKind: "audio") == "video" ? "video" : "audio"
                    out.append(contentsOf: "[sound:\(media.placeholder(for: kind))]".utf8)
                case .attribute(let tag):
                    let defaultKind = tag == "img" ? "image" : tag == "audio" ? "audio" : tag == "video" ? "video" : "other"
                    let placeholder = media.placeholder(for: kind(of: value, defaultKind: defaultKind))
                    out.append(contentsOf: bytes[reference.attributePrefix!])
                    out.append(contentsOf: "\"\(placeholder)\"".utf8)
                }
                if !media.placeholders.values.contains(value) { count += 1 }
                last = reference.range.upperBound
            }
            out.append(contentsOf: bytes[last...])
            bytes = out
        }
        if let knownNames {
            bytes = try replace(bytes, with: knownNames) { match, source in
                count += 1
                return Array(media.placeholder(for: kind(of: Self.string(source, match.range))).utf8)
            }
        }
        if count > 0 {
            lock.lock(); replaced += count; lock.unlock()
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func replace(_ bytes: [UInt8], with regex: PCRE2Regex,
                         _ replacement: (PCRE2Match, [UInt8]) throws -> [UInt8]) throws -> [UInt8] {
        let matches = try bytes.withUnsafeBufferPointer { try regex.matches(in: $0) }
        guard !matches.isEmpty else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var last = 0
        for match in matches where match.range.lowerBound >= last {
            out.append(contentsOf: bytes[last..<match.range.lowerBound])
            out.append(contentsOf: try replacement(match, bytes))
            last = match.range.upperBound
        }
        out.append(contentsOf: bytes[last...])
        return out
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
