/// Draws the run's one secret offset. The write stage applies it to every point in time: review
/// times, creation times of the collection, notes and cards, learning due times, timestamp `odue`,
/// `lrt` in card data, and the preset's ignore-before date.
struct ShiftTimestamps: PipelineStage {
    static let name = "shift-timestamps"
    static let summary = "every point in time moves by one secret random offset of years, with a random time of day"

    /// Tests may pin the offset; a real run always draws one.
    var fixed: TimeShift?

    init(fixed: TimeShift? = nil) { self.fixed = fixed }

    func run(_ context: PipelineContext) throws {
        context.shift = fixed ?? TimeShift.draw(policy: context.policy)
        context.report.note("one secret offset between \(context.policy.timeShift.minDays / 365) and "
                            + "\(context.policy.timeShift.maxDays / 365) years into the past (never stored or shown)")
    }
}
