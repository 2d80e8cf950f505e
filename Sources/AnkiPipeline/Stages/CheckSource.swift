import AnkiReader

/// Refuses a damaged or empty collection before anything is written.
struct CheckSource: PipelineStage {
    static let name = "check-source"
    static let summary = "the collection passes the integrity, id-range and text checks and has notes"

    func run(_ context: PipelineContext) throws {
        // SQLite's integrity check reads the whole working copy: it runs on the second core while
        // the submission is built, and the write stage waits for it before the audit (a failure
        // there, or any earlier error while it runs, is reported as the damaged collection it is).
        context.integrityCheck = context.source.startIntegrityCheck(checkValueTypes: true)
        try context.source.validateContent()
        try context.source.requireNotes()
        let counts = try context.source.counts()
        context.report.count("notes", counts.notes)
        context.report.count("cards", counts.cards)
        context.report.count("reviews", counts.revlog)
        context.report.note("format \(context.source.format.rawValue), schema \(context.source.config.schemaVersion)")
    }
}
