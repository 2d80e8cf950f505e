import AnkiSubmission
import Foundation
import GRDB

/// Applies what the participant decided: excluded notes go (with their cards, reviews and state, via
/// the id maps), removed tags disappear from every note (`anki_submit_tags`).
struct ApplyDecisions: PipelineStage {
    static let name = "apply-decisions"
    static let summary = "excluded notes leave with their cards and reviews; removed tags leave every note"

    func run(_ context: PipelineContext) throws {
        let removed = Set(context.decisions.removedTags.map { $0.lowercased() })
        try context.requireOutput().writeWithoutTransaction { db in
            try db.execute(sql: "CREATE TEMP TABLE excluded_notes (id INTEGER PRIMARY KEY)")
            let insert = try db.makeStatement(sql: "INSERT INTO temp.excluded_notes (id) VALUES (?)")
            for id in context.decisions.excludedNotes { try insert.execute(arguments: [id]) }
            db.add(function: DatabaseFunction("anki_submit_tags", argumentCount: 1, pure: true) { values in
                Self.filterTags(String.fromDatabaseValue(values[0]) ?? "", removing: removed)
            })
        }
        context.report.count("notes excluded", context.decisions.excludedNotes.count)
        context.report.count("tags removed", removed.count)
    }

    /// Space-separated tags without the removed ones (Anki compares tags case-insensitively).
    static func filterTags(_ tags: String, removing removed: Set<String>) -> String {
        tags.split(separator: " ").filter { !removed.contains($0.lowercased()) }.joined(separator: " ")
    }
}
