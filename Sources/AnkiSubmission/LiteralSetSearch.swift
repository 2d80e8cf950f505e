/// Finds any of many literal byte strings in UTF-8 text in one pass (Aho-Corasick with leftmost-longest
/// matches): the match that starts leftmost, the longest of those starting there, then the next one
/// after its end. These are the matches a regex alternation of the needles, longest first, gives; but
/// built and searched in time linear in the needles and the text, where a pattern joined from a deck's
/// thousands of media names is too large for PCRE2 to compile.
///
/// The automaton follows the leftmost construction of BurntSushi's `aho-corasick` crate: a state that
/// completes a needle fails to a dead state, so once a match is seen the search never moves on to a
/// later start; it ends at the dead state (or the end of the text) and reports the last match seen.
public struct LiteralSetSearch: Sendable {
    private static let dead: Int32 = 0
    private static let root: Int32 = 1

    /// Per state: its outgoing edges are `edgeBytes/edgeTargets[edgeStart[s]..<edgeStart[s + 1]]`.
    private let edgeStart: [Int32]
    private let edgeBytes: [UInt8]
    private let edgeTargets: [Int32]
    /// The root's transitions, one per byte (the root on a byte no needle starts with).
    private let rootNext: [Int32]
    private let fail: [Int32]
    /// The length of the needle a state completes (its own, or the first on its failure chain); 0: none.
    private let matchLength: [Int32]

    /// The number of distinct non-empty needles.
    public let count: Int

    public var isEmpty: Bool { count == 0 }

    /// Empty needles are ignored; duplicates count once.
    public init<S: Sequence>(_ needles: S) where S.Element == [UInt8] {
        // 1. A trie with child lists (first child, next sibling), states in insertion order.
        var firstChild: [Int32] = [-1, -1]
        var nextSibling: [Int32] = [-1, -1]
        var byteOf: [UInt8] = [0, 0]
        var ownLength: [Int32] = [0, 0]
        var distinct = 0
        for needle in needles where !needle.isEmpty {
            var state = Self.root
            for byte in needle {
                var child = firstChild[Int(state)]
                var previous: Int32 = -1
                while child >= 0 && byteOf[Int(child)] != byte {
                    previous = child
                    child = nextSibling[Int(child)]
                }
                if child < 0 {
                    child = Int32(byteOf.count)
                    firstChild.append(-1)
                    nextSibling.append(-1)
                    byteOf.append(byte)
                    ownLength.append(0)
                    if previous < 0 { firstChild[Int(state)] = child } else { nextSibling[Int(previous)] = child }
                }
                state = child
            }
            if ownLength[Int(state)] == 0 {
                ownLength[Int(state)] = Int32(needle.count)
                distinct += 1
            }
        }
        count = distinct

        // 2. Renumbered breadth first, each state's edges side by side (parents before children).
        let states = byteOf.count
        var order: [Int32] = [Self.dead, Self.root]
        order.reserveCapacity(states)
        var starts = [Int32](repeating: 0, count: states + 1)
        var bytes: [UInt8] = []
        var targets: [Int32] = []
        bytes.reserveCapacity(states)
        targets.reserveCapacity(states)
        var cursor = 1
        while cursor < order.count {
            starts[cursor] = Int32(bytes.count)
            var child = firstChild[Int(order[cursor])]
            while child >= 0 {
                bytes.append(byteOf[Int(child)])
                targets.append(Int32(order.count))
                order.append(child)
                child = nextSibling[Int(child)]
            }
            cursor += 1
        }
        starts[states] = Int32(bytes.count)
        var length = [Int32](repeating: 0, count: states)
        for (new, old) in order.enumerated() { length[new] = ownLength[Int(old)] }
        edgeStart = starts
        edgeBytes = bytes
        edgeTargets = targets

        // 3. Failure links and inherited matches, breadth first.
        var rootTable = [Int32](repeating: Self.root, count: 256)
        for edge in Int(starts[1])..<Int(starts[2]) { rootTable[Int(bytes[edge])] = targets[edge] }
        rootNext = rootTable
        var failure = [Int32](repeating: Self.root, count: states)
        failure[Int(Self.dead)] = Self.dead
        for state in 1..<states {
            for edge in Int(starts[state])..<Int(starts[state + 1]) {
                let child = Int(targets[edge])
                if length[child] > 0 {
                    failure[child] = Self.dead
                    continue
                }
                let target = state == Int(Self.root) ? Self.root
                    : Self.step(failure[state], bytes[edge], starts, bytes, targets, rootTable, failure)
                failure[child] = target
                length[child] = length[Int(target)]
            }
        }
        fail = failure
        matchLength = length
    }

    private static func step(_ from: Int32, _ byte: UInt8, _ starts: [Int32], _ bytes: [UInt8], _ targets: [Int32],
                             _ rootTable: [Int32], _ failure: [Int32]) -> Int32 {
        var state = from
        while true {
            if state == root { return rootTable[Int(byte)] }
            if state == dead { return dead }
            for edge in Int(starts[Int(state)])..<Int(starts[Int(state) + 1]) where bytes[edge] == byte {
                return targets[edge]
            }
            state = failure[Int(state)]
        }
    }

    /// The matches in `text`, in order, none overlapping.
    public func matches(in text: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var found: [Range<Int>] = []
        search(text) { found.append($0); return true }
        return found
    }

    /// True when some needle occurs in `text`.
    public func occurs(in text: UnsafeBufferPointer<UInt8>) -> Bool {
        var any = false
        search(text) { _ in any = true; return false }
        return any
    }

    /// Calls `report` with each match in order while it returns true.
    private func search(_ text: UnsafeBufferPointer<UInt8>, _ report: (Range<Int>) -> Bool) {
        guard count > 0 else { return }
        edgeStart.withUnsafeBufferPointer { starts in
        edgeBytes.withUnsafeBufferPointer { bytes in
        edgeTargets.withUnsafeBufferPointer { targets in
        rootNext.withUnsafeBufferPointer { rootTable in
        fail.withUnsafeBufferPointer { failure in
        matchLength.withUnsafeBufferPointer { length in
            var position = 0
            while position < text.count {
                var state = Self.root
                var last: Range<Int>?
                var i = position
                scan: while i < text.count {
                    let byte = text[i]
                    // The next state: the first on the failure chain with an edge for `byte`.
                    var from = state
                    while true {
                        if from == Self.root { state = rootTable[Int(byte)]; break }
                        if from == Self.dead { break scan }
                        var edge = Int(starts[Int(from)])
                        let end = Int(starts[Int(from) + 1])
                        while edge < end && bytes[edge] != byte { edge += 1 }
                        if edge < end { state = targets[edge]; break }
                        from = failure[Int(from)]
                    }
                    i += 1
                    let matched = Int(length[Int(state)])
                    if matched > 0 { last = (i - matched)..<i }
                }
                guard let match = last else {
                    if i >= text.count { return }
                    position += 1   // not reached: the dead state follows a match
                    continue
                }
                if !report(match) { return }
                position = match.upperBound
            }
        }}}}}}
    }
}
