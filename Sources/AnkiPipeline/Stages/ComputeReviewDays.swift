import AnkiSubmission
import Foundation
import GRDB
import GRDBSQLite

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
            try Self.registerDayFunction(db, calendar: calendar)
            let row = try Row.fetchOne(db, sql: """
                SELECT min(anki_submit_day(id)), max(anki_submit_day(id)), count(*) FROM src.revlog
                WHERE cid IN (SELECT old FROM temp.map_cards)
                """)
            let first: Int64? = row?[0]
            let last: Int64? = row?[1]
            context.firstReviewDay = first ?? 0
            context.report.count("reviews", row?[2] ?? 0)
            context.report.count("days from first to last review", Int((last ?? 0) - (first ?? 0)))
        }
        context.report.note("rollover at \(context.rolloverHour):00 in the participant's time zone")
    }

    /// A raw SQLite function (no boxing per call: it runs once per review, a million times).
    static func registerDayFunction(_ db: Database, calendar: ReviewDayCalendar) throws {
        let box = Unmanaged.passRetained(calendar).toOpaque()
        let rc = sqlite3_create_function_v2(
            db.sqliteConnection, "anki_submit_day", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, box,
            { context, _, argv in
                guard let value = argv?[0], sqlite3_value_type(value) == SQLITE_INTEGER else {
                    sqlite3_result_null(context)
                    return
                }
                let calendar = Unmanaged<ReviewDayCalendar>.fromOpaque(sqlite3_user_data(context)).takeUnretainedValue()
                sqlite3_result_int64(context, calendar.day(ofMilliseconds: sqlite3_value_int64(value)))
            },
            nil, nil,
            { pointer in if let pointer { Unmanaged<ReviewDayCalendar>.fromOpaque(pointer).release() } })
        if rc != SQLITE_OK {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "cannot register anki_submit_day")
        }
    }
}
