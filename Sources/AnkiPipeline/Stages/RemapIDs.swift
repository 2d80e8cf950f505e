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
            for table in ["map_note_types", "map_decks", "map_presets"] {
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

            // Notes and cards are kept or not in one pass over each table's ids in ascending order,
            // and looked up in memory by the write stage (`anki_submit_note`, `anki_submit_kept_card`,
            // `anki_submit_card`): tens of thousands of rows, where ranking them with window
            // functions into temporary tables and joining through those cost a third of a second.
            let noteTypes = Set(source.noteTypes.map(\.id))
            let excluded = Set(try Int64.fetchAll(db, sql: "SELECT id FROM temp.excluded_notes"))
            var keptNotes: [Int64] = []
            var orphanNotes = 0
            try Self.forEachRow(db, "SELECT id, mid FROM src.notes ORDER BY id") { s in
                let id = sqlite3_column_int64(s, 0)
                if !noteTypes.contains(sqlite3_column_int64(s, 1)) {
                    orphanNotes += 1
                } else if !excluded.contains(id) {
                    keptNotes.append(id)
                }
            }
            let noteMap = IDMap(kept: keptNotes)
            let decks = Set(source.decks.map(\.id))
            var keptCards: [Int64] = []
            var allCards: [Int64] = []
            var withoutDeck = 0
            try Self.forEachRow(db, "SELECT id, nid, did FROM src.cards ORDER BY id") { s in
                let id = sqlite3_column_int64(s, 0)
                allCards.append(id)
                guard noteMap.newID(sqlite3_column_int64(s, 1)) != nil else { return }
                keptCards.append(id)
                if !decks.contains(sqlite3_column_int64(s, 2)) { withoutDeck += 1 }
            }
            let cardMap = CardMap(kept: keptCards, all: allCards)
            context.cardMap = cardMap
            try noteMap.register(in: db, name: "anki_submit_note")
            try cardMap.register(in: db)
            context.report.count("notes", noteMap.count)
            context.report.count("cards", cardMap.keptCount)
            context.report.count("decks", source.decks.count)
            context.report.count("note types", source.noteTypes.count)
            context.report.count("presets", source.presets.count)
            if orphanNotes > 0 {
                context.report.count("notes of a missing note type (left out)", orphanNotes)
            }
            // The write stage gives them the default deck.
            if withoutDeck > 0 {
                context.report.count("cards without a deck (moved to the default deck)", withoutDeck)
            }
        }
    }

    /// Steps `sql` directly, handing each row's statement to `body`: a cursor's bookkeeping per row
    /// would cost more.
    private static func forEachRow(_ db: Database, _ sql: String, _ body: (OpaquePointer) -> Void) throws {
        let statement = try db.makeStatement(sql: sql)
        let s = statement.sqliteStatement
        while true {
            switch sqlite3_step(s) {
            case SQLITE_ROW: body(s)
            case SQLITE_DONE: return
            case let code:
                throw DatabaseError(resultCode: ResultCode(rawValue: code),
                                    message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
        }
    }
}

/// Original id to dense new id (its rank among the kept ids, from 1), in memory: an open-addressing
/// table answers in one or two probes where a binary search over the kept ids takes seventeen.
///
/// A lookup at a random card id (a million of them, one per review) costs one cache miss, so the
/// table is kept small: usually one word per slot, the id's distance from the smallest kept id in the
/// high 40 bits and its new id in the low 24 (80,000 cards in 1 MB instead of 2, which the core's
/// cache keeps far more often while SQLite streams pages through it). Ids spread over more than 34
/// years or more than 16 million rows take two words per slot, the id and its new id.
final class IDMap: @unchecked Sendable {
    private static let valueBits: UInt64 = 24
    private static let valueMask: UInt64 = (1 << valueBits) - 1
    /// Packed keys are `id - base + 1`, so that an empty slot is 0.
    private static let keyLimit: UInt64 = 1 << (64 - valueBits)

    private let words: UnsafeMutablePointer<UInt64>
    private let mask: Int
    private let packed: Bool
    private let base: Int64
    /// Wide table only: the new id of `Int64.min`, the id it uses as its empty marker, if kept.
    private let emptyKeyValue: Int64?
    let count: Int
    private static let wideEmpty = UInt64(bitPattern: Int64.min)

    /// `kept`: the kept rows' original ids in ascending order (so the new id is the position plus one).
    init(kept: [Int64]) {
        count = kept.count
        var capacity = 16
        while capacity * 7 < kept.count * 10 { capacity <<= 1 }   // at most 70 % full
        mask = capacity - 1
        base = kept.first ?? 0
        let (spread, overflow) = (kept.last ?? 0).subtractingReportingOverflow(base)
        packed = !overflow && UInt64(spread) < Self.keyLimit - 1 && UInt64(kept.count) < Self.valueMask
        var emptyKeyValue: Int64?
        if packed {
            words = .allocate(capacity: capacity)
            words.initialize(repeating: 0, count: capacity)
            for (index, id) in kept.enumerated() {
                var slot = Self.hash(id) & mask
                while words[slot] != 0 { slot = (slot + 1) & mask }
                words[slot] = (UInt64(id - base) + 1) << Self.valueBits | UInt64(index + 1)
            }
        } else {
            words = .allocate(capacity: capacity * 2)
            words.initialize(repeating: Self.wideEmpty, count: capacity * 2)
            for (index, id) in kept.enumerated() {
                let key = UInt64(bitPattern: id)
                guard key != Self.wideEmpty else {
                    emptyKeyValue = Int64(index + 1)
                    continue
                }
                var slot = Self.hash(id) & mask
                while words[2 * slot] != Self.wideEmpty { slot = (slot + 1) & mask }
                words[2 * slot] = key
                words[2 * slot + 1] = UInt64(index + 1)
            }
        }
        self.emptyKeyValue = emptyKeyValue
    }

    deinit { words.deallocate() }

    @inline(__always)
    private static func hash(_ id: Int64) -> Int {
        Int(truncatingIfNeeded: (UInt64(bitPattern: id) &* 0x9E37_79B9_7F4A_7C15) >> 32)
    }

    func newID(_ old: Int64) -> Int64? {
        var slot = Self.hash(old) & mask
        if packed {
            let (distance, overflow) = old.subtractingReportingOverflow(base)
            guard !overflow, distance >= 0, UInt64(distance) < Self.keyLimit - 1 else { return nil }
            let tag = (UInt64(distance) + 1) << Self.valueBits
            while true {
                let word = words[slot]
                if word & ~Self.valueMask == tag { return Int64(word & Self.valueMask) }
                if word == 0 { return nil }
                slot = (slot + 1) & mask
            }
        }
        let key = UInt64(bitPattern: old)
        if key == Self.wideEmpty { return emptyKeyValue }
        while true {
            let word = words[2 * slot]
            if word == key { return Int64(words[2 * slot + 1]) }
            if word == Self.wideEmpty { return nil }
            slot = (slot + 1) & mask
        }
    }

    static func position(of value: Int64, in sorted: [Int64]) -> Int? {
        sorted.withUnsafeBufferPointer { buffer in
            var low = 0, high = buffer.count
            while low < high {
                let mid = (low + high) / 2
                if buffer[mid] < value { low = mid + 1 } else { high = mid }
            }
            return low < buffer.count && buffer[low] == value ? low : nil
        }
    }

    /// Registers `name(id)`: the new id, or NULL for an id not kept (or not an integer).
    func register(in db: Database, name: String) throws {
        try IDFunction.register(db, name: name, map: self)
    }
}

/// A one-argument SQL function from an integer id to its new id or NULL, called straight from
/// SQLite (a million times for the review log): no closure or wrapper per row.
enum IDFunction {
    private final class Box {
        let map: IDMap
        /// Set for `anki_submit_card`, which also counts reviews of cards missing from the collection.
        let cards: CardMap?
        init(map: IDMap, cards: CardMap?) {
            self.map = map
            self.cards = cards
        }
    }

    static func register(_ db: Database, name: String, map: IDMap, countingMissesIn cards: CardMap? = nil) throws {
        let box = Unmanaged.passRetained(Box(map: map, cards: cards)).toOpaque()
        let rc = sqlite3_create_function_v2(
            db.sqliteConnection, name, 1, SQLITE_UTF8 | (cards == nil ? SQLITE_DETERMINISTIC : 0), box,
            { context, _, argv in
                guard let value = argv?[0], sqlite3_value_type(value) == SQLITE_INTEGER else {
                    sqlite3_result_null(context)
                    return
                }
                let old = sqlite3_value_int64(value)
                // Borrowed, not retained: a retain and release per review cost as much as the lookup.
                let found = Unmanaged<Box>.fromOpaque(sqlite3_user_data(context)!)._withUnsafeGuaranteedRef { box in
                    if let cards = box.cards { cards.newID(old) } else { box.map.newID(old) }
                }
                if let found {
                    sqlite3_result_int64(context, found)
                } else {
                    sqlite3_result_null(context)
                }
            },
            nil, nil,
            { pointer in if let pointer { Unmanaged<Box>.fromOpaque(pointer).release() } })
        if rc != SQLITE_OK {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "cannot register \(name)")
        }
    }
}

