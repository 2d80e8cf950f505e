import AnkiReader

/// Refuses a damaged or empty collection before anything is written.
struct CheckSource: PipelineStage {
    static let name = "check-source"
    static let summary = "the collection passes the integrity, id-range and text checks and has notes"

    func run(_ context: PipelineContext) throws {
        try context.source.validate()
        try context.source.requireNotes()
        let counts = try context.source.counts()
        context.report.count("notes", counts.notes)
        context.report.count("cards", counts.cards)
        context.report.count("reviews", counts.revlog)
        context.report.note("format \(context.source.format.rawValue), schema \(context.source.config.schemaVersion)")
    }
}
