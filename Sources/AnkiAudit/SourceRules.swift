import AnkiReader
import AnkiSubmission
import Foundation
import GRDB

/// Checks that need the participant's collection: one constant time shift of at least a year that is
/// not a whole number of days, review days equal to the learner's own, and no original id, guid,
/// deck or note-type name, CSS or template text anywhere in the submission.
struct SourceRules {
    let policy: Policy
    let source: SubmissionAudit.Source

    static let dayMS: Int64 = 86_400_000

    func check(_ db: Database, _ findings: inout Findings) throws {
        let collection = source.collection
        let manifestRollover = try String.fetchOne(db, sql: "SELECT value FROM manifest WHERE key = 'rollover_hour'")
            .flatMap(Int.init) ?? policy.defaultRolloverHour

        // Source facts, read once. Reviews stay in two flat arrays (id order), not in row objects:
        // a million of them must fit in a few megabytes.
        var sourceReviewIDs: [Int64] = []
        var sourceReviewCards: [Int64] = []
        var sourceCards: [Int64: (due: Int64, odue: Int64, dueIsTime: Bool, odueIsTime: Bool, data: String)] = [:]
        var noteIDs = Set<Int64>()
        var guids = Set<String>()
        try collection.forEachReview {
            sourceReviewIDs.append($0.id)
            sourceReviewCards.append($0.cardID)
        }
        try collection.forEachCard { card in
            let dueIsTime = [1, 4].contains(card.queue) || (card.queue < 0 && [1, 3].contains(card.type) && card.due > 1_000_000_000)
            let odueIsTime = card.originalDeckID != 0 && [1, 3].contains(card.type) && card.originalDue > 1_000_000_000
            sourceCards[card.id] = (card.due, card.originalDue, dueIsTime, odueIsTime, card.data)
        }
        try collection.forEachNote { note in
            noteIDs.insert(note.id)
            guids.insert(note.guid)
        }

        // 1. One constant shift, found by aligning the review times.
        let outReviewIDs = try Int64.fetchAll(db, sql: "SELECT id FROM revlog ORDER BY id")
        let outCrt = try Int64.fetchOne(db, sql: "SELECT crt FROM col") ?? 0
        let secondsShift = outCrt - collection.config.creationTime
        guard let shiftMS = Self.alignShift(outReviewIDs, sourceReviewIDs, secondsShift: secondsShift) else {
            findings.add("time-shift", "review times are not the source times moved by one constant")
            return
        }
        if shiftMS.magnitude < UInt64(365 * Self.dayMS) { findings.add("time-shift", "the time shift is less than a year") }
        if shiftMS % Self.dayMS == 0 || secondsShift % 86_400 == 0 {
            findings.add("time-shift", "the time shift is a whole number of days, so times of day survive")
        }
        if floorDiv(shiftMS, 1000) != secondsShift {
            findings.add("time-shift", "the collection creation time moved by a different amount than the reviews")
        }

        // 2. Cards: created = original id + shift; timestamps inside moved by the same constant.
        var cardMap: [Int64: Int64] = [:]   // submission id -> original id
        for row in try Row.fetchAll(db, sql: "SELECT id, created, due, odue, data FROM cards ORDER BY id") {
            let id: Int64 = row[0], created: Int64 = row[1]
            let original = created - shiftMS
            guard let card = sourceCards[original] else {
                findings.add("time-shift", "card \(id) has a creation time that is not a shifted original")
                continue
            }
            cardMap[id] = original
            let due: Int64 = row[2], odue: Int64 = row[3]
            if due != card.due + (card.dueIsTime ? secondsShift : 0) {
                findings.add("time-shift", "card \(id) due is not the original moved by the shift")
            }
            if odue != card.odue + (card.odueIsTime ? secondsShift : 0) {
                findings.add("time-shift", "card \(id) odue is not the original moved by the shift")
            }
            if let lrt = Self.number(in: row[4], key: "lrt") {
                if lrt - secondsShift != Self.number(in: card.data, key: "lrt") {
                    findings.add("time-shift", "card \(id) lrt is not the original moved by the shift")
                }
            }
        }
        if cardMap.values.sorted() != cardMap.keys.sorted().map({ cardMap[$0]! }) {
            findings.add("dense-ids", "card counters do not follow the original order")
        }
        var noteCreated: [Int64] = []
        for created in try Int64.fetchAll(db, sql: "SELECT created FROM notes ORDER BY id") {
            let original = created - shiftMS
            if !noteIDs.contains(original) { findings.add("time-shift", "a note creation time is not a shifted original") }
            noteCreated.append(original)
        }
        if noteCreated != noteCreated.sorted() { findings.add("dense-ids", "note counters do not follow the original order") }

        // 3. Review days: the learner's own, relative to the first kept review day; each review on the
        // card it belonged to. Both sides are in time order, so one merge walk pairs them.
        let calendar = ReviewDayCalendar(timeZone: source.timeZone, rolloverHour: manifestRollover)
        var firstDay = Int64.max
        for id in outReviewIDs { firstDay = min(firstDay, calendar.day(ofMilliseconds: id - shiftMS)) }
        var wrongDays = 0, wrongCards = 0, index = 0, j = 0
        let rows = try Row.fetchCursor(db, sql: "SELECT id, cid, day FROM revlog ORDER BY id")
        while let row = try rows.next() {
            let original = (row[0] as Int64) - shiftMS
            while j < sourceReviewIDs.count && sourceReviewIDs[j] < original { j += 1 }
            let day = calendar.day(ofMilliseconds: original)
            if index % 997 == 0 && calendar.uncachedDay(ofMilliseconds: original) != day {
                findings.add("review-days", "the day cache disagrees with the calendar")
            }
            if (row[2] as Int64) != day - firstDay { wrongDays += 1 }
            if j >= sourceReviewIDs.count || sourceReviewCards[j] != cardMap[row[1]] { wrongCards += 1 }
            index += 1
        }
        if wrongDays > 0 { findings.add("review-days", "\(wrongDays) review day(s) differ from the learner's own") }
        if wrongCards > 0 { findings.add("references", "\(wrongCards) review(s) are attached to the wrong card") }

        // 4. Preset dates.
        let presets = collection.presets.sorted { $0.id < $1.id }
        for (index, row) in try Row.fetchAll(db, sql: "SELECT id, ignore_revlogs_before_ms FROM deck_config ORDER BY id").enumerated()
        where index < presets.count {
            let shifted: Int64? = row[1]
            if let date = presets[index].ignoreRevlogsBeforeDate, let ms = shifted {
                let parts = date.split(separator: "-").compactMap { Int64($0) }
                if parts.count == 3 {
                    let original = ReviewDayCalendar.daysFromCivil(year: parts[0], month: parts[1], day: parts[2]) * Self.dayMS
                    if ms - original != shiftMS { findings.add("time-shift", "a preset's ignore-before date was not shifted") }
                }
            }
        }

        // 5. Nothing original survives: ids as numbers inside text, identifying strings as values.
        var originalIDs = noteIDs
        originalIDs.formUnion(sourceCards.keys)
        originalIDs.formUnion(sourceReviewIDs)
        originalIDs.formUnion(collection.decks.map(\.id).filter { $0 > 1_000_000 })
        originalIDs.formUnion(collection.noteTypes.map(\.id))
        originalIDs.formUnion(collection.presets.map(\.id).filter { $0 > 1_000_000 })
        originalIDs.insert(collection.config.creationTime)
        var exactStrings = guids
        for deck in collection.decks { exactStrings.insert(deck.name); exactStrings.formUnion(deck.nameComponents) }
        exactStrings.formUnion(collection.noteTypes.map(\.name))
        exactStrings.remove("")
        var embedded: [String] = []   // long strings that must not appear inside any text
        for type in collection.noteTypes {
            embedded.append(type.css)
            for template in type.templates {
                embedded += [template.questionFormat, template.answerFormat, template.browserQuestionFormat,
                             template.browserAnswerFormat]
            }
        }
        embedded = Array(Set(embedded.filter { $0.count >= 24 }))
        let structural = embedded + collection.decks.map(\.name).filter { $0.count >= 4 }
            + collection.noteTypes.map(\.name).filter { $0.count >= 4 } + Array(guids)

        let textColumns: [(String, String, Bool)] = [   // table, column, participant-reviewed content?
            ("notes", "flds", true), ("notes", "sfld", true), ("notes", "tags", true),
            ("fields", "name", false), ("decks", "name", false), ("manifest", "value", false),
            ("deck_config", "fsrs_params", false), ("cards", "data", false),
        ]
        for (table, column, isContent) in textColumns {
            let rows = try String.fetchCursor(db, sql: "SELECT \(column) FROM \(table)")
            while let text = try rows.next() {
                if exactStrings.contains(text) && !(table == "fields" && column == "name") {
                    findings.add("no-source-strings", "\(table).\(column) holds an original deck or note-type name or guid")
                }
                if Self.containsID(text, originalIDs) {
                    findings.add("no-original-ids", "\(table).\(column) contains an original id or timestamp")
                }
                let needles = isContent ? embedded : structural
                if needles.contains(where: { text.contains($0) }) {
                    findings.add("no-source-strings", "\(table).\(column) contains original styling, template text or names")
                }
            }
        }
    }

