import AnkiReader
import AnkiScanner
import AnkiSubmission
import Foundation

/// Runs the personal-data and special-category scanner over every note (fields and tags; media file
/// names are all replaced, so they are not scanned) and the survey's free text. With `--exclude-flagged` every note with a finding
/// is left out. When more notes than the policy's threshold mention health, religion or politics,
/// the participant must have confirmed the special-category notice, or nothing is written. A scan the
/// review page already made of the same collection is reused.
struct ScanContent: PipelineStage {
    static let name = "scan"
    static let summary = "personal data and special categories are found; flagged notes can be left out"

    func run(_ context: PipelineContext) throws {
        // The survey's free text is checked first: it is short and the answer is needed at once. A word
        // that looks like personal data or names a deck, tag or note type is the participant's to keep
        // (`domainConfirmed`); otherwise the refusal names each word.
        let domain = context.decisions.domain
        if !domain.isEmpty {
            let concerns = try SurveyAnswerCheck(collection: context.source).concerns(in: domain, scanner: context.scanner)
            context.report.count("words to confirm in the survey text", concerns.count)
            if !concerns.isEmpty && !context.decisions.domainConfirmed {
                throw PrepareError(.invalidDecisions, SurveyAnswerCheck.refusal(concerns))
            }
        }
        if let report = context.scanReport {
            // The review page has already scanned the same collection with the same scanner.
            try Self.apply(report, to: context)
        } else if context.options.excludeFlagged {
            try Self.apply(try context.scanner.scan(collection: context.source, mediaNames: false), to: context)
        } else {
            // Nothing before the write depends on the findings: the notes are scanned on the second
            // core while the submission is built, and the write stage waits for the result (and its
            // special-category check) before anything is renamed into place.
            let scanner = context.scanner
            let source = UncheckedCollection(collection: context.source)
            context.pendingScan = InBackground { try scanner.scan(collection: source.collection, mediaNames: false) }
        }
    }

    /// Waits for a scan started by `run` and applies its result (called by the write stage).
    static func finishPending(_ context: PipelineContext) throws {
        guard let pending = context.pendingScan else { return }
        context.pendingScan = nil
        try apply(try pending.value(), to: context)
    }

    private static func apply(_ report: ScanReport, to context: PipelineContext) throws {
        context.scanReport = report
        var flagged = Set<Int64>()
        var specialNotes = Set<Int64>()
        for note in report.notes {
            flagged.insert(note.noteID)
            if note.findings.contains(where: { $0.category == .special }) { specialNotes.insert(note.noteID) }
        }
        context.report.count("notes scanned", report.summary.notesScanned, stage: name)
        context.report.count("notes with personal data",
                             report.notes.filter { $0.findings.contains { $0.category == .pii } }.count, stage: name)
        context.report.count("notes with special-category terms", specialNotes.count, stage: name)

        if context.options.excludeFlagged {
            let added = flagged.subtracting(context.decisions.excludedNotes)
            context.decisions.excludedNotes.formUnion(flagged)
            context.report.count("flagged notes excluded", added.count, stage: name)
        }
        let remainingSpecial = specialNotes.subtracting(context.decisions.excludedNotes).count
        if remainingSpecial > context.scanner.specialCategoryThreshold && !context.decisions.specialCategoryConfirmed {
            throw PrepareError(.specialCategoryUnconfirmed,
                               "\(remainingSpecial) notes mention health, religion or politics (special categories of "
                               + "personal data). Look at them with `anki-submit scan`, exclude what you do not want to "
                               + "share, and confirm with --confirm-special-categories; nothing was written.")
        }
    }
}

/// The collection is only read by the scan thread (its own connection) while the pipeline writes.
private struct UncheckedCollection: @unchecked Sendable {
    let collection: AnkiCollection
}
