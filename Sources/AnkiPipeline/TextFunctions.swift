import Foundation
import GRDB
import GRDBSQLite

/// SQL functions over a text argument that read SQLite's own UTF-8 bytes and hand back the argument
/// untouched when nothing changes, so the bulk copy makes no Swift strings for the common note.
enum TextFunction {
    enum Result {
        /// The first argument, as it is.
        case unchanged
        /// A byte range of the first argument.
        case slice(Range<Int>)
        /// New text.
        case bytes([UInt8])
        /// SQL NULL.
        case null
    }

    typealias Body = (UnsafeBufferPointer<UInt8>, Int64) throws -> Result

    /// Registers `name(text)` or `name(text, integer)`; a NULL text stays NULL. An error inside `body`
    /// becomes an SQL error without the text.
    static func register(_ db: Database, name: String, argumentCount: Int32, _ body: @escaping Body) throws {
        final class Box { let body: Body; init(_ body: @escaping Body) { self.body = body } }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = sqlite3_create_function_v2(
            db.sqliteConnection, name, argumentCount, SQLITE_UTF8 | SQLITE_DETERMINISTIC, box,
            { context, argc, argv in
                guard let argv, let value = argv[0], sqlite3_value_type(value) != SQLITE_NULL else {
                    sqlite3_result_null(context)
                    return
                }
                let function = Unmanaged<Box>.fromOpaque(sqlite3_user_data(context)).takeUnretainedValue()
                let pointer = sqlite3_value_text(value)   // UTF-8, converted by SQLite when needed
                let count = Int(sqlite3_value_bytes(value))
                let bytes = UnsafeBufferPointer(start: pointer, count: pointer == nil ? 0 : count)
                let number = argc > 1 ? sqlite3_value_int64(argv[1]) : 0
                do {
                    switch try function.body(bytes, number) {
                    case .unchanged:
                        sqlite3_result_value(context, value)
                    case .null:
                        sqlite3_result_null(context)
                    case .slice(let range):
                        result(context, range.isEmpty ? nil : UnsafeRawPointer(bytes.baseAddress! + range.lowerBound),
                               range.count)
                    case .bytes(let out):
                        out.withUnsafeBufferPointer { buffer in
                            result(context, buffer.isEmpty ? nil : UnsafeRawPointer(buffer.baseAddress!), buffer.count)
                        }
                    }
                } catch {
                    sqlite3_result_error(context, "text function failed", -1)
                }
            },
            nil, nil,
            { pointer in if let pointer { Unmanaged<AnyObject>.fromOpaque(pointer).release() } })
        if rc != SQLITE_OK {   // SQLite has already called the destructor
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "cannot register \(name)")
        }
    }
}

/// Sets a text result that SQLite copies before the function returns; nil is the empty text.
private func result(_ context: OpaquePointer?, _ start: UnsafeRawPointer?, _ count: Int) {
    guard let start else {
        sqlite3_result_text(context, "", 0, SQLITE_TRANSIENT)
        return
    }
    sqlite3_result_text(context, start.assumingMemoryBound(to: CChar.self), Int32(count), SQLITE_TRANSIENT)
}

/// `SQLITE_TRANSIENT`: SQLite copies the result before the function returns.
private let SQLITE_TRANSIENT = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

extension UnsafeBufferPointer<UInt8> {
    /// Whether `needle` (ASCII) occurs.
    func contains(ascii needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard n > 0, count >= n, let base = baseAddress else { return n == 0 }
        let first = needle.utf8Start.pointee
        var i = 0
        while i <= count - n {
            guard let hit = memchr(base + i, Int32(first), count - n + 1 - i) else { return false }
            i = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
            if memcmp(base + i, needle.utf8Start, n) == 0 { return true }
            i += 1
        }
        return false
    }
}
