import AnkiSubmission
import Foundation

/// The one secret offset a run moves every point in time by: drawn from the system's cryptographic
/// generator, uniform over the policy's span into the past, millisecond resolution, never a whole
/// number of days (so date, weekday and time of day are all hidden). It is never stored, printed or
/// logged: `description` and `debugDescription` hide it, and it is not `Codable`.
public struct TimeShift: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Added to every Unix-millisecond value (negative: into the past).
    let milliseconds: Int64
    /// Added to every Unix-second value: the same instant shift, floored to whole seconds.
    var seconds: Int64 { floorDiv(milliseconds, 1000) }

    public var description: String { "<secret time shift>" }
    public var debugDescription: String { description }

    static let dayMS: Int64 = 86_400_000

    /// Draws a fresh offset for `policy`.
    public static func draw(policy: Policy) -> TimeShift {
        var rng = SystemRandomNumberGenerator()
        return draw(policy: policy, using: &rng)
    }

    static func draw<R: RandomNumberGenerator>(policy: Policy, using rng: inout R) -> TimeShift {
        let low = Int64(policy.timeShift.minDays) * dayMS
        let high = Int64(policy.timeShift.maxDays) * dayMS
        while true {
            let ms = -Int64.random(in: low...high, using: &rng)
            let shift = TimeShift(milliseconds: ms)
            // A whole number of days (in ms or in whole seconds) would keep the time of day.
            if ms % dayMS != 0 && shift.seconds % 86_400 != 0 { return shift }
        }
    }

    /// For tests only: a known offset.
    static func fixed(milliseconds: Int64) -> TimeShift { TimeShift(milliseconds: milliseconds) }

    init(milliseconds: Int64) { self.milliseconds = milliseconds }
}
