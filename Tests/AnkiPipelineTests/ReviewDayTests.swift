import AnkiPipeline
import AnkiReader
import AnkiSubmission
import Foundation
import GRDB
import Testing

/// Per card, the sequence of (day - first day, ease) in the submission equals the learner's own, in
/// every zone the fixtures were made in (Berlin and New York and Auckland, each with DST).
@Suite("Review days match the learner's clock")
struct ReviewDayTests {
    @Test("day sequences per card equal the truth", arguments: Fixtures.packages().map { [$0.0, $0.1] })
    func daySequences(_ pair: [URL]) throws {
        let (file, truthURL) = (pair[0], pair[1])
        let truth = try Fixtures.truth(truthURL)
        let zone = truth["tz"] as! String
        let rollover = truth["rollover"] as! Int
        let expected = truth["card_day_sequences"] as! [String: [[Int]]]
        let scratch = try Scratch()
        let prepared = try prepare(file, zone: zone, rollover: rollover, out: scratch.sub("out"))

        // Submission card k is the k-th original card in id order.
        let collection = try AnkiCollection.open(file)
        defer { collection.close() }
        var originalCards: [Int64] = []
        try collection.forEachCard { originalCards.append($0.id) }
        originalCards.sort()

        var sequences: [Int64: [[Int]]] = [:]
        var dayZero = Int64.max
        try openReadOnly(prepared.submission).read { db in
            dayZero = try Int64.fetchOne(db, sql: "SELECT min(day) FROM revlog") ?? 0
            var firstDay: [Int64: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT cid, day, ease FROM revlog ORDER BY id") {
                let cid: Int64 = row[0], day: Int64 = row[1], ease: Int = row[2]
                let first = firstDay[cid] ?? day
                firstDay[cid] = first
                sequences[cid, default: []].append([Int(day - first), ease])
            }
        }
        #expect(dayZero == 0, "the first review day is day 0")
        var compared = 0
        for (index, original) in originalCards.enumerated() {
            let got = sequences[Int64(index + 1)] ?? []
            let want = expected[String(original)] ?? []
            #expect(got == want, "card #\(index + 1) of \(file.lastPathComponent)")
            compared += want.isEmpty ? 0 : 1
        }
        #expect(compared > 50)
    }

    @Test("a different zone gives different days (the check can fail)")
    func wrongZoneIsDetected() throws {
        let file = Fixtures.generated.appendingPathComponent("auckland-latest.apkg")
        let truth = try Fixtures.truth(Fixtures.generated.appendingPathComponent("auckland-truth.json"))
        let expected = truth["card_day_sequences"] as! [String: [[Int]]]
        let scratch = try Scratch()
        let prepared = try prepare(file, zone: "Europe/Berlin", rollover: 4, out: scratch.sub("out"))
        let collection = try AnkiCollection.open(file)
        defer { collection.close() }
        var originalCards: [Int64] = []
        try collection.forEachCard { originalCards.append($0.id) }
        originalCards.sort()
        var mismatches = 0
        try openReadOnly(prepared.submission).read { db in
            var sequences: [Int64: [[Int]]] = [:]
            var firstDay: [Int64: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT cid, day, ease FROM revlog ORDER BY id") {
                let cid: Int64 = row[0], day: Int64 = row[1]
                let first = firstDay[cid] ?? day
                firstDay[cid] = first
                sequences[cid, default: []].append([Int(day - first), row[2]])
            }
            for (index, original) in originalCards.enumerated()
            where (sequences[Int64(index + 1)] ?? []) != (expected[String(original)] ?? []) {
                mismatches += 1
            }
        }
        #expect(mismatches > 0)
    }

    @Test("the cached calendar equals the plain calendar across DST transitions",
          arguments: ["Europe/Berlin", "America/New_York", "Pacific/Auckland", "Australia/Lord_Howe",
                      "America/Santiago", "Asia/Kolkata", "UTC"])
    func calendarCache(_ zone: String) {
        for rollover in [0, 4, 23] {
            let calendar = ReviewDayCalendar(timeZone: TimeZone(identifier: zone)!, rolloverHour: rollover)
            var ms: Int64 = 1_704_067_200_000   // 2024-01-01
            let end: Int64 = 1_767_225_600_000  // 2026-01-01
            var mismatches = 0
            while ms < end {
                if calendar.day(ofMilliseconds: ms) != calendar.uncachedDay(ofMilliseconds: ms) { mismatches += 1 }
                ms += 1_337_000   // ~22 minutes, odd so it crosses every hour boundary
            }
            #expect(mismatches == 0, "\(zone) rollover \(rollover)")
        }
    }

    @Test("days from civil dates")
    func civil() {
        #expect(ReviewDayCalendar.daysFromCivil(year: 1970, month: 1, day: 1) == 0)
        #expect(ReviewDayCalendar.daysFromCivil(year: 2000, month: 3, day: 1) == 11_017)
        #expect(ReviewDayCalendar.daysFromCivil(year: 1969, month: 12, day: 31) == -1)
    }
}
