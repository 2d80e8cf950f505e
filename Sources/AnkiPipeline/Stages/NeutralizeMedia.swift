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
            try TextFunction.register(db, name: "anki_submit_media", argumentCount: 1) { bytes, _ in
                try neutralizer.neutralize(bytes: bytes).map { TextFunction.Result.bytes($0) } ?? .unchanged
            }
            try TextFunction.register(db, name: "anki_submit_sort_field", argumentCount: 2) { bytes, index in
                SortField.text(of: bytes, index: Int(clamping: index))
            }
        }
        context.report.count("media files in the package", context.source.media.count)
    }
}
