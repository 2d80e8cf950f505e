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
        out.reserveCapacity(bytes.count)
        var seen: [Range<Int>] = []
        func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: raw[range]) }
        func isOne(of list: [[UInt8]], _ range: Range<Int>) -> Bool {
            list.contains { $0.elementsEqual(slice(range)) }
        }
        let simple = FlatNumericJSON.walk(raw) { member in
            guard !seen.contains(where: { slice($0).elementsEqual(slice(member.key)) }) else { return false }
            seen.append(member.key)
            guard isOne(of: keep, member.key) else { return true }
            if out.count > 1 { out.append(0x2C) }
            out.append(0x22)
            out.append(contentsOf: slice(member.key))
            out.append(contentsOf: [0x22, 0x3A])
            if isOne(of: timeKeys, member.key) {
                guard member.isInteger, let seconds = Int64(String(decoding: slice(member.value), as: UTF8.self)) else {
                    return false
                }
                let (shifted, overflow) = seconds.addingReportingOverflow(shiftSeconds)
                guard !overflow else { return false }
                out.append(contentsOf: String(shifted).utf8)
            } else {
                out.append(contentsOf: slice(member.value))
            }
            return true
        }
        guard simple else { return nil }
        out.append(0x7D)
        return out
    }
}
