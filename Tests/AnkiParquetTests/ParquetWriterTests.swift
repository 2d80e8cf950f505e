import AnkiTestSupport
import Foundation
import Testing

@testable import AnkiParquet

/// The writer's files read back by pyarrow, DuckDB and polars (Tests/Parquet/check_parquet.py, in the
/// tests' venv that `make venv` builds from Tests/requirements.txt).
@Suite("Parquet writer")
struct ParquetWriterTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = root.appendingPathComponent(".build/venv/bin/python3")
    static let checker = root.appendingPathComponent("Tests/Parquet/check_parquet.py")

    /// Skips (with the reason) when the venv is missing: `make test` builds it.
    static var readersAvailable: Bool { FileManager.default.isExecutableFile(atPath: python.path) }

    struct Table {
        var name: String
        var columns: [ParquetColumn]
        var rows: [[ParquetValue]]
        var options = ParquetWriter.Options()
    }

    final class Scratch {
        let url: URL
        init() throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("parquet-tests-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    /// Writes each table and its expectation, then runs the three readers over all of them.
    static func writeAndCheck(_ tables: [Table], seed: UInt64? = nil) throws {
        let scratch = try Scratch()
        var specs: [String] = []
        for table in tables {
            let file = scratch.url.appendingPathComponent("\(table.name).parquet")
            let writer = try ParquetWriter(url: file, columns: table.columns, options: table.options)
            for row in table.rows { try writer.append(row) }
            try writer.close()
            let spec = scratch.url.appendingPathComponent("\(table.name).json")
            try JSONSerialization.data(withJSONObject: expectation(table, file: file)).write(to: spec)
            specs.append(spec.path)
        }
        // Nothing but the files themselves (no temporary files left behind).
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).filter { $0.hasPrefix(".") }
        #expect(left.isEmpty, "temporary files left: \(left)")
        let (status, output) = try run(python, [checker.path] + specs)
        #expect(status == 0, "readers disagree\(seed.map { " (seed \($0))" } ?? ""):\n\(output)")
    }

    static func expectation(_ table: Table, file: URL) -> [String: Any] {
        [
            "file": file.path,
            "columns": table.columns.map { c -> [String: Any] in
                ["name": c.name, "type": "\(c.type)", "optional": c.optional]
            },
            "rows": table.rows.map { row in
                row.map { cell -> Any in
                    switch cell {
                    case .null: return NSNull()
                    case .int(let v): return NSNumber(value: v)
                    case .double(let v): return NSNumber(value: v.bitPattern)
                    case .bool(let v): return NSNumber(value: v)
                    case .string(let s): return s
                    }
                }
            },
        ]
    }

    static func run(_ executable: URL, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let allTypes: [ParquetColumn] = [
        ParquetColumn("i64", .int64), ParquetColumn("i32", .int32), ParquetColumn("f64", .double),
        ParquetColumn("flag", .boolean), ParquetColumn("text", .string),
        ParquetColumn("i64_opt", .int64, optional: true), ParquetColumn("i32_opt", .int32, optional: true),
        ParquetColumn("f64_opt", .double, optional: true), ParquetColumn("flag_opt", .boolean, optional: true),
        ParquetColumn("text_opt", .string, optional: true),
    ]

    @Test("every type, the 64- and 32-bit limits, NaN and signed zeros, non-ASCII text", .enabled(if: readersAvailable, "needs .build/venv (make venv)"))
    func limits() throws {
        let texts = ["", "a", "Grüße", "日本語のテキスト", "emoji 🧠🃏", "e\u{301}", "zero\u{0}byte", "\"quoted\", comma\nnewline",
                     String(repeating: "long ", count: 2000)]
        let ints: [Int64] = [.min, .max, 0, -1, 1, Int64(Int32.min) - 1, Int64(Int32.max) + 1]
        let int32s: [Int64] = [Int64(Int32.min), Int64(Int32.max), 0, -1, 1, 7, 7]
        let doubles: [Double] = [.nan, -0.0, 0.0, .infinity, -.infinity, .leastNonzeroMagnitude, -.greatestFiniteMagnitude]
        var rows: [[ParquetValue]] = []
        for i in 0..<max(texts.count, ints.count) {
            let flag = i % 3 == 0
            rows.append([
                .int(ints[i % ints.count]), .int(int32s[i % int32s.count]), .double(doubles[i % doubles.count]),
                .bool(flag), .string(texts[i % texts.count]),
                i % 2 == 0 ? .null : .int(ints[(i + 1) % ints.count]),
                i % 3 == 1 ? .null : .int(int32s[(i + 2) % int32s.count]),
                i % 2 == 1 ? .null : .double(doubles[(i + 3) % doubles.count]),
                i % 4 == 2 ? .null : .bool(!flag),
                i % 2 == 0 ? .null : .string(texts[(i + 4) % texts.count]),
            ])
        }
        var onlyNaN = Table(name: "nan", columns: [ParquetColumn("x", .double), ParquetColumn("y", .string, optional: true)], rows: [])
        onlyNaN.rows = [[.double(.nan), .null], [.double(.nan), .null]]
        let zeros = Table(name: "zeros", columns: [ParquetColumn("z", .double)], rows: [[.double(0.0)], [.double(-0.0)]])
        try Self.writeAndCheck([Table(name: "limits", columns: Self.allTypes, rows: rows), onlyNaN, zeros])
    }

    @Test("an empty table keeps its schema", .enabled(if: readersAvailable, "needs .build/venv (make venv)"))
    func empty() throws {
        try Self.writeAndCheck([Table(name: "empty", columns: Self.allTypes, rows: [])])
    }

    @Test("dictionary pages, RLE runs, several pages and row groups", .enabled(if: readersAvailable, "needs .build/venv (make venv)"))
    func largeAndRepetitive() throws {
        var options = ParquetWriter.Options()
        options.rowGroupBytes = 200_000
        options.pageBytes = 4_096
        var rows: [[ParquetValue]] = []
        for i in 0..<30_000 {
            rows.append([.int(Int64(i / 1000)), .int(Int64(i % 4 + 1)), .string(["new", "learning", "review"][i % 3]),
                         i % 100 < 60 ? .null : .int(Int64(i)), .string("card \(i)"), .bool(i % 17 == 0)])
        }
        let columns = [ParquetColumn("day", .int64), ParquetColumn("rating", .int32), ParquetColumn("state", .string),
                       ParquetColumn("sparse", .int64, optional: true), ParquetColumn("unique", .string),
                       ParquetColumn("flag", .boolean)]
        try Self.writeAndCheck([Table(name: "repetitive", columns: columns, rows: rows, options: options)])
    }

    @Test("random tables round-trip (property test)", .enabled(if: readersAvailable, "needs .build/venv (make venv)"))
    func randomTables() throws {
        var rng = SeededGenerator()
        let seed = rng.seed
        let types: [ParquetType] = [.int32, .int64, .double, .boolean, .string]
        let alphabet = Array("ab zäß日🃏\"\n,\u{0}")
        var tables: [Table] = []
        for t in 0..<12 {
            let columnCount = 1 + Int(rng.next(below: 6))
            var columns: [ParquetColumn] = []
            for c in 0..<columnCount {
                columns.append(ParquetColumn("c\(c)", types[Int(rng.next(below: UInt64(types.count)))], optional: rng.next(below: 2) == 0))
            }
            let rowCount = Int(rng.next(below: 4)) == 0 ? Int(rng.next(below: 3)) : Int(rng.next(below: 3000))
            let nullRate = rng.next(below: 100)
            let cardinality = [2, 16, 300, 1 << 40][Int(rng.next(below: 4))]
            var rows: [[ParquetValue]] = []
            var previous: [ParquetValue] = []
            for _ in 0..<rowCount {
                // Repeats of the previous row make runs (RLE); few distinct values make dictionaries.
                if !previous.isEmpty && rng.next(below: 4) == 0 {
                    rows.append(previous)
                    continue
                }
                var row: [ParquetValue] = []
                for column in columns {
                    if column.optional && rng.next(below: 100) < nullRate {
                        row.append(.null)
                        continue
                    }
                    let k = rng.next(below: UInt64(cardinality))
                    switch column.type {
                    case .int32: row.append(.int(rng.next(below: 8) == 0 ? Int64(Int32(truncatingIfNeeded: rng.next())) : Int64(k % 1_000_000) - 5))
                    case .int64: row.append(.int(rng.next(below: 8) == 0 ? Int64(bitPattern: rng.next()) : Int64(k) - 5))
                    case .double:
                        let special: [Double] = [.nan, -0.0, 0.0, .infinity, -.infinity]
                        row.append(.double(rng.next(below: 10) == 0 ? special[Int(rng.next(below: 5))]
                                           : Double(bitPattern: rng.next() & 0xBFFF_FFFF_FFFF_FFFF)))
                    case .boolean: row.append(.bool(rng.next(below: 2) == 0))
                    case .string:
                        let length = Int(k % 12)
                        var s = ""
                        var h = k
                        for _ in 0..<length {
                            s.append(alphabet[Int(h % UInt64(alphabet.count))])
                            h = h / 3 + 7
                        }
                        row.append(.string(s))
                    }
                }
                rows.append(row)
                previous = row
            }
            var options = ParquetWriter.Options()
            options.rowGroupBytes = [1 << 30, 20_000, 3_000][Int(rng.next(below: 3))]
            options.pageBytes = [1 << 20, 1_000, 64][Int(rng.next(below: 3))]
            options.maxDictionarySize = [1 << 16, 3][Int(rng.next(below: 2))]
            tables.append(Table(name: "random-\(t)", columns: columns, rows: rows, options: options))
        }
        try Self.writeAndCheck(tables, seed: seed)
    }

    @Test("bad rows are refused by column name, and a refused file leaves nothing behind")
    func refusals() throws {
        let scratch = try Scratch()
        let file = scratch.url.appendingPathComponent("t.parquet")
        let writer = try ParquetWriter(url: file, columns: [ParquetColumn("n", .int32), ParquetColumn("s", .string, optional: true)])
        try writer.append([.int(1), .null])
        #expect(throws: ParquetError.self) { try writer.append([.int(Int64(Int32.max) + 1), .null]) }
        #expect(throws: ParquetError.self) { try writer.append([.null, .string("x")]) }
        #expect(throws: ParquetError.self) { try writer.append([.string("1"), .null]) }
        #expect(throws: ParquetError.self) { try writer.append([.int(1)]) }
        do {
            try writer.append([.string("secret value"), .null])
        } catch let error as ParquetError {
            #expect(error.kind == .invalidRow)
            #expect(error.message.contains("n") && !error.message.contains("secret"))
        }
        #expect(writer.rowCount == 1)
        writer.abandon()
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
        #expect(throws: ParquetError.self) { try writer.append([.int(1), .null]) }
        #expect(throws: ParquetError.self) { try ParquetWriter(url: file, columns: [ParquetColumn("a", .int64), ParquetColumn("a", .int64)]) }
        #expect(throws: ParquetError.self) { try ParquetWriter(url: file, columns: []) }
    }

    @Test("RLE/bit-packed hybrid: runs and bit-packed groups as the format lays them out")
    func rleHybrid() {
        var out: [UInt8] = []
        let values: [UInt32] = Array(repeating: 1, count: 10) + [0, 1, 2, 3]
        values.withUnsafeBufferPointer { ParquetEncoding.rleHybrid($0, width: 2, into: &out) }
        // RLE run: header 10 << 1 = 20, value 1 in one byte; then one bit-packed group: header 1 << 1 | 1,
        // values 0 1 2 3 0 0 0 0 at two bits each, least significant first.
        #expect(out == [20, 1, 3, 0b1110_0100, 0])
        var thrift = ThriftCompactWriter()
        thrift.structBody { $0.i32(1, -1); $0.i64(20, 300); $0.bool(21, true) }
        #expect(thrift.bytes == [0x15, 0x01, 0x06, 0x28, 0xD8, 0x04, 0x11, 0x00])
    }
}
