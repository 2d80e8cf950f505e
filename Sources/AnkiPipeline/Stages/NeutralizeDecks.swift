import AnkiReader
import AnkiSubmission
import Foundation
import GRDB

/// Writes decks under neutral names that keep the hierarchy (`deck-1::deck-4`) and their presets
/// with only what the policy keeps: FSRS parameters, desired retention, the (shifted) ignore-before
/// date, new cards per day and maximum interval.
struct NeutralizeDecks: PipelineStage {
    static let name = "neutralize-decks"
    static let summary = "deck names become deck-N along the hierarchy; presets keep only FSRS settings and limits"

    func run(_ context: PipelineContext) throws {
        let source = context.source
        let shift = context.requireShift()
        let prefix = context.policy.deckNamePrefix
        let deckIDs = Dictionary(uniqueKeysWithValues: source.decks.map(\.id).sorted().enumerated().map { ($1, Int64($0 + 1)) })
        let presetIDs = Dictionary(uniqueKeysWithValues: source.presets.map(\.id).sorted().enumerated().map { ($1, Int64($0 + 1)) })
        let byID = Dictionary(uniqueKeysWithValues: source.decks.map { ($0.id, $0) })
        var unknownPreset = 0

        func neutralName(_ deck: Deck) -> String {
            var chain: [Int64] = [deckIDs[deck.id]!]
            var current = deck
            var seen: Set<Int64> = [deck.id]
            while let parent = current.parentID, let next = byID[parent], seen.insert(parent).inserted {
                chain.append(deckIDs[parent]!)
                current = next
            }
            return chain.reversed().map { "\(prefix)\($0)" }.joined(separator: "::")
        }

        // A parent can have a larger id than its child (created later), so references are checked at commit.
        // Deferred, like every write of the submission: an immediate transaction would also take the
        // write lock of the attached collection, which the scan is reading on the second core.
        try context.requireOutput().inTransaction(.deferred) { db in
            try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
            let presetInsert = try db.makeStatement(sql: """
                INSERT INTO deck_config (id, fsrs_params, desired_retention, ignore_revlogs_before_date,
                                         ignore_revlogs_before_ms, new_per_day, max_ivl)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            for preset in source.presets.sorted(by: { $0.id < $1.id }) {
                var params: [String: [Double]] = [:]
                if !preset.fsrsParams4.isEmpty { params["fsrsWeights"] = preset.fsrsParams4 }
                if !preset.fsrsParams5.isEmpty { params["fsrsParams5"] = preset.fsrsParams5 }
                if !preset.fsrsParams6.isEmpty { params["fsrsParams6"] = preset.fsrsParams6 }
                let json = String(decoding: try JSONSerialization.data(withJSONObject: params, options: [.sortedKeys]),
                                  as: UTF8.self)
                let ignore = preset.ignoreRevlogsBeforeDate.flatMap { Self.shiftedDate($0, by: shift) }
                try presetInsert.execute(arguments: [presetIDs[preset.id]!, json, preset.desiredRetention,
                                                     ignore?.date, ignore?.milliseconds, preset.newPerDay,
                                                     preset.maximumInterval])
            }
            let deckInsert = try db.makeStatement(sql: """
                INSERT INTO decks (id, name, parent_id, conf_id, filtered) VALUES (?, ?, ?, ?, ?)
                """)
            for deck in source.decks.sorted(by: { $0.id < $1.id }) {
                let conf = deck.presetID.flatMap { presetIDs[$0] }
                if deck.presetID != nil && conf == nil { unknownPreset += 1 }
                try deckInsert.execute(arguments: [deckIDs[deck.id]!, neutralName(deck), deck.parentID.flatMap { deckIDs[$0] },
                                                   conf, deck.isFiltered ? 1 : 0])
            }
            return .commit
        }
        context.report.count("decks renamed", source.decks.count)
        context.report.count("presets", source.presets.count)
        if unknownPreset > 0 { context.report.count("decks whose preset is missing", unknownPreset) }
    }

    /// `YYYY-MM-DD` is read as midnight UTC (how Anki compares it with review times), shifted, and
    /// written back as the shifted instant's UTC date plus the exact shifted milliseconds.
    static func shiftedDate(_ text: String, by shift: TimeShift) -> (date: String, milliseconds: Int64)? {
        let parts = text.split(separator: "-").compactMap { Int64($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        let days = ReviewDayCalendar.daysFromCivil(year: parts[0], month: parts[1], day: parts[2])
        let shifted = days * 86_400_000 + shift.milliseconds
        return (utcDate(milliseconds: shifted), shifted)
    }

    static func utcDate(milliseconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(floorDiv(milliseconds, 1000)))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }
}
