import AnkiSubmission
import GRDB
import GRDBSQLite

/// `anki_submit_shifted_member_bad(stored, original, key, seconds)`, the source audit's check of a time
/// kept inside `cards.data` (FSRS's `lrt`): 1 when the stored data holds `key` and its value is not the
/// original's moved by `seconds`, 0 when it is (or when the stored data does not hold `key`), and NULL
/// when the function cannot tell: a text not in Anki's flat numeric shape, a key written twice, a value
/// that is not a plain integer. The caller's SQL then decides with SQLite's JSON functions, so this
/// only spares those functions' three parses per card for the data Anki actually writes.
enum ShiftedMemberFunction {
    static let name = "anki_submit_shifted_member_bad"

    /// The SQL condition "the stored member is not the original's moved by `seconds`": the function
    /// where it can tell, else SQLite's JSON functions, which reject '' (the data of every card an older
    /// Anki wrote) outright, hence the `json_valid` guards.
    static func condition(stored: String, original: String, key: String, seconds: String) -> String {
        "coalesce(\(name)(\(stored), \(original), '\(key)', \(seconds)), "
            + jsonCondition(stored: stored, original: original, key: key, seconds: seconds) + ")"
    }

    /// The same condition with JSON functions only.
    static func jsonCondition(stored: String, original: String, key: String, seconds: String) -> String {
        let path = "'$.\(key)'"
        return """
            CASE WHEN NOT json_valid(\(stored)) THEN 0
                 WHEN json_extract(\(stored), \(path)) IS NULL THEN 0
                 WHEN NOT json_valid(\(original)) THEN 1
                 ELSE json_extract(\(stored), \(path)) - \(seconds) IS NOT json_extract(\(original), \(path)) END
            """
    }

    enum Lookup: Equatable {
        case absent
        case integer(Int64)
        case undecided
    }

    /// The value of `key` in flat numeric JSON `bytes`.
    static func integerMember(_ bytes: UnsafeRawBufferPointer, key: [UInt8]) -> Lookup {
        var found: Lookup = .absent
        let flat = FlatNumericJSON.walk(bytes) { member in
            guard key.elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[member.key])) else { return true }
            guard found == .absent, member.isInteger else { return false }
            guard let value = FlatNumericJSON.integer(UnsafeRawBufferPointer(rebasing: bytes[member.value])) else { return false }
            found = .integer(value)
            return true
        }
        return flat ? found : .undecided
    }

    /// 1, 0 or nil (undecided) for one card, as described above.
    static func evaluate(stored: UnsafeRawBufferPointer, original: UnsafeRawBufferPointer?, key: [UInt8],
                         seconds: Int64) -> Int64? {
        if stored.isEmpty { return 0 }    // '' holds no key (SQLite's JSON functions reject it outright)
        switch integerMember(stored, key: key) {
        case .undecided: return nil
        case .absent: return 0
        case .integer(let value):
            guard let original else { return nil }
            switch integerMember(original, key: key) {
            case .undecided: return nil
            case .absent: return 1
            case .integer(let before):
                let (moved, overflow) = before.addingReportingOverflow(seconds)
                return overflow ? nil : (moved == value ? 0 : 1)
            }
        }
    }

    /// A text argument's UTF-8 bytes as SQLite holds them.
    static func bytes(_ value: OpaquePointer) -> UnsafeRawBufferPointer {
        let pointer = sqlite3_value_text(value)
        return UnsafeRawBufferPointer(start: pointer, count: pointer == nil ? 0 : Int(sqlite3_value_bytes(value)))
    }

    static func register(_ db: Database) throws {
        let rc = sqlite3_create_function_v2(
            db.sqliteConnection, name, 4, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nil,
            { context, _, argv in
                guard let argv, let stored = argv[0], let original = argv[1], let key = argv[2], let seconds = argv[3],
                      sqlite3_value_type(stored) == SQLITE_TEXT, sqlite3_value_type(key) == SQLITE_TEXT,
                      sqlite3_value_type(seconds) == SQLITE_INTEGER else {
                    sqlite3_result_null(context)
                    return
                }
                let keyBytes = Array(ShiftedMemberFunction.bytes(key))
                let storedBytes = ShiftedMemberFunction.bytes(stored)
                let originalBytes = sqlite3_value_type(original) == SQLITE_TEXT ? ShiftedMemberFunction.bytes(original) : nil
                if let result = ShiftedMemberFunction.evaluate(stored: storedBytes, original: originalBytes, key: keyBytes,
                                         seconds: sqlite3_value_int64(seconds)) {
                    sqlite3_result_int64(context, result)
                } else {
                    sqlite3_result_null(context)
                }
            },
            nil, nil, nil)
        if rc != SQLITE_OK {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "cannot register \(name)")
        }
    }
}
