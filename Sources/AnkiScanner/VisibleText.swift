/// The text a learner sees on a card, made from a field's HTML: tags removed (block tags become a
/// line break so words do not run together), entities decoded, cloze markup `{{c1::answer::hint}}`
/// unwrapped to `answer` and `hint`, `[sound:...]` dropped. Every visible byte remembers which bytes
/// of the original produced it, so a finding maps back to a range of the original field.
struct VisibleText {
    enum Mode {
        /// A note field: HTML with cloze markup.
        case html
        /// Plain text (the survey's free text).
        case plain
        /// A note's tags or a media file name: `_` and `:` separate words; names may be lowercase.
        case identifier
    }

    /// The visible bytes: `source` itself, or what was written to the caller's buffer.
    let text: UnsafeBufferPointer<UInt8>
    /// True when `text` was rendered from HTML (offsets differ from the original's).
    private var rendered = false
    /// Original byte ranges of media file names referenced by the field.
    private(set) var mediaReferences: [Range<Int>] = []

    /// Makes the visible text of `source`, writing it to `buffer` (room for `source.count` bytes, which
    /// the visible text never exceeds) when it differs from `source`. `text` is valid while `source`
    /// and `buffer` are.
    init(_ source: UnsafeBufferPointer<UInt8>, mode: Mode, buffer: UnsafeMutablePointer<UInt8>) {
        switch mode {
        case .plain:
            text = source
        case .identifier:
            var needsCopy = false
            for b in source where b == UInt8(ascii: "_") || b == UInt8(ascii: ":") || b == 0 { needsCopy = true; break }
            if needsCopy {
                for (k, b) in source.enumerated() {
                    buffer[k] = b == UInt8(ascii: "_") || b == UInt8(ascii: ":") || b == 0 ? UInt8(ascii: " ") : b
                }
                text = UnsafeBufferPointer(start: buffer, count: source.count)
            } else {
                text = source
            }
        case .html:
            if Self.hasMarkup(source) {
                var references: [Range<Int>] = []
                let length = Self.render(source, buffer, nil, nil, &references)
                text = UnsafeBufferPointer(start: buffer, count: length)
                mediaReferences = references
                rendered = true
            } else {
                text = source
            }
        }
    }

    /// True when `source` has "<", "&", "{" or "[": what tags, entities, clozes and sounds start with.
    /// Sixteen bytes at a time (most fields are plain text).
    static func hasMarkup(_ source: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = source.baseAddress else { return false }
        let n = source.count
        let raw = UnsafeRawPointer(base)
        var i = 0
        // (the constants as local vectors: written inline in the compares, the compiler makes a loop
        // over the sixteen lanes of each)
        let lt = splat("<"), amp = splat("&"), brace = splat("{"), bracket = splat("[")
        while i + 16 <= n {
            let v = raw.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
            if anyLane(v .== lt .| v .== amp .| v .== brace .| v .== bracket) { return true }
            i &+= 16
        }
        if i < n && n >= 16 {
            // the last sixteen bytes, some of them tested already (no byte loop for the rest)
            let v = raw.loadUnaligned(fromByteOffset: n - 16, as: SIMD16<UInt8>.self)
            return anyLane(v .== lt .| v .== amp .| v .== brace .| v .== bracket)
        }
        while i < n {
            let b = base[i]
            if b == UInt8(ascii: "<") || b == UInt8(ascii: "&") || b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { return true }
            i += 1
        }
        return false
    }

    /// `byte` in all sixteen lanes.
    @inline(__always)
    static func splat(_ byte: Unicode.Scalar) -> SIMD16<UInt8> { SIMD16(repeating: UInt8(ascii: byte)) }

    /// True when some lane of `mask` is set. (`any(_:)` is a call to a generic reduction; the mask's
    /// two 64-bit halves are tested in registers.)
    @inline(__always)
    static func anyLane(_ mask: SIMDMask<SIMD16<Int8>>) -> Bool {
        let halves = unsafeBitCast(mask, to: SIMD2<UInt64>.self)
        return halves[0] | halves[1] != 0
    }

