/// The values of one column for the row group being buffered: non-null values only, plus the
/// definition levels (1 present, 0 null) of an optional column.
struct ColumnBuffer {
    let column: ParquetColumn
    private(set) var rowCount = 0
    private(set) var defLevels: [UInt32] = []
    private var ints: [Int64] = []
    private var doubles: [Double] = []
    private var bools: [Bool] = []
    /// Strings: UTF-8 bytes back to back; value i ends at `ends[i]`.
    private var bytes: [UInt8] = []
    private var ends: [Int] = []

    /// Longest string kept as a min/max statistic (parquet-cpp's default); longer bounds are left out.
    static let maxStatisticBytes = 4096

    init(column: ParquetColumn) { self.column = column }

    mutating func reset() { self = ColumnBuffer(column: column) }

    func check(_ cell: ParquetValue) throws {
        switch (cell, column.type) {
        case (.null, _):
            guard column.optional else {
                throw ParquetError(.invalidRow, "Column \(column.name) is required, and a row has no value for it.")
            }
        case (.int(let v), .int32):
            guard Int64(Int32.min)...Int64(Int32.max) ~= v else {
                throw ParquetError(.invalidRow, "Column \(column.name) is int32, and a row's value is out of its range.")
            }
        case (.int, .int64), (.double, .double), (.bool, .boolean), (.string, .string): break
        default:
            throw ParquetError(.invalidRow, "Column \(column.name) is \(column.type), and a row has a value of another type.")
        }
    }

    /// Takes a checked cell; returns the bytes it adds (for the row group's size).
    mutating func append(_ cell: ParquetValue) -> Int {
        rowCount += 1
        if case .null = cell {
            defLevels.append(0)
            return 1
        }
        if column.optional { defLevels.append(1) }
        switch cell {
        case .int(let v):
            ints.append(v)
            return 8
        case .double(let v):
            doubles.append(v)
            return 8
        case .bool(let v):
            bools.append(v)
            return 1
        case .string(let s):
            var s = s
            s.withUTF8 { bytes.append(contentsOf: $0) }
            ends.append(bytes.count)
            return s.utf8.count + 8
        case .null:
            return 0
        }
    }

    var valueCount: Int {
        switch column.type {
        case .int32, .int64: return ints.count
        case .double: return doubles.count
        case .boolean: return bools.count
        case .string: return ends.count
        }
    }

    private func string(_ i: Int) -> ArraySlice<UInt8> { bytes[(i == 0 ? 0 : ends[i - 1])..<ends[i]] }

    /// Bytes per value in PLAIN (an average for strings).
    var plainWidth: Int {
        switch column.type {
        case .int32: return 4
        case .int64, .double: return 8
        case .boolean: return 1
        case .string: return ends.isEmpty ? 4 : 4 + bytes.count / ends.count
        }
    }

    func nonNullCount(rows: Range<Int>) -> Int {
        guard column.optional else { return rows.count }
        var n = 0
        for i in rows where defLevels[i] == 1 { n += 1 }
        return n
    }

    /// The end of a data page starting at `row` (whose first value is `value`): at most `maxRows`
    /// rows and, for strings, about `targetBytes` of text.
    func pageEnd(from row: Int, value: Int, maxRows: Int, targetBytes: Int) -> Int {
        let limit = min(rowCount, row + maxRows)
        guard column.type == .string else { return limit }
        var size = 0
        var v = value
        var r = row
        while r < limit && (size < targetBytes || r == row) {
            if !column.optional || defLevels[r] == 1 {
                size += 4 + string(v).count
                v += 1
            }
            r += 1
        }
        return r
    }

    /// PLAIN encoding of values `range`.
    func plain(values range: Range<Int>, into out: inout [UInt8]) {
        switch column.type {
        case .int32: for v in ints[range] { ParquetEncoding.appendLE(Int32(truncatingIfNeeded: v), to: &out) }
        case .int64: for v in ints[range] { ParquetEncoding.appendLE(v, to: &out) }
        case .double: for v in doubles[range] { ParquetEncoding.appendLE(v.bitPattern, to: &out) }
        case .boolean: ParquetEncoding.plainBooleans(bools[range], into: &out)
        case .string:
            for i in range {
                let s = string(i)
                ParquetEncoding.appendLE(UInt32(s.count), to: &out)
                out.append(contentsOf: s)
            }
        }
    }

