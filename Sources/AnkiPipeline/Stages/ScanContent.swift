import AnkiScanner
import Foundation

/// Runs the personal-data and special-category scanner over every note (fields, tags, the names of
/// media it refers to) and the survey's free text. With `--exclude-flagged` every note with a finding
/// is left out. When more notes than the policy's threshold mention health, religion or politics,
/// the participant must have confirmed the special-category notice, or nothing is written. A scan the
/// review page already made of the same collection is reused.
struct ScanContent: PipelineStage {
    static let name = "scan"
    static let summary = "personal data and special categories are found; flagged notes can be left out"

    func run(_ context: PipelineContext) throws {
        // The review page has already scanned the same collection with the same scanner.
        let report = try context.scanReport ?? context.scanner.scan(collection: context.source)
        context.scanReport = report
        var flagged = Set<Int64>()
        var specialNotes = Set<Int64>()
        for note in report.notes {
            flagged.insert(note.noteID)
            if note.findings.contains(where: { $0.category == .special }) { specialNotes.insert(note.noteID) }
        }
        context.report.count("notes scanned", report.summary.notesScanned)
        context.report.count("notes with personal data", report.notes.filter { $0.findings.contains { $0.category == .pii } }.count)
        context.report.count("notes with special-category terms", specialNotes.count)
        let surveyFindings = context.decisions.domain.isEmpty
            ? 0 : context.scanner.scanText(context.decisions.domain, field: Finding.surveyField).count
        if surveyFindings > 0 { context.report.count("findings in the survey text", surveyFindings) }

        if context.options.excludeFlagged {
            let added = flagged.subtracting(context.decisions.excludedNotes)
            context.decisions.excludedNotes.formUnion(flagged)
            context.report.count("flagged notes excluded", added.count)
        }
        let remainingSpecial = specialNotes.subtracting(context.decisions.excludedNotes).count
        if remainingSpecial > context.scanner.specialCategoryThreshold && !context.decisions.specialCategoryConfirmed {
            throw PrepareError(.specialCategoryUnconfirmed,
                               "\(remainingSpecial) notes mention health, religion or politics (special categories of "
                               + "personal data). Look at them with `anki-submit scan`, exclude what you do not want to "
                               + "share, and confirm with --confirm-special-categories; nothing was written.")
        }
        if surveyFindings > 0 {
            throw PrepareError(.invalidDecisions,
                               "Your interests/domain answer looks like it contains personal data (a name, address or "
                               + "number); please rephrase it without that.")
        }
    }
}
