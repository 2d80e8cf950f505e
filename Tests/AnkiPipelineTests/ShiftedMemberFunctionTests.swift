import Foundation
import GRDB
import Testing

@testable import AnkiAudit

/// The audit's byte-level `lrt` comparison must decide exactly as SQLite's JSON functions do, and must
/// actually decide (not hand back NULL) for the data Anki writes.
@Suite("audit: the byte-level check of a shifted time in cards.data")
struct ShiftedMemberFunctionTests {
    static let shift: Int64 = -86_399_123

    /// (stored, original, the function must decide by itself)
    static let pairs: [(String, String?, Bool)] = [
        (#"{"s":1.5,"d":2,"dr":0.9,"decay":0.154,"lrt":1609372801}"#, #"{"s":1.5,"d":2,"lrt":1695771924,"pos":3}"#, true),
        (#"{"s":1.5,"lrt":1695685525}"#, #"{"lrt":1695771924}"#, true),
        (#"{"s":1.5}"#, #"{"lrt":1695771924}"#, true),
        (#"{"lrt":1609372801}"#, #"{"s":1}"#, true),
        (#"{"lrt":1609372801}"#, #"{"lrt":1695771924.0}"#, false),
        (#"{"lrt":1609372801}"#, "", false),
        (#"{"lrt":1609372801}"#, "not json", false),
        (#"{"lrt":1609372801}"#, nil, false),
        (#"{"lrt":1609372801}"#, #"{"lrt":"1695771924"}"#, false),
        (#"{"lrt":1609372801}"#, #"{"cd":{"x":1},"lrt":1695771924}"#, false),
        ("", #"{"lrt":1695771924}"#, true),
        ("", "", true),
        ("not json", #"{"lrt":1695771924}"#, false),
        (#"{"lrt":1609372801,"lrt":5}"#, #"{"lrt":1695771924}"#, false),
        (#"{"lrt":-5}"#, #"{"lrt":86399118}"#, true),
        (#"{"lrt":123456789012345678901}"#, #"{"lrt":1695771924}"#, false),
        (#"[1,2]"#, #"{"lrt":1695771924}"#, false),
        (#" { "lrt" : 1609372801 } "#, #"{"lrt":1695771924}"#, true),
    ]

    @Test("agrees with the JSON functions on every shape", arguments: pairs.indices)
    func agrees(_ index: Int) throws {
        let (stored, original, decides) = Self.pairs[index]
        let queue = try DatabaseQueue()
        try queue.write { db in
            try ShiftedMemberFunction.register(db)
            let arguments: StatementArguments = ["a": stored, "b": original, "s": Self.shift / 1000]
            let fast = try Int.fetchOne(db, sql: "SELECT " + ShiftedMemberFunction.condition(
                stored: ":a", original: ":b", key: "lrt", seconds: ":s"), arguments: arguments)
            let json = try Int.fetchOne(db, sql: "SELECT " + ShiftedMemberFunction.jsonCondition(
                stored: ":a", original: ":b", key: "lrt", seconds: ":s"), arguments: arguments)
            #expect(fast == json, "\(stored) / \(original ?? "NULL")")
            let alone = try Int.fetchOne(db, sql: "SELECT \(ShiftedMemberFunction.name)(:a, :b, 'lrt', :s)",
                                         arguments: arguments)
            #expect((alone != nil) == decides, "\(stored) / \(original ?? "NULL")")
        }
    }
}
