import AnkiZstd
import Foundation

/// A column's physical type, as the writer offers it.
public enum ParquetType: Sendable, Equatable {
    case int32, int64, double, boolean
    /// UTF-8 text: BYTE_ARRAY with the STRING logical type.
    case string

    var physical: Int32 {
        switch self {
        case .boolean: return 0
        case .int32: return 1
        case .int64: return 2
        case .double: return 5
        case .string: return 6
        }
    }
}

/// One column of a table: a flat schema, no nesting.
public struct ParquetColumn: Sendable, Equatable {
    public let name: String
    public let type: ParquetType
    /// Optional columns take `.null`; required ones refuse it.
    public let optional: Bool

    public init(_ name: String, _ type: ParquetType, optional: Bool = false) {
        self.name = name
        self.type = type
        self.optional = optional
    }
}

/// One cell of a row.
public enum ParquetValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case string(String)
}

/// What went wrong while writing a Parquet file. Messages name columns, never values.
public struct ParquetError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The schema is empty, or names a column twice.
        case invalidSchema
        /// A row has the wrong number of cells, a cell the wrong type, a null in a required column, or
        /// an integer out of the column's range.
        case invalidRow
        /// The file could not be written (disk full, permissions, …).
        case io
        /// Compression failed.
        case compression
        /// The writer was already closed or abandoned.
        case closed
    }

    public let kind: Kind
    public let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Writes one Parquet file, row by row: the rows of a row group are buffered column by column, and
/// a row group is encoded, compressed (zstd) and written once it reaches `rowGroupBytes`. Only the
/// footer's metadata is kept for the whole file. The file is written under a temporary name in the
/// same folder and renamed into place by `close()`; `abandon()` (or a failure) removes it.
///
/// Encodings: PLAIN, or a dictionary (PLAIN dictionary page, RLE_DICTIONARY data pages) where it is
/// smaller, for integer and string columns. Definition levels of optional columns are the RLE/bit-packed
/// hybrid. Every column chunk has min/max (`min_value`/`max_value`, type-defined order), null_count,
/// and nan_count for doubles.
public final class ParquetWriter {
    public struct Options: Sendable {
        /// A row group is written when its buffered values reach this size (estimated, uncompressed).
        public var rowGroupBytes: Int = 64 << 20
        /// Target uncompressed size of a data page.
        public var pageBytes: Int = 1 << 20
        /// zstd level.
        public var compressionLevel: Int32 = 3
        /// Largest dictionary (distinct values) tried before falling back to PLAIN.
        public var maxDictionarySize: Int = 1 << 16
        public init() {}
    }

    public let url: URL
    public let columns: [ParquetColumn]
    public let options: Options
    public static let createdBy = "anki-submit version 1.0.0"

    private let temporaryURL: URL
    private var fd: Int32
    private var offset: Int64 = 0
    private var output: [UInt8] = []
    private var buffers: [ColumnBuffer]
    private var rowsInGroup = 0
    private var totalRows: Int64 = 0
    private var rowGroups: [RowGroupMeta] = []
    private var finished = false
    private let compressor: ZstdCompressor
    private var scratch: [UInt8] = []
    private var compressed: [UInt8] = []

    public init(url: URL, columns: [ParquetColumn], options: Options = Options()) throws {
        guard !columns.isEmpty else { throw ParquetError(.invalidSchema, "A Parquet table needs at least one column.") }
        var seen = Set<String>()
        for c in columns where !seen.insert(c.name).inserted || c.name.isEmpty {
            throw ParquetError(.invalidSchema, "Column name \"\(c.name)\" is empty or used twice.")
        }
        self.url = url
        self.columns = columns
        self.options = options
        do { compressor = try ZstdCompressor(level: options.compressionLevel) } catch {
            throw ParquetError(.compression, "Could not start zstd: \(error).")
        }
        buffers = columns.map { ColumnBuffer(column: $0) }
        temporaryURL = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        fd = Foundation.open(temporaryURL.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ParquetError(.io, "Cannot create \(temporaryURL.path): \(String(cString: strerror(errno))).")
        }
        output.reserveCapacity(1 << 20)
        try write(Array("PAR1".utf8))
    }

    deinit { if !finished { abandon() } }

    /// Rows written so far (all row groups, including the one being buffered).
    public var rowCount: Int64 { totalRows }

    /// Appends one row: one cell per column, in schema order. Integers go into int32 and int64
    /// columns (range-checked), doubles into double columns, and so on.
    public func append(_ row: [ParquetValue]) throws {
        guard !finished else { throw ParquetError(.closed, "The Parquet writer for \(url.lastPathComponent) is closed.") }
        guard row.count == columns.count else {
            throw ParquetError(.invalidRow, "A row has \(row.count) cells; the table has \(columns.count) columns.")
        }
        // Check the whole row before taking any of it, so a bad row leaves the columns aligned.
        for (i, cell) in row.enumerated() { try buffers[i].check(cell) }
        var bytes = 0
        for (i, cell) in row.enumerated() { bytes += buffers[i].append(cell) }
        rowsInGroup += 1
        totalRows += 1
        estimatedBytes += bytes
        if estimatedBytes >= options.rowGroupBytes { try flushRowGroup() }
    }

