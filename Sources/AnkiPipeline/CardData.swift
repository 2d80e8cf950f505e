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
        let n = bytes.count
        guard n > 0 else { return [] }
        var i = 0
        var out: [UInt8] = [0x7B]
        out.reserveCapacity(n)
        var seen: [Range<Int>] = []
        func skipSpace() {
            while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
        }
        func digits() -> Int {
            let start = i
            while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            return i - start
        }
        /// JSON's number grammar; true for an integer without fraction or exponent in `isInteger`.
        func number(_ isInteger: inout Bool) -> Bool {
            isInteger = true
            if i < n, bytes[i] == 0x2D { i += 1 }
            guard i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 else { return false }
            if bytes[i] == 0x30 { i += 1 } else { _ = digits() }
            if i < n, bytes[i] == 0x2E {
                isInteger = false
                i += 1
                guard digits() > 0 else { return false }
            }
            if i < n, bytes[i] == 0x65 || bytes[i] == 0x45 {
                isInteger = false
                i += 1
                if i < n, bytes[i] == 0x2B || bytes[i] == 0x2D { i += 1 }
                guard digits() > 0 else { return false }
            }
            return true
        }
        func equal(_ range: Range<Int>, _ other: Range<Int>) -> Bool {
            range.count == other.count && memcmp(bytes.baseAddress! + range.lowerBound,
                                                 bytes.baseAddress! + other.lowerBound, range.count) == 0
        }
        func isOne(of list: [[UInt8]], _ range: Range<Int>) -> Bool {
            list.contains { $0.count == range.count && $0.withUnsafeBufferPointer {
                memcmp($0.baseAddress!, bytes.baseAddress! + range.lowerBound, range.count) == 0 } }
        }
        skipSpace()
        guard i < n, bytes[i] == 0x7B else { return nil }
        i += 1
        skipSpace()
        if i < n, bytes[i] == 0x7D {
            i += 1
            skipSpace()
            return i == n ? [0x7B, 0x7D] : nil
        }
        while true {
            guard i < n, bytes[i] == 0x22 else { return nil }
            i += 1
            let keyStart = i
            while i < n, bytes[i] != 0x22 {
                if bytes[i] == 0x5C || bytes[i] < 0x20 { return nil }
                i += 1
            }
            guard i < n else { return nil }
            let key = keyStart..<i
            i += 1
            guard !seen.contains(where: { equal($0, key) }) else { return nil }
            seen.append(key)
            skipSpace()
            guard i < n, bytes[i] == 0x3A else { return nil }
            i += 1
            skipSpace()
            let valueStart = i
            var isInteger = true
            guard number(&isInteger) else { return nil }
            let value = valueStart..<i
            if isOne(of: keep, key) {
                if out.count > 1 { out.append(0x2C) }
                out.append(0x22)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[key]))
                out.append(contentsOf: [0x22, 0x3A])
                if isOne(of: timeKeys, key) {
                    guard isInteger, let seconds = Int64(String(decoding: UnsafeBufferPointer(rebasing: bytes[value]),
                                                                as: UTF8.self)) else { return nil }
                    let (shifted, overflow) = seconds.addingReportingOverflow(shiftSeconds)
                    guard !overflow else { return nil }
                    out.append(contentsOf: String(shifted).utf8)
                } else {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[value]))
                }
            }
            skipSpace()
            guard i < n else { return nil }
            if bytes[i] == 0x2C {
                i += 1
                skipSpace()
                continue
            }
            guard bytes[i] == 0x7D else { return nil }
            i += 1
            skipSpace()
            guard i == n else { return nil }
            out.append(0x7D)
            return out
        }
    }
}