    // MARK: Statistics

    func statistics() -> ColumnStatistics {
        var stats = ColumnStatistics(nullCount: Int64(rowCount - valueCount), min: nil, max: nil, nanCount: nil)
        var minBytes: [UInt8] = [], maxBytes: [UInt8] = []
        switch column.type {
        case .int32, .int64:
            guard let lo = ints.min(), let hi = ints.max() else { break }
            if column.type == .int32 {
                ParquetEncoding.appendLE(Int32(truncatingIfNeeded: lo), to: &minBytes)
                ParquetEncoding.appendLE(Int32(truncatingIfNeeded: hi), to: &maxBytes)
            } else {
                ParquetEncoding.appendLE(lo, to: &minBytes)
                ParquetEncoding.appendLE(hi, to: &maxBytes)
            }
            stats.min = minBytes
            stats.max = maxBytes
        case .double:
            // NaN is left out of the bounds and counted; a zero bound is -0.0 as min, +0.0 as max.
            var lo = Double.infinity, hi = -Double.infinity, nans: Int64 = 0
            for v in doubles {
                if v.isNaN { nans += 1; continue }
                if v < lo { lo = v }
                if v > hi { hi = v }
            }
            stats.nanCount = nans
            guard Int64(doubles.count) > nans else { break }
            if lo == 0 { lo = -0.0 }
            if hi == 0 { hi = 0.0 }
            ParquetEncoding.appendLE(lo.bitPattern, to: &minBytes)
            ParquetEncoding.appendLE(hi.bitPattern, to: &maxBytes)
            stats.min = minBytes
            stats.max = maxBytes
        case .boolean:
            guard !bools.isEmpty else { break }
            stats.min = [bools.allSatisfy { $0 } ? 1 : 0]
            stats.max = [bools.contains(true) ? 1 : 0]
        case .string:
            guard !ends.isEmpty else { break }
            var lo = string(0), hi = string(0)
            for i in 1..<ends.count {
                let s = string(i)
                if s.lexicographicallyPrecedes(lo) { lo = s }
                if hi.lexicographicallyPrecedes(s) { hi = s }
            }
            guard lo.count <= Self.maxStatisticBytes, hi.count <= Self.maxStatisticBytes else { break }
            stats.min = Array(lo)
            stats.max = Array(hi)
        }
        return stats
    }

    // MARK: Dictionary

    struct DictionaryEncoding {
        var page: [UInt8]
        var count: Int
        var indices: [UInt32]
        var bitWidth: Int
    }

    /// A dictionary for integer and string columns, when its page plus the bit-packed indices are
    /// smaller than the PLAIN values; nil otherwise (or beyond `limit` distinct values).
    func dictionary(limit: Int) -> DictionaryEncoding? {
        let n = valueCount
        guard n > 0 else { return nil }
        var indices: [UInt32] = []
        indices.reserveCapacity(n)
        var page: [UInt8] = []
        var count = 0
        switch column.type {
        case .int32, .int64:
            var map: [Int64: UInt32] = [:]
            for v in ints {
                if let i = map[v] {
                    indices.append(i)
                    continue
                }
                guard count < limit else { return nil }
                map[v] = UInt32(count)
                indices.append(UInt32(count))
                count += 1
                if column.type == .int32 {
                    ParquetEncoding.appendLE(Int32(truncatingIfNeeded: v), to: &page)
                } else {
                    ParquetEncoding.appendLE(v, to: &page)
                }
            }
        case .string:
            var map: [ArraySlice<UInt8>: UInt32] = [:]
            for i in 0..<n {
                let s = string(i)
                if let index = map[s] {
                    indices.append(index)
                    continue
                }
                guard count < limit, count <= n / 2 + 16 else { return nil }
                map[s] = UInt32(count)
                indices.append(UInt32(count))
                count += 1
                ParquetEncoding.appendLE(UInt32(s.count), to: &page)
                page.append(contentsOf: s)
            }
        case .double, .boolean:
            return nil
        }
        let width = ParquetEncoding.bitWidth(UInt64(count - 1))
        let plainBytes = column.type == .string ? bytes.count + 4 * n : n * plainWidth
        guard page.count + (n * width + 7) / 8 < plainBytes else { return nil }
        return DictionaryEncoding(page: page, count: count, indices: indices, bitWidth: width)
    }
}