/// Original card id to dense new id. `anki_submit_kept_card(id)` is the lookup alone;
/// `anki_submit_card(cid)`, used once per review, also counts the reviews of cards missing from the
/// collection (deleted cards, whose reviews Anki keeps).
final class CardMap: @unchecked Sendable {
    private let map: IDMap
    private let all: [Int64]
    private let lock = NSLock()
    private var deleted = 0

    /// `kept`: the kept cards' original ids in ascending order (so the new id is the position plus
    /// one); `all`: every card id of the collection, ascending.
    init(kept: [Int64], all: [Int64]) {
        map = IDMap(kept: kept)
        self.all = all
    }

    var keptCount: Int { map.count }

    /// Reviews seen so far whose card is not in the collection.
    var reviewsOfDeletedCards: Int {
        lock.lock(); defer { lock.unlock() }
        return deleted
    }

    /// The new id of a kept card, nil for a card not kept (counted when not in the collection at all).
    func newID(_ old: Int64) -> Int64? {
        if let found = map.newID(old) { return found }
        if IDMap.position(of: old, in: all) == nil {
            lock.lock(); deleted += 1; lock.unlock()
        }
        return nil
    }

    func register(in db: Database) throws {
        try map.register(in: db, name: "anki_submit_kept_card")
        try IDFunction.register(db, name: "anki_submit_card", map: map, countingMissesIn: self)
    }
}
