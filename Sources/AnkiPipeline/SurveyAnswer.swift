import AnkiReader
import AnkiScanner
import Foundation
import GRDB

/// One word of the survey's free-text answer that the participant should look at before it leaves:
/// it looks like personal data, or it is also the name of one of their decks, tags or note types.
/// The participant decides; what they confirm is theirs to share (`Decisions.domainConfirmed`).
public struct SurveyConcern: Sendable, Equatable, Hashable {
    public enum Reason: String, Sendable, Equatable, Hashable {
        case personalData = "personal_data", deckName = "deck_name", tag, noteTypeName = "note_type_name"
    }

    /// The participant's own words, as they typed them.
    public let word: String
    public let reason: Reason
    /// For `.personalData`: the scanner's finding kind (`name`, `email`, `health`, ...).
    public let kind: String?

    public init(word: String, reason: Reason, kind: String? = nil) {
        self.word = word
        self.reason = reason
        self.kind = kind
    }

    /// Why, in plain words.
    public var plainReason: String {
        switch reason {
        case .personalData: "looks like a \(FindingLabels.label(kind ?? "personal data"))"
        case .deckName: "is also the name of one of your decks"
        case .tag: "is also one of your tags"
        case .noteTypeName: "is also the name of one of your note types (card layouts)"
        }
    }

    public var jsonObject: [String: Any] {
        var object: [String: Any] = ["word": word, "reason": reason.rawValue, "explanation": plainReason]
        if let kind { object["kind"] = kind }
        return object
    }
}

/// The check of the survey's free-text answer, the same on the page (as the participant types) and in
/// `prepare` (before anything is written): personal data as the scanner finds it in card text, and
/// whole words or phrases that are also names the collection holds (deck names and each of their
/// levels, tags and each of their levels, note-type names), compared case-insensitively.
public struct SurveyAnswerCheck: Sendable {
    /// Lower-cased names, each at least two characters, by what they name.
    let names: [(name: String, reason: SurveyConcern.Reason)]

    public init(decks: [String], tags: [String], noteTypes: [String]) {
        var seen = Set<String>()
        var names: [(String, SurveyConcern.Reason)] = []
        func add(_ text: String, _ reason: SurveyConcern.Reason) {
            let name = text.trimmingCharacters(in: .whitespaces).lowercased()
            guard name.count >= 2, seen.insert(name).inserted else { return }
            names.append((name, reason))
        }
        for deck in decks {
            add(deck, .deckName)
            for level in deck.components(separatedBy: "::") { add(level, .deckName) }
        }
        for tag in tags {
            add(tag, .tag)
            for level in tag.components(separatedBy: "::") { add(level, .tag) }
        }
        for type in noteTypes { add(type, .noteTypeName) }
        self.names = names
    }

    /// The names a collection holds: its decks, the tags its notes carry and its note types.
    public init(collection: AnkiCollection) throws {
        var tags = Set<String>()
        try collection.database.read { db in
            let rows = try String.fetchCursor(db, sql: "SELECT DISTINCT tags FROM notes WHERE tags != ''")
            while let line = try rows.next() { tags.formUnion(line.split(separator: " ").map(String.init)) }
        }
        self.init(decks: collection.decks.map(\.name), tags: tags.sorted(), noteTypes: collection.noteTypes.map(\.name))
    }

    /// Every concern in `text`, in the order the words appear (one per word and reason).
    public func concerns(in text: String, scanner: AnkiScanner.Scanner) -> [SurveyConcern] {
        guard !text.isEmpty else { return [] }
        var found: [(offset: Int, concern: SurveyConcern)] = []
        let utf8 = Array(text.utf8)
        for finding in scanner.scanText(text, field: Finding.surveyField) {
            let word = String(decoding: utf8[max(0, finding.start)..<min(utf8.count, finding.end)], as: UTF8.self)
            found.append((finding.start, SurveyConcern(word: word, reason: .personalData, kind: finding.kind)))
        }
        let lower = text.lowercased()
        for (name, reason) in names {
            var from = lower.startIndex
            while let range = lower.range(of: name, range: from..<lower.endIndex) {
                from = range.upperBound
                guard Self.isBoundary(lower, before: range.lowerBound), Self.isBoundary(lower, after: range.upperBound)
                else { continue }
                // Lower-casing keeps the characters of these scripts in place, so the offsets map back.
                let start = lower.distance(from: lower.startIndex, to: range.lowerBound)
                let startIndex = text.index(text.startIndex, offsetBy: start, limitedBy: text.endIndex) ?? text.endIndex
                let endIndex = text.index(startIndex, offsetBy: lower.distance(from: range.lowerBound, to: range.upperBound),
                                          limitedBy: text.endIndex) ?? text.endIndex
                let word = String(text[startIndex..<endIndex])
                found.append((text.utf8.distance(from: text.startIndex, to: startIndex),
                              SurveyConcern(word: word.isEmpty ? name : word, reason: reason)))
                break
            }
        }
        var seen = Set<SurveyConcern>()
        return found.sorted { $0.offset < $1.offset }.map(\.concern).filter { seen.insert($0).inserted }
    }

    private static func isBoundary(_ text: String, before index: String.Index) -> Bool {
        index == text.startIndex || !Self.isWordCharacter(text[text.index(before: index)])
    }

    private static func isBoundary(_ text: String, after index: String.Index) -> Bool {
        index == text.endIndex || !Self.isWordCharacter(text[index])
    }

    private static func isWordCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }

    /// The refusal of the scripted path: every word and why, and how to keep the answer.
    public static func refusal(_ concerns: [SurveyConcern]) -> String {
        let listed = concerns.prefix(6).map { "\"\($0.word)\" \($0.plainReason)" }.joined(separator: "; ")
        let more = concerns.count > 6 ? " (and \(concerns.count - 6) more)" : ""
        return "Please look at your interests answer before it is shared: \(listed)\(more). Nothing was written. "
            + "Change the answer with --domain, or keep it exactly as you wrote it with --keep-domain "
            + "(\"domain_confirmed\": true in a decisions file)."
    }
}
