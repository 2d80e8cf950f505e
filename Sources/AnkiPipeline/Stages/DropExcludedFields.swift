import AnkiSubmission
import GRDB

/// Guarantees that nothing the policy excludes has a column to go into, and reports how much the
/// collection held that will not leave the machine.
struct DropExcludedFields: PipelineStage {
    static let name = "drop-excluded-fields"
    static let summary = "sync metadata, guids, checksums, flags, graves, styling and media files are not written"

    func run(_ context: PipelineContext) throws {
        let excluded = context.policy.excluded
        let outputTables: [String: [String]] = [
            "col": excluded.col, "notes": excluded.notes, "cards": excluded.cards, "revlog": excluded.revlog,
            "note_types": excluded.noteTypes, "decks": excluded.decks,
        ]
        try context.requireOutput().read { db in
            for table in excluded.tables where try db.tableExists(table, in: "main") {
                throw PrepareError(.auditFailed, "The submission schema has a table the policy excludes.")
            }
            for (table, columns) in outputTables {
                let present = Set(try db.columns(in: table, in: "main").map { $0.name.lowercased() })
                if !present.isDisjoint(with: columns.map { $0.lowercased() }) {
                    throw PrepareError(.auditFailed, "The submission schema has a column the policy excludes.")
                }
            }
            func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
            let hasGraves = try Int.fetchOne(db, sql: "SELECT count(*) FROM src.sqlite_master WHERE name = 'graves'") == 1
            context.report.count("graves", hasGraves ? try count("SELECT count(*) FROM src.graves") : 0)
            context.report.count("guids", try count("SELECT count(*) FROM src.notes"))
            context.report.count("flagged cards", try count("SELECT count(*) FROM src.cards WHERE flags != 0"))
            context.report.count("notes with add-on data", try count("SELECT count(*) FROM src.notes WHERE data != ''"))
        }
        context.report.count("media files", context.source.media.count)
        context.report.count("note types with styling", context.source.noteTypes.count)
    }
}
