import AnkiReader
import GRDB

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
                try db.execute(sql: "CREATE TEMP TABLE \(table) (old INTEGER PRIMARY KEY, new INTEGER NOT NULL UNIQUE)")
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
            func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
            let notes = try count("SELECT count(*) FROM temp.map_notes")
            let cards = try count("SELECT count(*) FROM temp.map_cards")
            let orphanNotes = try count("""
                SELECT count(*) FROM src.notes WHERE mid NOT IN (SELECT old FROM temp.map_note_types)
                """)
            let orphanReviews = try count("SELECT count(*) FROM src.revlog WHERE cid NOT IN (SELECT id FROM src.cards)")
            context.report.count("notes", notes)
            context.report.count("cards", cards)
            context.report.count("decks", source.decks.count)
            context.report.count("note types", source.noteTypes.count)
            context.report.count("presets", source.presets.count)
            if orphanNotes > 0 {
                context.report.count("notes of a missing note type (left out)", orphanNotes)
            }
            if orphanReviews > 0 {
                context.report.count("reviews of deleted cards (left out)", orphanReviews)
            }
        }
    }
}
