import AnkiSubmission
import Foundation
import GRDB

/// Computes each review's day on the participant's machine, before any time is shifted: the local
/// date (IANA zone, DST-aware) of the review time minus the rollover hour, stored relative to the
/// first review day of the submission (day 0). Registers `anki_submit_day(ms)` for the write stage.
struct ComputeReviewDays: PipelineStage {
    static let name = "compute-review-days"
    static let summary = "review days are the learner's own local days (time zone, DST, rollover hour)"

    func run(_ context: PipelineContext) throws {
        let calendar = ReviewDayCalendar(timeZone: context.options.timeZone, rolloverHour: context.rolloverHour)
        context.calendar = calendar
        try context.requireOutput().writeWithoutTransaction { db in
            try calendar.register(in: db)
            // Local dates never go back by more than a day, so the first review day lies within the
            // first three days of reviews: no need to compute a million days twice.
            // The first and last kept reviews are found from each end of the log; the number of
            // reviews is counted by the write stage as it copies them.
            // A lookup in the card map per review looked at: these queries stop after a few rows.
            let kept = "FROM src.revlog WHERE anki_submit_kept_card(cid) IS NOT NULL"
            let firstID = try Int64.fetchOne(db, sql: "SELECT id \(kept) ORDER BY id LIMIT 1")
            let lastID = try Int64.fetchOne(db, sql: "SELECT id \(kept) ORDER BY id DESC LIMIT 1")
            let first = try Int64.fetchOne(db, sql: "SELECT min(anki_submit_day(id)) \(kept) AND id < ?",
                                           arguments: [(firstID ?? 0) + 3 * 86_400_000]) ?? 0
            context.firstReviewDay = first
            context.report.count("days from first to last review",
                                 Int(lastID.map { calendar.day(ofMilliseconds: $0) - first } ?? 0))
        }
        context.report.note("rollover at \(context.rolloverHour):00 in the participant's time zone")
    }
}