    /// The first lane of `mask` that is set, or 16.
    @inline(__always)
    static func firstLane(_ mask: SIMDMask<SIMD16<Int8>>) -> Int {
        let halves = unsafeBitCast(mask, to: SIMD2<UInt64>.self)
        if halves[0] != 0 { return halves[0].trailingZeroBitCount >> 3 }
        if halves[1] != 0 { return 8 + halves[1].trailingZeroBitCount >> 3 }
        return 16
    }

    /// Maps visible ranges back to ranges of the original field. Made only when a field has
    /// findings: rendering the HTML again with the offsets is cheaper than keeping them for every
    /// field (most fields have none).
    struct OriginMap {
        /// For each visible byte, the original range of what produced it; empty when offsets are unchanged.
        fileprivate var origin: [Int32] = []
        fileprivate var originEnd: [Int32] = []

        /// The original range for a visible range.
        func originalRange(_ range: Range<Int>) -> Range<Int> {
            guard !origin.isEmpty, !range.isEmpty else { return range }
            return Int(origin[range.lowerBound])..<Int(originEnd[range.upperBound - 1])
        }
    }

    /// The map from visible to original offsets (`source` is the text this was made from) for the
    /// visible bytes before `end` at least: rendering stops there (most findings are near the start
    /// of their field, and rendering the rest again was most of the cost of a long field's map).
    func originMap(_ source: UnsafeBufferPointer<UInt8>, upTo end: Int) -> OriginMap {
        // Identifier mode replaces bytes one for one: offsets are unchanged.
        guard rendered else { return OriginMap() }
        let n = source.count
        var references: [Range<Int>] = []
        var length = 0
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: max(n, 1))
        defer { out.deallocate() }
        var ends: [Int32] = []
        let starts = [Int32](unsafeUninitializedCapacity: n) { from, fromCount in
            ends = [Int32](unsafeUninitializedCapacity: n) { to, toCount in
                length = Self.render(source, out, from.baseAddress, to.baseAddress, &references, upTo: end)
                toCount = length
            }
            fromCount = length
        }
        return OriginMap(origin: starts, originEnd: ends)
    }

    /// The visible text of HTML `source` and the media it refers to, rendered as the origin map
    /// renders it: ordinary bytes one at a time, without the vector shortcut of `init` (for tests
    /// that compare the two).
    static func renderedByteByByte(_ source: UnsafeBufferPointer<UInt8>) -> (text: [UInt8], media: [Range<Int>]) {
        let n = source.count
        var references: [Range<Int>] = []
        let from = UnsafeMutablePointer<Int32>.allocate(capacity: max(n, 1))
        let to = UnsafeMutablePointer<Int32>.allocate(capacity: max(n, 1))
        defer { from.deallocate(); to.deallocate() }
        let text = [UInt8](unsafeUninitializedCapacity: max(n, 1)) { out, count in
            count = render(source, out.baseAddress!, from, to, &references)
        }
        return (text, references)
    }

    // MARK: - HTML

    /// What a tag name means for the visible text.
    struct TagKind: OptionSet {
        let rawValue: UInt8
        /// Ends a line: words on either side do not run together.
        static let block = TagKind(rawValue: 1)
        /// May refer to a media file (`src`).
        static let media = TagKind(rawValue: 2)
        /// `<style>`, `<script>`: the content up to the closing tag is not visible.
        static let hidden = TagKind(rawValue: 4)
        static let comment = TagKind(rawValue: 8)
        /// With `.hidden`: `<style>` rather than `<script>`.
        static let style = TagKind(rawValue: 16)
    }

    private static let blockTags: [String] = [
        "br", "div", "p", "li", "ul", "ol", "tr", "td", "th", "table", "tbody", "thead", "h1", "h2", "h3", "h4", "h5",
        "h6", "hr", "blockquote", "section", "article", "dd", "dt", "dl", "pre", "img", "rt", "rp", "audio", "video",
        "source", "figure", "figcaption", "header", "footer", "center", "option", "select", "button", "input", "textarea",
    ]
    private static let mediaTags: [String] = ["img", "audio", "video", "source", "embed", "object", "track"]

    /// A tag name of up to 12 bytes packed into two integers (bytes in order, zero-padded) and its length.
    struct PackedName: Comparable {
        var low: UInt64 = 0
        var high: UInt64 = 0
        static func < (a: PackedName, b: PackedName) -> Bool { (a.low, a.high) < (b.low, b.high) }

        init() {}
        init(_ name: String) {
            for (k, byte) in name.utf8.enumerated() { append(byte, at: k) }
        }

        @inline(__always)
        mutating func append(_ byte: UInt8, at k: Int) {
            if k < 8 { low |= UInt64(byte) << UInt64(8 * k) } else { high |= UInt64(byte) << UInt64(8 * (k - 8)) }
        }
    }

    /// The tag names that matter, sorted for a binary search: no string is made per tag.
    /// The tag names that matter in a small open-addressing table (128 slots, an empty name marks a
    /// free slot): no string is made per tag. Allocated once, for the life of the process.
    nonisolated(unsafe) private static let tagTable: UnsafePointer<(name: PackedName, kind: TagKind)> = {
        var kinds: [String: TagKind] = [:]
        for name in blockTags { kinds[name, default: []].insert(.block) }
        for name in mediaTags { kinds[name, default: []].insert(.media) }
        kinds["style"] = [.hidden, .style]
        kinds["script"] = .hidden
        kinds["!--"] = .comment
        let table = UnsafeMutablePointer<(name: PackedName, kind: TagKind)>.allocate(capacity: tagSlots)
        table.initialize(repeating: (PackedName(), []), count: tagSlots)
        for (name, kind) in kinds.sorted(by: { $0.key < $1.key }) {
            let packed = PackedName(name)
            var slot = tagSlot(packed)
            while table[slot].name != PackedName() { slot = (slot + 1) & (tagSlots - 1) }
            table[slot] = (packed, kind)
        }
        return UnsafePointer(table)
    }()
    private static let tagSlots = 128

    @inline(__always)
    private static func tagSlot(_ name: PackedName) -> Int {
        Int(truncatingIfNeeded: ((name.low ^ name.high &* 31) &* 0x9E37_79B9_7F4A_7C15) >> 57)
    }

    /// `table` is `tagTable`, read once per field by the caller (reaching the lazily made static
    /// costs a `swift_once` check every time).
    private static func tagKind(_ name: PackedName, in table: UnsafePointer<(name: PackedName, kind: TagKind)>) -> TagKind {
        var slot = tagSlot(name)
        while true {
            let entry = table[slot]
            if entry.name == name { return entry.kind }
            if entry.name == PackedName() { return [] }
            slot = (slot + 1) & (tagSlots - 1)
        }
    }

    /// Bytes that need a look in HTML mode; everything else is copied as it is.
    /// Inside a cloze, ":" (a hint may start) and "}" (the cloze may end) need a look too.
    private static func specialTable(_ bytes: String) -> UnsafePointer<Bool> {
        let table = UnsafeMutablePointer<Bool>.allocate(capacity: 256)
        table.initialize(repeating: false, count: 256)
        for c in bytes.utf8 { table[Int(c)] = true }
        table[0] = true
        return UnsafePointer(table)
    }

    /// The tables `render` reads, made once for the life of the process and reached through one
    /// lazily made static (each such static costs a `swift_once` check where it is read).
    private struct RenderTables {
        let specialInside = VisibleText.specialTable("<&{}:[")
        let specialOutside = VisibleText.specialTable("<&{[")
        let tags = VisibleText.tagTable
        let nameBytes = VisibleText.tagNameBytes
    }
    nonisolated(unsafe) private static let renderTables = RenderTables()

    /// Writes the visible bytes of `p` to `o` and, when `f` and `t` are given, the original range of
    /// each (start to `f`, end to `t`). Returns the number of visible bytes. With `limit`, stops
    /// once that many visible bytes (or a few more) are written.
    private static func render(_ p: UnsafeBufferPointer<UInt8>, _ o: UnsafeMutablePointer<UInt8>,
                               _ f: UnsafeMutablePointer<Int32>?, _ t: UnsafeMutablePointer<Int32>?,
                               _ references: inout [Range<Int>], upTo limit: Int = .max) -> Int {
        let n = p.count
        var length = 0
        // Open clozes, and for each whether its hint ("::") has begun: a bit stack for the first 64
        // levels, an array beyond (hostile text only).
        var clozeDepth = 0
        var hintBits: UInt64 = 0
        var deepHints: [Bool] = []
        let mapping = f != nil
        let tables = renderTables
        let specialInside = tables.specialInside, specialOutside = tables.specialOutside
        let tags = tables.tags, nameBytes = tables.nameBytes

        @inline(__always) func emit(_ b: UInt8, _ s: Int, _ e: Int) {
            o[length] = b
            if let f, let t {
                f[length] = Int32(truncatingIfNeeded: s)
                t[length] = Int32(truncatingIfNeeded: e)
            }
            length += 1
        }
        @inline(__always) func emitSeparator(_ s: Int, _ e: Int) {
            if length > 0, o[length - 1] == UInt8(ascii: "\n") || o[length - 1] == UInt8(ascii: " ") { return }
            emit(UInt8(ascii: "\n"), s, e)
        }
        @inline(__always) func hintStarted() -> Bool {
            clozeDepth <= 64 ? hintBits & (1 << UInt64(clozeDepth - 1)) != 0 : deepHints[clozeDepth - 65]
        }

        guard let base = p.baseAddress else { return 0 }
        var i = 0
        while i < n && length < limit {
            let b = base[i]
            let isSpecial = clozeDepth > 0 ? specialInside : specialOutside
            if !isSpecial[Int(b)] {
                // a run of ordinary bytes
                var j = i + 1
                if mapping, let f, let t {
                    while j < n && !isSpecial[Int(base[j])] { j += 1 }
                    (o + length).update(from: base + i, count: j - i)
                    for k in i..<j {
                        f[length &+ k &- i] = Int32(truncatingIfNeeded: k)
                        t[length &+ k &- i] = Int32(truncatingIfNeeded: k &+ 1)
                    }
                } else {
                    // sixteen at a time while at least sixteen are left, then byte by byte
                    j = copyOrdinaryRun(base, from: i, count: n, to: o + length, inCloze: clozeDepth > 0)
                    while j < n && !isSpecial[Int(base[j])] {
                        o[length &+ j &- i] = base[j]
                        j &+= 1
                    }
                }
                // (wrapping arithmetic here and below: offsets into the field cannot overflow)
                length &+= j &- i
                i = j
                continue
            }
            switch b {
            case UInt8(ascii: "<"):
                if let (end, name) = tag(p, i, nameBytes) {
                    let kind = tagKind(name, in: tags)
                    if kind.contains(.comment) {
                        // a comment: tagEnd already found "-->"
                    } else if kind.contains(.hidden) {
                        let close = findClosing(p, from: end, name: kind.contains(.style) ? "style" : "script")
                        emitSeparator(i, close)
                        i = close
                        continue
                    } else if kind.contains(.block) {
                        emitSeparator(i, end)
                    }
                    if kind.contains(.media), let src = attributeValue(p, i, end, "src") {
                        references.append(src)
                    }
                    i = end
                    continue
                }
                emit(b, i, i + 1)
                i += 1
            case UInt8(ascii: "&"):
                if let (scalar, end) = entity(p, i) {
                    if scalar == 0xA0 || scalar == 0x20 {
                        emit(UInt8(ascii: " "), i, end)
                    } else if scalar < 0x80 {
                        emit(UInt8(truncatingIfNeeded: scalar), i, end)
                    } else if scalar < 0x800 {
                        emit(UInt8(truncatingIfNeeded: 0xC0 | scalar >> 6), i, end)
                        emit(UInt8(truncatingIfNeeded: 0x80 | scalar & 0x3F), i, end)
                    } else if scalar < 0x10000 {
                        emit(UInt8(truncatingIfNeeded: 0xE0 | scalar >> 12), i, end)
                        emit(UInt8(truncatingIfNeeded: 0x80 | (scalar >> 6) & 0x3F), i, end)
                        emit(UInt8(truncatingIfNeeded: 0x80 | scalar & 0x3F), i, end)
                    } else {
                        emit(UInt8(truncatingIfNeeded: 0xF0 | scalar >> 18), i, end)
                        emit(UInt8(truncatingIfNeeded: 0x80 | (scalar >> 12) & 0x3F), i, end)
                        emit(UInt8(truncatingIfNeeded: 0x80 | (scalar >> 6) & 0x3F), i, end)
                        emit(UInt8(truncatingIfNeeded: 0x80 | scalar & 0x3F), i, end)
                    }
                    i = end
                    continue
                }
                emit(b, i, i + 1)
                i += 1
            case UInt8(ascii: "{"):
                if let end = clozeOpen(p, i) {
                    clozeDepth += 1
                    if clozeDepth <= 64 { hintBits &= ~(1 << UInt64(clozeDepth - 1)) } else { deepHints.append(false) }
                    i = end
                    continue
                }
                emit(b, i, i + 1)
                i += 1
            case UInt8(ascii: ":") where clozeDepth > 0 && i + 1 < n && p[i + 1] == UInt8(ascii: ":") && !hintStarted():
                if clozeDepth <= 64 { hintBits |= 1 << UInt64(clozeDepth - 1) } else { deepHints[clozeDepth - 65] = true }
                emitSeparator(i, i + 2)
                i += 2
            case UInt8(ascii: "}") where clozeDepth > 0 && i + 1 < n && p[i + 1] == UInt8(ascii: "}"):
                if clozeDepth > 64 { deepHints.removeLast() }
                clozeDepth -= 1
                i += 2
            case UInt8(ascii: "["):
                if let (nameRange, end) = sound(p, i) {
                    references.append(nameRange)
                    emitSeparator(i, end)
                    i = end
                    continue
                }
                emit(b, i, i + 1)
                i += 1
            case 0:
                emit(UInt8(ascii: " "), i, i + 1)
                i += 1
            default:
                emit(b, i, i + 1)
                i += 1
            }
        }
        return length
    }

    /// Copies the ordinary bytes from `start` to `out` sixteen at a time (one vector compared with
    /// every byte that needs a look, see `specialTable`) and returns where they end: at the first byte
    /// that needs a look, or where fewer than sixteen bytes are left (the caller's byte loop goes on
    /// from there). Most visible text is long runs between tags. Each vector is stored whole, so up
    /// to sixteen bytes past the run are written (and overwritten later): `out` must have room for
    /// `n - start` bytes, as the output buffer has since the visible text never runs ahead of its
    /// source.
    @inline(__always)
    private static func copyOrdinaryRun(_ base: UnsafePointer<UInt8>, from start: Int, count n: Int,
                                        to out: UnsafeMutablePointer<UInt8>, inCloze: Bool) -> Int {
        let raw = UnsafeRawPointer(base)
        let target = UnsafeMutableRawPointer(out)
        var j = start
        // (constants as local vectors: see `hasMarkup`)
        let nul = splat("\0"), lt = splat("<"), amp = splat("&"), brace = splat("{"), bracket = splat("[")
        let colon = splat(":"), close = splat("}")
        while j &+ 16 <= n {
            let v = raw.loadUnaligned(fromByteOffset: j, as: SIMD16<UInt8>.self)
            target.storeBytes(of: v, toByteOffset: j &- start, as: SIMD16<UInt8>.self)
            var found = v .== nul .| v .== lt .| v .== amp .| v .== brace .| v .== bracket
            if inCloze { found = found .| v .== colon .| v .== close }
            let lane = firstLane(found)
            if lane < 16 { return j &+ lane }
            j &+= 16
        }
        return j
    }

    /// The tag at `i` (a `<`): the index after the `>` that closes it, honouring quoted attribute
    /// values, and its lower-case name ("br", "div"; at most 12 bytes), packed; comments ("<!") get
    /// the name "!--". Nil when the `<` does not start a tag. `nameBytes` is `tagNameBytes`, read
    /// once per field by the caller.
    /// The name is read first, and a tag whose name ends at its `>` (`<br>`, `</div>`, most tags in
    /// card text) needs no second look; otherwise the rest is scanned from where the name ends
    /// (name bytes are letters and digits, which the scan for `>` passes over anyway).
    @inline(__always)
    static func tag(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ nameBytes: UnsafePointer<UInt8>) -> (end: Int, name: PackedName)? {
        let n = p.count
        guard i + 1 < n else { return nil }
        let next = p[i + 1]
        var j = i + 1
        var name = PackedName()
        if next == UInt8(ascii: "!") {
            name = commentName
            if i + 3 < n && p[i + 2] == UInt8(ascii: "-") && p[i + 3] == UInt8(ascii: "-") {
                var k = i + 4
                while k + 2 < n {
                    if p[k] == UInt8(ascii: "-") && p[k + 1] == UInt8(ascii: "-") && p[k + 2] == UInt8(ascii: ">") { return (k + 3, name) }
                    k += 1
                }
                return (n, name)
            }
        } else {
            if next == UInt8(ascii: "/") {
                j += 1
            } else if nameBytes[Int(next)] == 0 || next < UInt8(ascii: "A") {
                return nil  // neither a letter nor "/"
            }
            // the first eight bytes of the name to `low`, the next four to `high` (no branch a byte
            // on which half it goes to)
            var shift: UInt64 = 0
            let first = min(n, j &+ 8)
            while j < first {
                let byte = nameBytes[Int(p[j])]
                if byte == 0 { break }
                name.low |= UInt64(byte) &<< shift
                shift &+= 8
                j &+= 1
            }
            if shift == 64 {
                shift = 0
                let last = min(n, j &+ 4)
                while j < last {
                    let byte = nameBytes[Int(p[j])]
                    if byte == 0 { break }
                    name.high |= UInt64(byte) &<< shift
                    shift &+= 8
                    j &+= 1
                }
            }
            if j < n && p[j] == UInt8(ascii: ">") { return (j + 1, name) }
        }
        guard let end = tagEnd(p, from: j) else { return nil }
        return (end, name)
    }

    /// The index after the `>` that closes a tag whose bytes before `j` hold no quote, `<` or `>`;
    /// nil when a `<` comes first (also inside quotes: keeps every scan linear on hostile text).
    private static func tagEnd(_ p: UnsafeBufferPointer<UInt8>, from j: Int) -> Int? {
        let n = p.count
        var j = j
        var quote: UInt8 = 0
        while j < n {
            let c = p[j]
            if c == UInt8(ascii: "<") {
                return nil
            } else if quote != 0 {
                if c == quote { quote = 0 }
            } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                quote = c
            } else if c == UInt8(ascii: ">") {
                return j + 1
            }
            j += 1
        }
        return nil
    }

    /// What each byte adds to a tag name: letters lower-cased, digits as they are, 0 for the bytes
    /// that end it (one load a byte instead of two range tests). Allocated once, for the life of the
    /// process.
    nonisolated(unsafe) static let tagNameBytes: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        table.initialize(repeating: 0, count: 256)
        for c in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(c)] = c; table[Int(c - 0x20)] = c }
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(c)] = c }
        return UnsafePointer(table)
    }()

    private static let commentName = PackedName("!--")

    private static func findClosing(_ p: UnsafeBufferPointer<UInt8>, from: Int, name: String) -> Int {
        let needle = Array("</\(name)".utf8)
        var j = from
        while j + needle.count <= p.count {
            var match = true
            for k in 0..<needle.count where (p[j + k] | (k >= 2 ? 0x20 : 0)) != needle[k] { match = false; break }
            if match {
                var e = j + needle.count
                while e < p.count && p[e] != UInt8(ascii: ">") { e += 1 }
                return min(e + 1, p.count)
            }
            j += 1
        }
        return p.count
    }

    /// The original range of an attribute's value inside the tag `start..<end`.
    private static func attributeValue(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ name: String) -> Range<Int>? {
        let needle = Array(name.utf8)
        var j = start + 1
        while j + needle.count < end {
            let before = p[j - 1]
            if before == UInt8(ascii: " ") || before == UInt8(ascii: "\t") || before == UInt8(ascii: "\n") {
                var match = true
                for k in 0..<needle.count where (p[j + k] | 0x20) != needle[k] { match = false; break }
                if match {
                    var k = j + needle.count
                    while k < end && p[k] == UInt8(ascii: " ") { k += 1 }
                    guard k < end && p[k] == UInt8(ascii: "=") else { j += 1; continue }
                    k += 1
                    while k < end && p[k] == UInt8(ascii: " ") { k += 1 }
                    guard k < end else { return nil }
                    let q = p[k]
                    if q == UInt8(ascii: "\"") || q == UInt8(ascii: "'") {
                        var e = k + 1
                        while e < end && p[e] != q { e += 1 }
                        return (k + 1)..<e
                    }
                    var e = k
                    while e < end && p[e] != UInt8(ascii: " ") && p[e] != UInt8(ascii: ">") && p[e] != UInt8(ascii: "/") { e += 1 }
                    return k..<e
                }
            }
            j += 1
        }
        return nil
    }

    /// `{{c<digits>::` at `i`: the index after it.
    private static func clozeOpen(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        let n = p.count
        guard i + 5 < n, p[i + 1] == UInt8(ascii: "{"), p[i + 2] | 0x20 == UInt8(ascii: "c") else { return nil }
        var j = i + 3
        let digitsStart = j
        while j < n && p[j] >= UInt8(ascii: "0") && p[j] <= UInt8(ascii: "9") && j - digitsStart < 4 { j += 1 }
        guard j > digitsStart, j + 1 < n, p[j] == UInt8(ascii: ":"), p[j + 1] == UInt8(ascii: ":") else { return nil }
        return j + 2
    }

    /// `[sound:name]` at `i`: the name's range and the index after `]`.
    private static func sound(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Range<Int>, Int)? {
        let prefix = Array("[sound:".utf8)
        guard i + prefix.count < p.count else { return nil }
        for k in 0..<prefix.count where p[i + k] != prefix[k] { return nil }
        var j = i + prefix.count
        while j < p.count && j - i < 4096 {
            if p[j] == UInt8(ascii: "]") { return ((i + prefix.count)..<j, j + 1) }
            if p[j] == UInt8(ascii: "[") || p[j] == UInt8(ascii: "<") { return nil }
            j += 1
        }
        return nil
    }

    private static let namedEntities: [String: UInt32] = [
        "amp": 0x26, "lt": 0x3C, "gt": 0x3E, "quot": 0x22, "apos": 0x27, "nbsp": 0xA0, "ensp": 0x20, "emsp": 0x20,
        "thinsp": 0x20, "shy": 0xAD, "ndash": 0x2013, "mdash": 0x2014, "hellip": 0x2026, "lsquo": 0x2018,
        "rsquo": 0x2019, "sbquo": 0x201A, "ldquo": 0x201C, "rdquo": 0x201D, "bdquo": 0x201E, "laquo": 0xAB,
        "raquo": 0xBB, "middot": 0xB7, "bull": 0x2022, "copy": 0xA9, "reg": 0xAE, "trade": 0x2122, "euro": 0x20AC,
        "pound": 0xA3, "yen": 0xA5, "cent": 0xA2, "sect": 0xA7, "para": 0xB6, "deg": 0xB0, "plusmn": 0xB1,
        "times": 0xD7, "divide": 0xF7, "frac12": 0xBD, "frac14": 0xBC, "frac34": 0xBE, "sup1": 0xB9, "sup2": 0xB2,
        "sup3": 0xB3, "iexcl": 0xA1, "iquest": 0xBF, "szlig": 0xDF, "zwsp": 0x200B, "zwnj": 0x200C, "zwj": 0x200D,
        "Auml": 0xC4, "Ouml": 0xD6, "Uuml": 0xDC, "auml": 0xE4, "ouml": 0xF6, "uuml": 0xFC, "euml": 0xEB,
        "iuml": 0xEF, "Euml": 0xCB, "Iuml": 0xCF, "yuml": 0xFF, "Aacute": 0xC1, "Eacute": 0xC9, "Iacute": 0xCD,
        "Oacute": 0xD3, "Uacute": 0xDA, "aacute": 0xE1, "eacute": 0xE9, "iacute": 0xED, "oacute": 0xF3,
        "uacute": 0xFA, "yacute": 0xFD, "Agrave": 0xC0, "Egrave": 0xC8, "Igrave": 0xCC, "Ograve": 0xD2,
        "Ugrave": 0xD9, "agrave": 0xE0, "egrave": 0xE8, "igrave": 0xEC, "ograve": 0xF2, "ugrave": 0xF9,
        "Acirc": 0xC2, "Ecirc": 0xCA, "Icirc": 0xCE, "Ocirc": 0xD4, "Ucirc": 0xDB, "acirc": 0xE2, "ecirc": 0xEA,
        "icirc": 0xEE, "ocirc": 0xF4, "ucirc": 0xFB, "Atilde": 0xC3, "Ntilde": 0xD1, "Otilde": 0xD5,
        "atilde": 0xE3, "ntilde": 0xF1, "otilde": 0xF5, "Ccedil": 0xC7, "ccedil": 0xE7, "Aring": 0xC5,
        "aring": 0xE5, "AElig": 0xC6, "aelig": 0xE6, "Oslash": 0xD8, "oslash": 0xF8, "OElig": 0x152,
        "oelig": 0x153, "Scaron": 0x160, "scaron": 0x161, "ETH": 0xD0, "eth": 0xF0, "THORN": 0xDE, "thorn": 0xFE,
    ]

    /// `&name;`, `&#123;` or `&#x1F600;` at `i`: the scalar and the index after `;`.
    private static func entity(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int)? {
        let n = p.count
        var j = i + 1
        guard j < n else { return nil }
        if p[j] == UInt8(ascii: "#") {
            j += 1
            var hex = false
            if j < n && (p[j] | 0x20) == UInt8(ascii: "x") { hex = true; j += 1 }
            var value: UInt32 = 0
            let digitsStart = j
            while j < n && j - digitsStart < 8 {
                let c = p[j]
                if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                    value = value &* (hex ? 16 : 10) &+ UInt32(c - UInt8(ascii: "0"))
                } else if hex, (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "f") {
                    value = value &* 16 &+ UInt32((c | 0x20) - UInt8(ascii: "a") + 10)
                } else {
                    break
                }
                j += 1
            }
            guard j > digitsStart, j < n, p[j] == UInt8(ascii: ";") else { return nil }
            if value == 0 || value > 0x10FFFF || (0xD800...0xDFFF).contains(value) { value = 0xFFFD }
            return (value, j + 1)
        }
        // The name (at most 8 bytes) packed into one integer, looked up without making a string.
        var name: UInt64 = 0
        var length = 0
        while j < n && length < 8 {
            let c = p[j]
            let alnum = ((c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
            guard alnum else { break }
            name |= UInt64(c) << UInt64(8 * length)
            length += 1
            j += 1
        }
        guard length > 0, j < n, p[j] == UInt8(ascii: ";"), let scalar = namedEntity(name) else { return nil }
        return (scalar, j + 1)
    }

    /// `namedEntities` in a small open-addressing table keyed by the packed name (0 marks a free
    /// slot). Allocated once, for the life of the process.
    nonisolated(unsafe) private static let entityTable: UnsafePointer<(name: UInt64, scalar: UInt32)> = {
        let table = UnsafeMutablePointer<(name: UInt64, scalar: UInt32)>.allocate(capacity: entitySlots)
        table.initialize(repeating: (0, 0), count: entitySlots)
        for (name, scalar) in namedEntities.sorted(by: { $0.key < $1.key }) {
            precondition(name.utf8.count <= 8, "entity names are packed into 8 bytes")
            var packed: UInt64 = 0
            for (k, byte) in name.utf8.enumerated() { packed |= UInt64(byte) << UInt64(8 * k) }
            var slot = entitySlot(packed)
            while table[slot].name != 0 { slot = (slot + 1) & (entitySlots - 1) }
            table[slot] = (packed, scalar)
        }
        return UnsafePointer(table)
    }()
    private static let entitySlots = 512

    @inline(__always)
    private static func entitySlot(_ name: UInt64) -> Int {
        Int(truncatingIfNeeded: (name &* 0x9E37_79B9_7F4A_7C15) >> 55)
    }

    private static func namedEntity(_ name: UInt64) -> UInt32? {
        let table = entityTable
        var slot = entitySlot(name)
        while true {
            let entry = table[slot]
            if entry.name == name { return entry.scalar }
            if entry.name == 0 { return nil }
            slot = (slot + 1) & (entitySlots - 1)
        }
    }
}
