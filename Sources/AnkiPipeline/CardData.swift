import AnkiSubmission
import Foundation

/// `cards.data` as Anki writes it, `{"s":580.73,"d":6.25,"dr":0.9,"decay":0.154,"lrt":1785883616}`,
/// reduced to the keys the policy keeps with `lrt` shifted, in one pass over the bytes. Numbers are
/// copied as written (no rounding). Any other shape (escapes, strings, nesting, repeated keys, a
/// non-integer time) gives nil, and the write stage's SQL (`json_each`) decides instead.
struct CardDataReducer {
    private let keep: [[UInt8]]
    private let timeKeys: [[UInt8]]

    init(keep: [String], timeKeys: [String]) {
        self.keep = keep.map { Array($0.utf8) }
        self.timeKeys = timeKeys.map { Array($0.utf8) }
    }

    func reduce(_ bytes: UnsafeBufferPointer<UInt8>, shiftSeconds: Int64) -> [UInt8]? {
        guard !bytes.isEmpty else { return [] }
        let raw = UnsafeRawBufferPointer(bytes)
        var out: [UInt8] = [0x7B]
        out.reserveCapacity(bytes.count + 8)
        func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: raw[range]) }
        func isOne(of list: [[UInt8]], _ range: Range<Int>) -> Bool {
            list.contains { $0.elementsEqual(slice(range)) }
        }
        // Keys seen so far, on the stack (a card's data has five): more than sixteen members is not
        // the usual shape, and the SQL decides.
        let simple = withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: 16) { seen in
            var seenCount = 0
            return FlatNumericJSON.walk(raw) { member in
                guard seenCount < seen.count,
                      !seen[..<seenCount].contains(where: { slice($0).elementsEqual(slice(member.key)) }) else { return false }
                seen[seenCount] = member.key
                seenCount += 1
                guard isOne(of: keep, member.key) else { return true }
                if out.count > 1 { out.append(0x2C) }
                out.append(0x22)
                out.append(contentsOf: slice(member.key))
                out.append(contentsOf: [0x22, 0x3A])
                if isOne(of: timeKeys, member.key) {
                    guard member.isInteger, let seconds = FlatNumericJSON.integer(slice(member.value)) else { return false }
                    let (shifted, overflow) = seconds.addingReportingOverflow(shiftSeconds)
                    guard !overflow else { return false }
                    FlatNumericJSON.appendDecimal(shifted, to: &out)
                } else {
                    out.append(contentsOf: slice(member.value))
                }
                return true
            }
        }
        guard simple else { return nil }
        out.append(0x7D)
        return out
    }
}
