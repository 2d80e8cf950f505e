import AnkiReader
import Foundation
import GRDB
import GRDBSQLite

/// Replaces every identifier by a dense counter from 1, in ascending order of the original id, the
/// same in every table: note types, decks, presets, notes and cards. Rows the maps leave out (excluded
/// notes, notes of a missing note type, cards of such notes) are not written.
struct RemapIDs: PipelineStage {
    static let name = "remap-ids"
    static let summary = "note, card, deck, note-type and preset ids become dense counters from 1"

    func run(_ context: PipelineContext) throws {
        let source = context.source
        try context.requireOutput().writeWithoutTransaction { db in
            for table in ["map_note_types", "map_decks", "map_presets", "map_notes", "map_cards"] {
                // Looked up by the original id only; `new` is the rank of `old`, unique by construction
                // (and the audit proves the counters dense), so it needs no index of its own.
                try db.execute(sql: "CREATE TEMP TABLE \(table) (old INTEGER PRIMARY KEY, new INTEGER NOT NULL)")
            }
            func fill(_ table: String, _ ids: [Int64]) throws {
                let statement = try db.makeStatement(sql: "INSERT INTO temp.\(table) (old, new) VALUES (?, ?)")
                for (index, id) in ids.sorted().enumerated() { try statement.execute(arguments: [id, index + 1]) }
            }
            try fill("map_note_types", source.noteTypes.map(\.id))
            try fill("map_decks", source.decks.map(\.id))
            try fill("map_presets", source.presets.map(\.id))
            try db.execute(sql: """
                INSERT INTO temp.map_notes (old, new)
                SELECT n.id, row_number() OVER (ORDER BY n.id) FROM src.notes n
                WHERE n.mid IN (SELECT old FROM temp.map_note_types)
                  AND n.id NOT IN (SELECT id FROM temp.excluded_notes)
                ORDER BY n.id
                """)
            try db.execute(sql: """
                INSERT INTO temp.map_cards (old, new)
                SELECT c.id, row_number() OVER (ORDER BY c.id) FROM src.cards c
                WHERE c.nid IN (SELECT old FROM temp.map_notes)
                ORDER BY c.id
                """)
            // Reviews find their card's new id in memory (`anki_submit_card`), which also counts the
            // reviews of deleted cards as the write stage copies the review log.
            let cardMap = CardMap(kept: try Int64.fetchAll(db, sql: "SELECT old FROM temp.map_cards ORDER BY old"),
                                  all: try Int64.fetchAll(db, sql: "SELECT id FROM src.cards ORDER BY id"))
            context.cardMap = cardMap
            try cardMap.register(in: db)
            func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
            let notes = try count("SELECT count(*) FROM temp.map_notes")
            let cards = cardMap.keptCount
            let orphanNotes = try count("""
                SELECT count(*) FROM src.notes WHERE mid NOT IN (SELECT old FROM temp.map_note_types)
                """)
            context.report.count("notes", notes)
            context.report.count("cards", cards)
            context.report.count("decks", source.decks.count)
            context.report.count("note types", source.noteTypes.count)
            context.report.count("presets", source.presets.count)
            if orphanNotes > 0 {
                context.report.count("notes of a missing note type (left out)", orphanNotes)
            }
        }
    }
}

/// Original card id to dense new id, in memory. Registered as `anki_submit_card(cid)`: the new id, or
/// NULL for a card that is not kept; reviews of cards missing from the collection are counted. Looked
/// up once per review (a million times, in time order, so at random card ids): an open-addressing
/// table answers in one or two probes where a binary search over the kept ids takes seventeen.
final class CardMap: @unchecked Sendable {
    private let kept: [Int64]
    private let all: [Int64]
    /// Slots of the table: an original id and its new id, or `empty`.
    private let keys: [Int64]
    private let values: [Int32]
    private let mask: Int
    private let lock = NSLock()
    private var deleted = 0
    private static let empty = Int64.min

    /// `kept`: the kept cards' original ids in ascending order (so the new id is the position plus
    /// one); `all`: every card id of the collection, ascending.
    init(kept: [Int64], all: [Int64]) {
        self.kept = kept
        self.all = all
        var capacity = 16
        while capacity < kept.count * 2 { capacity <<= 1 }
        var keys = [Int64](repeating: Self.empty, count: capacity)
        var values = [Int32](repeating: 0, count: capacity)
        let mask = capacity - 1
        for (index, id) in kept.enumerated() where id != Self.empty {
            var slot = Self.hash(id) & mask
            while keys[slot] != Self.empty { slot = (slot + 1) & mask }
            keys[slot] = id
            values[slot] = Int32(truncatingIfNeeded: index + 1)
        }
        self.keys = keys
        self.values = values
        self.mask = mask
    }

    var keptCount: Int { kept.count }

    /// Reviews seen so far whose card is not in the collection.
    var reviewsOfDeletedCards: Int {
        lock.lock(); defer { lock.unlock() }
        return deleted
    }

    @inline(__always)
    private static func hash(_ id: Int64) -> Int {
        Int(truncatingIfNeeded: (UInt64(bitPattern: id) &* 0x9E37_79B9_7F4A_7C15) >> 32)
    }

    func newID(_ old: Int64) -> Int64? {
        // More kept cards than an Int32 holds, or the one id the table cannot store: binary search.
        if kept.count >= Int(Int32.max) || old == Self.empty {
            if let index = Self.position(of: old, in: kept) { return Int64(index + 1) }
        } else {
            let found: Int64? = keys.withUnsafeBufferPointer { keys in
                var slot = Self.hash(old) & mask
                while true {
                    let key = keys[slot]
                    if key == old { return Int64(values[slot]) }
                    if key == Self.empty { return nil }
                    slot = (slot + 1) & mask
                }
            }
            if let found { return found }
        }
        if Self.position(of: old, in: all) == nil {
            lock.lock(); deleted += 1; lock.unlock()
        }
        return nil
    }

    private static func position(of value: Int64, in sorted: [Int64]) -> Int? {
        sorted.withUnsafeBufferPointer { buffer in
            var low = 0, high = buffer.count
            while low < high {
                let mid = (low + high) / 2
                if buffer[mid] < value { low = mid + 1 } else { high = mid }
            }
            return low < buffer.count && buffer[low] == value ? low : nil
        }
    }

    func register(in db: Database) throws {
        let box = Unmanaged.passRetained(self).toOpaque()
        let rc = sqlite3_create_function_v2(
            db.sqliteConnection, "anki_submit_card", 1, SQLITE_UTF8, box,
            { context, _, argv in
                guard let value = argv?[0], sqlite3_value_type(value) == SQLITE_INTEGER else {
                    sqlite3_result_null(context)
                    return
                }
                let map = Unmanaged<CardMap>.fromOpaque(sqlite3_user_data(context)).takeUnretainedValue()
                if let id = map.newID(sqlite3_value_int64(value)) {
                    sqlite3_result_int64(context, id)
                } else {
                    sqlite3_result_null(context)
                }
            },
            nil, nil,
            { pointer in if let pointer { Unmanaged<CardMap>.fromOpaque(pointer).release() } })
        if rc != SQLITE_OK {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "cannot register anki_submit_card")
        }
    }
}
