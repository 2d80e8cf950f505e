/// A reader for the one JSON shape Anki writes into `cards.data`: `{"key": number, ...}`, keys without
/// escapes or control characters, numbers in JSON's grammar, white space anywhere JSON allows it. The
/// prepare stage reduces such objects in one pass and the audit recognises them; anything else is
/// left to SQLite's JSON functions by both.
public enum FlatNumericJSON {
    /// One member: the byte ranges of the key (without quotes) and of the number, and whether the
    /// number is an integer (no fraction, no exponent).
    public struct Member {
        public let key: Range<Int>
        public let value: Range<Int>
        public let isInteger: Bool
    }

    /// A JSON integer of at most 18 digits (no overflow possible), optionally negative.
    public static func integer(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var digits = bytes[...]
        let negative = digits.first == 0x2D
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value: Int64 = 0
        for byte in digits {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int64(byte - 0x30)
        }
        return negative ? -value : value
    }

    /// Appends `value` in decimal, as JSON writes an integer (no String in between).
    public static func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(0x2D) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 20 digits at most, last first
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(truncatingIfNeeded: magnitude % 10) + 0x30
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for index in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[index]) }
        }
    }

    /// Calls `member` for each member in order; false when `bytes` is not of the shape (a member
    /// handler returning false stops the walk with false too).
    public static func walk(_ bytes: UnsafeRawBufferPointer, _ member: (Member) -> Bool) -> Bool {
        var i = 0
        let n = bytes.count
        func skipSpace() {
            while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
        }
        func digits() -> Int {
            let start = i
            while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            return i - start
        }
        /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
        func number(_ isInteger: inout Bool) -> Bool {
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
        skipSpace()
        guard i < n, bytes[i] == 0x7B else { return false }    // {
        i += 1
        skipSpace()
        if i < n, bytes[i] == 0x7D {                            // {}
            i += 1
            skipSpace()
            return i == n
        }
        while true {
            guard i < n, bytes[i] == 0x22 else { return false }   // "
            i += 1
            let keyStart = i
            while i < n, bytes[i] != 0x22 {
                if bytes[i] == 0x5C || bytes[i] < 0x20 { return false }   // escapes, control characters
                i += 1
            }
            guard i < n else { return false }
            let key = keyStart..<i
            i += 1
            skipSpace()
            guard i < n, bytes[i] == 0x3A else { return false }   // :
            i += 1
            skipSpace()
            let valueStart = i
            var isInteger = true
            guard number(&isInteger) else { return false }
            guard member(Member(key: key, value: valueStart..<i, isInteger: isInteger)) else { return false }
            skipSpace()
            guard i < n else { return false }
            if bytes[i] == 0x2C {                                  // ,
                i += 1
                skipSpace()
                continue
            }
            guard bytes[i] == 0x7D else { return false }           // }
            i += 1
            skipSpace()
            return i == n
        }
    }
}
