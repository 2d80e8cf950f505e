import GRDB

/// Keeps of each note type only its structure: whether it is cloze, its sort field, and its field
/// names in order. Names, CSS, templates and LaTeX headers stay behind.
struct ReduceNoteTypes: PipelineStage {
    static let name = "reduce-note-types"
    static let summary = "note types keep kind, sort field and field names; names, CSS and templates stay behind"

    func run(_ context: PipelineContext) throws {
        let types = context.source.noteTypes.sorted { $0.id < $1.id }
        var fields = 0
        try context.requireOutput().writeWithoutTransaction { db in
            let typeInsert = try db.makeStatement(sql: "INSERT INTO note_types (id, kind, sort_field) VALUES (?, ?, ?)")
            let fieldInsert = try db.makeStatement(sql: "INSERT INTO fields (note_type_id, ord, name) VALUES (?, ?, ?)")
            for (index, type) in types.enumerated() {
                try typeInsert.execute(arguments: [index + 1, type.kind.rawValue, type.sortFieldIndex])
                for (ord, field) in type.fields.enumerated() {
                    try fieldInsert.execute(arguments: [index + 1, ord, field.name])
                    fields += 1
                }
            }
        }
        context.report.count("note types", types.count)
        context.report.count("fields", fields)
        context.report.count("templates left out", types.reduce(0) { $0 + $1.templates.count })
    }
}