    private var estimatedBytes = 0

    /// Writes the last row group and the footer, then moves the file into place.
    public func close() throws {
        guard !finished else { throw ParquetError(.closed, "The Parquet writer for \(url.lastPathComponent) is closed.") }
        do {
            if rowsInGroup > 0 { try flushRowGroup() }
            var footer = ThriftCompactWriter()
            footer.structBody { fileMetaData(&$0) }
            try write(footer.bytes)
            var length: [UInt8] = []
            ParquetEncoding.appendLE(UInt32(footer.bytes.count), to: &length)
            try write(length + Array("PAR1".utf8))
            try flushOutput()
            guard fsync(fd) == 0 else { throw ParquetError(.io, "Cannot write \(url.path) (disk full?).") }
            Foundation.close(fd)
            fd = -1
            guard rename(temporaryURL.path, url.path) == 0 else {
                throw ParquetError(.io, "Cannot move the finished file to \(url.path): \(String(cString: strerror(errno))).")
            }
            finished = true
        } catch {
            abandon()
            throw error
        }
    }

    /// Stops without leaving a file behind.
    public func abandon() {
        if fd >= 0 { Foundation.close(fd); fd = -1 }
        if !finished { unlink(temporaryURL.path) }
        finished = true
        buffers = []
    }

    // MARK: Output

    private func write(_ bytes: [UInt8]) throws {
        output.append(contentsOf: bytes)
        offset += Int64(bytes.count)
        if output.count >= 1 << 20 { try flushOutput() }
    }

