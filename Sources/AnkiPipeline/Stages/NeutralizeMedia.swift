import GRDB

/// Registers the field rewriting used by the write stage: media references become placeholders of
/// their kind (`anki_submit_media`), and the sort field is recomputed from the rewritten fields
/// (`anki_submit_sort_field`), since Anki's own keeps media file names.
struct NeutralizeMedia: PipelineStage {
    static let name = "neutralize-media"
    static let summary = "media references become placeholders of their kind; media names never leave"

    func run(_ context: PipelineContext) throws {
        let neutralizer = try MediaNeutralizer(policy: context.policy, mediaNames: context.source.media.map(\.name))
        context.mediaNeutralizer = neutralizer
        try context.requireOutput().writeWithoutTransaction { db in
            db.add(function: DatabaseFunction("anki_submit_media", argumentCount: 1, pure: true) { values in
                try neutralizer.neutralize(String.fromDatabaseValue(values[0]) ?? "")
            })
            db.add(function: DatabaseFunction("anki_submit_sort_field", argumentCount: 2, pure: true) { values in
                SortField.text(of: String.fromDatabaseValue(values[0]) ?? "", index: Int.fromDatabaseValue(values[1]) ?? 0)
            })
        }
        context.report.count("media files in the package", context.source.media.count)
    }
}
