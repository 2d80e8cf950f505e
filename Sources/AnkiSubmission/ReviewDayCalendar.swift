import Foundation
import GRDB
import GRDBSQLite

/// Turns review times into the learner's review days as Anki counts them (`sched_timing_today_v2_new`):
/// the review's local wall-clock time in the learner's IANA time zone (DST included); at or past the
/// rollover hour it is that local date, before it the date before. Computed on the participant's
/// machine, before any time is shifted.
///
/// The wall clock is the instant plus the zone's offset *at that instant*; the rollover is then taken
/// off the wall clock. (Taking it off the instant first would use the offset of an earlier moment,
/// a different one next to the rollover on the days the clock changes.)
///
/// Reviews arrive in time order, so the UTC offset is cached until the zone's next transition: one
/// time-zone lookup per DST period instead of one per review.
public final class ReviewDayCalendar: @unchecked Sendable {
    public let timeZone: TimeZone
    public let rolloverHour: Int
    private var validFrom: Int64 = .max
    private var validUntil: Int64 = .min
    private var offsetSeconds: Int64 = 0

    public init(timeZone: TimeZone, rolloverHour: Int) {
        self.timeZone = timeZone
        self.rolloverHour = rolloverHour
    }

    /// Days since 1970-01-01 of the review day of the instant `ms`: the local wall-clock date, one
    /// less before the rollover hour.
    public func day(ofMilliseconds ms: Int64) -> Int64 {
        let seconds = floorDiv(ms, 1000)
        if seconds < validFrom || seconds >= validUntil { refresh(at: seconds) }
        return floorDiv(seconds + offsetSeconds - Int64(rolloverHour) * 3600, 86_400)
    }

    private func refresh(at seconds: Int64) {
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        offsetSeconds = Int64(timeZone.secondsFromGMT(for: date))
        validFrom = seconds
        if let next = timeZone.nextDaylightSavingTimeTransition(after: date) {
            validUntil = Int64(next.timeIntervalSince1970.rounded(.down))
            // A transition reported at or before `seconds` would loop; fall back to one lookup per hour.
            if validUntil <= seconds { validUntil = seconds + 1 }
        } else {
            validUntil = seconds + 86_400 * 366
        }
    }

    /// Registers `anki_submit_day(ms)` on a connection: a raw SQLite function (no boxing per call, since
    /// it runs once per review, a million times), holding a strong reference to this calendar.
    ///
    /// Arguments after the time, if any, are values the caller copies as they are and which must be
    /// numbers: one that is not (text, a blob, NULL) makes the function fail with `notANumber` in its
    /// message, so the statement copying a review log checks its values in the same pass.
    public func register(in db: Database, name: String = "anki_submit_day") throws {
        let box = Unmanaged.passRetained(self).toOpaque()
        let rc = sqlite3_create_function_v2(
            db.sqliteConnection, name, -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, box,
            { context, argc, argv in
                guard let argv, argc >= 1 else {
                    sqlite3_result_error(context, "\(ReviewDayCalendar.notANumber): no time", -1)
                    return
                }
                for index in 1..<Int(argc) {
                    let type = sqlite3_value_type(argv[index])
                    if type != SQLITE_INTEGER && type != SQLITE_FLOAT {
                        sqlite3_result_error(context, ReviewDayCalendar.notANumber, -1)
                        return
                    }
                }
                guard let value = argv[0], sqlite3_value_type(value) == SQLITE_INTEGER else {
                    sqlite3_result_null(context)
                    return
                }
                // Borrowed, not retained (a retain and release per review would cost more than the day).
                let day = Unmanaged<ReviewDayCalendar>.fromOpaque(sqlite3_user_data(context)!)
                    ._withUnsafeGuaranteedRef { $0.day(ofMilliseconds: sqlite3_value_int64(value)) }
                sqlite3_result_int64(context, day)
            },
            nil, nil,
            { pointer in if let pointer { Unmanaged<ReviewDayCalendar>.fromOpaque(pointer).release() } })
        if rc != SQLITE_OK {   // SQLite has already called the destructor, releasing `box`
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "cannot register \(name)")
        }
    }

    /// In the error of `anki_submit_day` given a value that is not a number.
    public static let notANumber = "anki_submit_day: a value that should be a number is not"

    /// The same day without any caching, from Foundation's calendar fields (used by tests and the
    /// audit as an independent check): the local date, one day less when the local hour is before
    /// the rollover.
    public func uncachedDay(ofMilliseconds ms: Int64) -> Int64 {
        let date = Date(timeIntervalSince1970: TimeInterval(floorDiv(ms, 1000)))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour], from: date)
        let civil = Self.daysFromCivil(year: Int64(parts.year!), month: Int64(parts.month!), day: Int64(parts.day!))
        return parts.hour! < rolloverHour ? civil - 1 : civil
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// Integer division rounding toward negative infinity (times before 1970 and negative offsets).
public func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