    private func flushOutput() throws {
        var ok = true
        output.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = Foundation.write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { ok = false; return }
                done += n
            }
        }
        output.removeAll(keepingCapacity: true)
        guard ok else { throw ParquetError(.io, "Cannot write \(url.path): \(String(cString: strerror(errno))).") }
    }

    // MARK: Row groups

    struct ChunkMeta {
        var type: Int32
        var encodings: [Int32]
        var path: String
        var numValues: Int64
        var uncompressed: Int64
        var compressed: Int64
        var dataPageOffset: Int64
        var dictionaryPageOffset: Int64?
        var statistics: ColumnStatistics
    }

    struct RowGroupMeta {
        var columns: [ChunkMeta]
        var rows: Int64
        var fileOffset: Int64
        var uncompressed: Int64
        var compressed: Int64
    }

    private func flushRowGroup() throws {
        let start = offset
        var chunks: [ChunkMeta] = []
        for i in buffers.indices {
            chunks.append(try writeChunk(&buffers[i]))
            buffers[i].reset()
        }
        rowGroups.append(RowGroupMeta(columns: chunks, rows: Int64(rowsInGroup), fileOffset: start,
                                      uncompressed: chunks.reduce(0) { $0 + $1.uncompressed },
                                      compressed: chunks.reduce(0) { $0 + $1.compressed }))
        rowsInGroup = 0
        estimatedBytes = 0
    }

    /// Page header + compressed page body; returns (uncompressed, compressed) sizes including the header.
    private func writePage(type: Int32, body: [UInt8], header: (inout ThriftCompactWriter) -> Void) throws -> (Int64, Int64) {
        compressed.removeAll(keepingCapacity: true)
        do {
            try body.withUnsafeBytes { try compressor.compress($0, appendingTo: &compressed) }
        } catch {
            throw ParquetError(.compression, "zstd failed on a page of \(url.lastPathComponent): \(error).")
        }
        guard body.count <= Int32.max, compressed.count <= Int32.max else {
            throw ParquetError(.invalidRow, "A page of \(url.lastPathComponent) is larger than 2 GiB.")
        }
        var h = ThriftCompactWriter()
        h.structBody {
            $0.i32(1, type)
            $0.i32(2, Int32(body.count))
            $0.i32(3, Int32(compressed.count))
            header(&$0)
        }
        try write(h.bytes)
        try write(compressed)
        return (Int64(h.bytes.count + body.count), Int64(h.bytes.count + compressed.count))
    }

    private func writeChunk(_ buffer: inout ColumnBuffer) throws -> ChunkMeta {
        let column = buffer.column
        let n = buffer.rowCount
        let stats = buffer.statistics()
        var meta = ChunkMeta(type: column.type.physical, encodings: [], path: column.name, numValues: Int64(n),
                             uncompressed: 0, compressed: 0, dataPageOffset: 0, dictionaryPageOffset: nil, statistics: stats)
        // Dictionary where it is smaller than PLAIN.
        let dictionary = buffer.dictionary(limit: options.maxDictionarySize)
        var encodings: Set<Int32> = [Encoding.rle]
        if let dictionary {
            meta.dictionaryPageOffset = offset
            let (u, c) = try writePage(type: PageType.dictionary, body: dictionary.page) {
                $0.structure(7) {
                    $0.i32(1, Int32(dictionary.count))
                    $0.i32(2, Encoding.plain)
                }
            }
            meta.uncompressed += u
            meta.compressed += c
            encodings.insert(Encoding.plain)
            encodings.insert(Encoding.rleDictionary)
        } else {
            encodings.insert(Encoding.plain)
        }
        meta.dataPageOffset = offset
        // Data pages over row ranges; values are the non-null ones within each range.
        let width = dictionary.map { max(1, ParquetEncoding.bitWidth(UInt64(max(0, $0.count - 1))) / 8) } ?? buffer.plainWidth
        let rowsPerPage = max(1, min(options.pageBytes / max(1, width), 1 << 20))
        var row = 0
        var value = 0
        repeat {
            let end = buffer.pageEnd(from: row, value: value, maxRows: rowsPerPage, targetBytes: options.pageBytes)
            let nonNull = buffer.nonNullCount(rows: row..<end)
            var body: [UInt8] = []
            if column.optional {
                var levels: [UInt8] = []
                buffer.defLevels[row..<end].withUnsafeBufferPointer {
                    ParquetEncoding.rleHybrid($0, width: 1, into: &levels)
                }
                ParquetEncoding.appendLE(UInt32(levels.count), to: &body)
                body += levels
            }
            if let dictionary {
                body.append(UInt8(dictionary.bitWidth))
                dictionary.indices[value..<(value + nonNull)].withUnsafeBufferPointer {
                    ParquetEncoding.rleHybrid($0, width: dictionary.bitWidth, into: &body)
                }
            } else {
                buffer.plain(values: value..<(value + nonNull), into: &body)
            }
            let rows = end - row
            let (u, c) = try writePage(type: PageType.data, body: body) {
                $0.structure(5) {
                    $0.i32(1, Int32(rows))
                    $0.i32(2, dictionary == nil ? Encoding.plain : Encoding.rleDictionary)
                    $0.i32(3, Encoding.rle)
                    $0.i32(4, Encoding.rle)
                }
            }
            meta.uncompressed += u
            meta.compressed += c
            row = end
            value += nonNull
        } while row < n
        meta.encodings = encodings.sorted()
        return meta
    }

    // MARK: Footer

    private func fileMetaData(_ w: inout ThriftCompactWriter) {
        w.i32(1, 2)
        let schema: [ParquetColumn?] = [nil] + columns.map { $0 }
        w.structList(2, schema) { w, column in
            guard let column else {
                w.string(4, "schema")
                w.i32(5, Int32(columns.count))
                return
            }
            w.i32(1, column.type.physical)
            w.i32(3, column.optional ? 1 : 0)
            w.string(4, column.name)
            if column.type == .string {
                w.i32(6, 0)  // converted type UTF8
                w.structure(10) { $0.structure(1) { _ in } }  // logical type STRING
            }
        }
        w.i64(3, totalRows)
        w.structList(4, rowGroups.enumerated().map { $0 }) { w, item in
            let (ordinal, group) = item
            w.structList(1, group.columns) { w, chunk in
                w.i64(2, 0)
                w.structure(3) { w in
                    w.i32(1, chunk.type)
                    w.i32List(2, chunk.encodings)
                    w.stringList(3, [chunk.path])
                    w.i32(4, 6)  // ZSTD
                    w.i64(5, chunk.numValues)
                    w.i64(6, chunk.uncompressed)
                    w.i64(7, chunk.compressed)
                    w.i64(9, chunk.dataPageOffset)
                    if let d = chunk.dictionaryPageOffset { w.i64(11, d) }
                    w.structure(12) { chunk.statistics.write(&$0) }
                }
            }
            w.i64(2, group.uncompressed)
            w.i64(3, group.rows)
            w.i64(5, group.fileOffset)
            w.i64(6, group.compressed)
            w.i16(7, Int16(truncatingIfNeeded: ordinal))
        }
        w.string(6, Self.createdBy)
        w.structList(7, columns) { w, _ in w.structure(1) { _ in } }  // TYPE_ORDER
    }
}

enum Encoding {
    static let plain: Int32 = 0
    static let rle: Int32 = 3
    static let rleDictionary: Int32 = 8
}

enum PageType {
    static let data: Int32 = 0
    static let dictionary: Int32 = 2
}

/// Column chunk statistics, values PLAIN-encoded as the format stores them.
struct ColumnStatistics {
    var nullCount: Int64
    var min: [UInt8]?
    var max: [UInt8]?
    var nanCount: Int64?

    func write(_ w: inout ThriftCompactWriter) {
        w.i64(3, nullCount)
        if let max, let min {
            w.binary(5, max)
            w.binary(6, min)
        }
        if let nanCount { w.i64(9, nanCount) }
    }
}