    /// Finds the constant `c` with every submission review time minus `c` an original review time,
    /// trying only the few candidates the collection's shifted creation time allows. Both lists are
    /// sorted, so each candidate is checked by one merge walk.
    static func alignShift(_ out: [Int64], _ original: [Int64], secondsShift: Int64) -> Int64? {
        guard let first = out.first else { return secondsShift * 1000 }
        // c lies in [s*1000, s*1000 + 999] when s = floor(c / 1000).
        let low = first - (secondsShift * 1000 + 999), high = first - secondsShift * 1000
        var start = original.partitionIndex { $0 < low }
        while start < original.count && original[start] <= high {
            let candidate = first - original[start]
            var j = start
            var matches = true
            for value in out {
                let target = value - candidate
                while j < original.count && original[j] < target { j += 1 }
                if j == original.count || original[j] != target { matches = false; break }
            }
            if matches { return candidate }
            start += 1
        }
        return nil
    }

    static func number(in json: String, key: String) -> Int64? {
        guard json.contains(key), let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any],
              let value = object[key] as? NSNumber else { return nil }
        return value.int64Value
    }

    /// Any run of 9+ digits in `text` that equals an original id or timestamp.
    static func containsID(_ text: String, _ ids: Set<Int64>) -> Bool {
        var value: Int64 = 0
        var digits = 0
        for byte in text.utf8 {
            if byte >= 48 && byte <= 57 {
                if digits < 18 { value = value * 10 + Int64(byte - 48) }
                digits += 1
            } else {
                if digits >= 9 && digits <= 18 && ids.contains(value) { return true }
                value = 0
                digits = 0
            }
        }
        return digits >= 9 && digits <= 18 && ids.contains(value)
    }
}

extension Array where Element: Comparable {
    /// First index whose element does not satisfy `belongs` (binary search on a sorted array).
    func partitionIndex(where belongs: (Element) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if belongs(self[mid]) { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
