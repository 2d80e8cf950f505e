import AnkiPCRE2

/// Where note fields name media: `[sound:NAME]`, and `src`/`data`/`poster` attributes of any HTML tag
/// (quoted either way or bare). Shared by the pipeline, which replaces them, and the audit, which
/// checks that only placeholders remain.
public enum MediaReferences {
    public enum Kind: Sendable { case sound, attribute(tag: String) }

    public struct Reference: Sendable {
        /// The byte range of the whole replaceable text (`[sound:x]`, or `src="x"` inside a tag).
        public let range: Range<Int>
        /// The byte range of the name or address alone.
        public let valueRange: Range<Int>
        public let kind: Kind
        /// For attributes: the text before the value (`src=`), to rebuild it.
        public let attributePrefix: Range<Int>?
    }

    static let sound = try! PCRE2Regex(#"\[sound:([^\]\x1f]*)\]"#)
    static let tag = try! PCRE2Regex(#"<([a-z][a-z0-9]*)\b[^>]*>"#, options: .caseless)
    static let attribute = try! PCRE2Regex(#"(\s(?:src|data|poster)\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s>"']+))"#,
                                           options: .caseless)

    /// All references in `bytes` (UTF-8), in order.
    public static func find(in bytes: UnsafeBufferPointer<UInt8>) throws -> [Reference] {
        var found: [Reference] = []
        for match in try sound.matches(in: bytes) {
            found.append(Reference(range: match.range, valueRange: match.groups[0]!, kind: .sound, attributePrefix: nil))
        }
        for tagMatch in try tag.matches(in: bytes) {
            let tagName = String(decoding: UnsafeBufferPointer(rebasing: bytes[tagMatch.groups[0]!]), as: UTF8.self)
                .lowercased()
            let inside = UnsafeBufferPointer(rebasing: bytes[tagMatch.range])
            for match in try attribute.matches(in: inside) {
                let offset = tagMatch.range.lowerBound
                guard let value = match.groups[1] ?? match.groups[2] ?? match.groups[3] else { continue }
                let prefix = match.groups[0]!
                found.append(Reference(
                    range: (prefix.lowerBound + offset)..<(match.range.upperBound + offset),
                    valueRange: (value.lowerBound + offset)..<(value.upperBound + offset),
                    kind: .attribute(tag: tagName),
                    attributePrefix: (prefix.lowerBound + offset)..<(prefix.upperBound + offset)))
            }
        }
        return found.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }
}
