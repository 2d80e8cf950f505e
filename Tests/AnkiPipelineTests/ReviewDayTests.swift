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

    /// Truth from Python's zoneinfo on the wall clock (Tests/Fixtures/review-days/make_truth.py), for
    /// instants around every clock change 2019-2026 in twelve zones (both hemispheres, 30- and
    /// 45-minute shifts, zones that dropped DST) and every rollover hour.
    @Test("days next to every clock change equal zoneinfo's wall clock, rollover 0-23")
    func daysAroundTransitions() throws {
        let script = Fixtures.root.appendingPathComponent("Tests/Fixtures/review-days/make_truth.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "make_truth.py failed")
        let truth = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        var checked = 0
        for case let entry as [String: Any] in truth["cases"] as! [Any] {
            let zone = entry["zone"] as! String
            let seconds = (entry["seconds"] as! [NSNumber]).map(\.int64Value)
            let byRollover = entry["days_by_rollover"] as! [[NSNumber]]
            for rollover in 0..<24 {
                let calendar = ReviewDayCalendar(timeZone: try #require(TimeZone(identifier: zone)), rolloverHour: rollover)
                var wrong = 0, uncachedWrong = 0
                for (index, second) in seconds.enumerated() {
                    let want = byRollover[rollover][index].int64Value
                    if calendar.day(ofMilliseconds: second * 1000 + 999) != want { wrong += 1 }
                    if calendar.uncachedDay(ofMilliseconds: second * 1000) != want { uncachedWrong += 1 }
                    checked += 1
                }
                #expect(wrong == 0, "\(zone) rollover \(rollover): \(wrong) of \(seconds.count) days differ")
                #expect(uncachedWrong == 0, "\(zone) rollover \(rollover), uncached: \(uncachedWrong) differ")
            }
        }
        #expect(checked > 500_000)
    }

    /// Two instants worked out by hand (Paris, 2024): on 31 March the clock jumps from 02:00 to 03:00
    /// at 01:00 UTC; on 27 October it goes back from 03:00 to 02:00 at 01:00 UTC.
    @Test("Paris on the days the clock changes, by hand")
    func parisByHand() {
        let paris = TimeZone(identifier: "Europe/Paris")!
        let march31 = ReviewDayCalendar.daysFromCivil(year: 2024, month: 3, day: 31)
        let october27 = ReviewDayCalendar.daysFromCivil(year: 2024, month: 10, day: 27)
        // 01:30 UTC = 03:30 CEST on the wall clock: past a 3 am rollover, so 31 March.
        let spring: Int64 = 1_711_848_600_000
        #expect(ReviewDayCalendar(timeZone: paris, rolloverHour: 3).day(ofMilliseconds: spring) == march31)
        #expect(ReviewDayCalendar(timeZone: paris, rolloverHour: 4).day(ofMilliseconds: spring) == march31 - 1)
        // 01:30 UTC = 02:30 CET (the second 02:30 of the night): before a 3 am rollover, so 26 October.
        let autumn: Int64 = 1_729_992_600_000
        #expect(ReviewDayCalendar(timeZone: paris, rolloverHour: 3).day(ofMilliseconds: autumn) == october27 - 1)
        #expect(ReviewDayCalendar(timeZone: paris, rolloverHour: 2).day(ofMilliseconds: autumn) == october27)
    }

    @Test("days from civil dates")
    func civil() {
        #expect(ReviewDayCalendar.daysFromCivil(year: 1970, month: 1, day: 1) == 0)
        #expect(ReviewDayCalendar.daysFromCivil(year: 2000, month: 3, day: 1) == 11_017)
        #expect(ReviewDayCalendar.daysFromCivil(year: 1969, month: 12, day: 31) == -1)
    }
}
