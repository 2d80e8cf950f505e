import AnkiReader
import Foundation
import GRDB

/// Checks the participant's decisions against the collection before anything is written: every
/// excluded note exists, every removed tag exists, consent was answered.
struct ResolveDecisions: PipelineStage {
    static let name = "resolve-decisions"
    static let summary = "excluded notes and removed tags exist in the collection; consent is answered"

    func run(_ context: PipelineContext) throws {
        let decisions = context.decisions
        guard decisions.consentPublic != nil else {
            throw PrepareError(.invalidDecisions,
                               "Please answer whether your data may be part of the public release "
                               + "(--consent-public yes or no, or \"consent_public\" in the decisions file).")
        }
        var noteIDs = Set<Int64>()
        var tagsInUse = Set<String>()
        var notesWithRemovedTags = 0
        let removed = Set(decisions.removedTags.map { $0.lowercased() })
        // Nothing to exclude and no tag to remove: nothing to look up in every note.
        if decisions.excludedNotes.isEmpty && removed.isEmpty {
            context.report.count("excluded notes", 0)
            context.report.count("removed tags", 0)
            context.report.count("notes losing a tag", 0)
            return
        }
        try context.source.database.read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT id, tags FROM notes")
            while let row = try rows.next() {
                let id: Int64 = try row.decode(Int64.self, atIndex: 0)
                noteIDs.insert(id)
                let tags = (try row.decode(String?.self, atIndex: 1) ?? "").split(separator: " ")
                    .map { $0.lowercased() }
                tagsInUse.formUnion(tags)
                if !removed.isEmpty && tags.contains(where: removed.contains) && !decisions.excludedNotes.contains(id) {
                    notesWithRemovedTags += 1
                }
            }
        }
        let unknownNotes = decisions.excludedNotes.subtracting(noteIDs).count
        if unknownNotes > 0 {
            throw PrepareError(.invalidDecisions,
                               "\(unknownNotes) of the notes to exclude are not in this collection "
                               + "(use the note ids that `anki-submit scan` or `inspect` shows for this file).")
        }
        let unknownTags = removed.subtracting(tagsInUse).count
        if unknownTags > 0 {
            throw PrepareError(.invalidDecisions, "\(unknownTags) of the tags to remove are not used in this collection.")
        }
        context.report.count("excluded notes", decisions.excludedNotes.count)
        context.report.count("removed tags", removed.count)
        context.report.count("notes losing a tag", notesWithRemovedTags)
    }
}
