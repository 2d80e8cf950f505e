/// Parquet's value encodings, write side: PLAIN for every physical type the writer supports, the
/// RLE/bit-packed hybrid (definition levels and dictionary indices) and bit widths.
enum ParquetEncoding {
    /// Bits needed for values up to `maxValue` (at least 1: some readers refuse a width of 0).
    static func bitWidth(_ maxValue: UInt64) -> Int { max(1, 64 - maxValue.leadingZeroBitCount) }

    static func appendULEB128(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func appendLE<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    /// The RLE/bit-packed hybrid of `values` at `width` bits (without a length prefix). Runs of eight
    /// or more equal values become RLE runs; everything else is bit-packed in groups of eight, the
    /// last group padded with zeros (readers stop at the value count they know).
    static func rleHybrid(_ values: UnsafeBufferPointer<UInt32>, width: Int, into out: inout [UInt8]) {
        let n = values.count
        let valueBytes = (width + 7) / 8
        var i = 0
        func runLength(at start: Int) -> Int {
            let v = values[start]
            var j = start + 1
            while j < n && values[j] == v { j += 1 }
            return j - start
        }
        while i < n {
            let run = runLength(at: i)
            if run >= 8 {
                appendULEB128(UInt64(run) << 1, to: &out)
                var v = values[i]
                for _ in 0..<valueBytes {
                    out.append(UInt8(truncatingIfNeeded: v))
                    v >>= 8
                }
                i += run
                continue
            }
            // A bit-packed run: groups of eight until a run of eight equal values starts a group.
            var end = i
            repeat {
                end = min(end + 8, n)
            } while end < n && runLength(at: end) < 8
            let groups = (end - i + 7) / 8
            appendULEB128(UInt64(groups) << 1 | 1, to: &out)
            var acc: UInt64 = 0
            var bits = 0
            for k in i..<(i + groups * 8) {
                let v = k < end ? UInt64(values[k]) : 0
                acc |= v << UInt64(bits)
                bits += width
                while bits >= 8 {
                    out.append(UInt8(truncatingIfNeeded: acc))
                    acc >>= 8
                    bits -= 8
                }
                // width ≤ 32, so acc never holds more than 39 bits before the flush above.
            }
            if bits > 0 { out.append(UInt8(truncatingIfNeeded: acc)) }
            i = end
        }
    }

    /// Booleans, PLAIN: one bit each, least significant bit first.
    static func plainBooleans(_ values: ArraySlice<Bool>, into out: inout [UInt8]) {
        var byte: UInt8 = 0
        var bit = 0
        for v in values {
            if v { byte |= 1 << UInt8(bit) }
            bit += 1
            if bit == 8 {
                out.append(byte)
                byte = 0
                bit = 0
            }
        }
        if bit > 0 { out.append(byte) }
    }
}
