import AnkiPipeline
import AnkiReader
import AnkiScanner
import AnkiSubmission
import Foundation
import GRDB

/// Everything the review page shows, loaded once from the collection and the scan, plus the
/// participant's decisions as they make them. Thread-safe: the server's handlers run concurrently.
public final class ReviewSession: @unchecked Sendable {
    struct NoteEntry: Sendable {
        let id: Int64
        let noteTypeID: Int64
        let fields: [String]
        let tags: [String]
        let lowercasedTags: Set<String>
        /// Lowercased visible text of all fields and tags, for search.
        let searchText: String
        let cards: [CardEntry]
        let reviews: Int
        let findings: [Finding]
        let special: Bool
        /// Home decks of the note's cards (filtered decks resolved to where the card came from).
        let deckIDs: Set<Int64>
    }

    struct CardEntry: Sendable {
        let id: Int64
        let ord: Int
        let deckID: Int64
        let reviews: Int
    }

    public struct TagEntry: Sendable, Equatable {
        public let name: String
        public let notes: Int
    }

    public struct DeckEntry: Sendable, Equatable {
        public let id: Int64
        public let name: String
        public let notes: Int
    }

    public enum Filter: String, Sendable, CaseIterable { case all, flagged, excluded, included, special }

    let noteTypes: [Int64: NoteType]
    let deckNames: [Int64: String]
    let deckChildren: [Int64: [Int64]]
    let notes: [NoteEntry]
    let noteIndex: [Int64: Int]
    public let tags: [TagEntry]
    public let decks: [DeckEntry]
    public let languages: LanguageList
    public let scanner: AnkiScanner.Scanner
    public let specialThreshold: Int
    public let sourceFormat: String
    /// The survey answer's check, the same as prepare's (AnkiPipeline's `SurveyAnswerCheck`).
    let surveyCheck: SurveyAnswerCheck
    let renderer = CardRenderer()
    let sanitizer = HTMLSanitizer()

    private let lock = NSLock()
    private var decisions: Decisions

    /// Loads notes, cards and review counts; `scan` is the scanner's report for the same collection.
    public init(collection: AnkiCollection, scan: ScanReport, scanner: AnkiScanner.Scanner, languages: LanguageList,
                decisions: Decisions) throws {
        self.scanner = scanner
        self.languages = languages
        self.decisions = decisions
        specialThreshold = scanner.specialCategoryThreshold
        sourceFormat = collection.format.rawValue
        var types: [Int64: NoteType] = [:]
        for type in collection.noteTypes { types[type.id] = type }
        noteTypes = types
        var names: [Int64: String] = [:]
        var children: [Int64: [Int64]] = [:]
        for deck in collection.decks {
            names[deck.id] = deck.name
            if let parent = deck.parentID { children[parent, default: []].append(deck.id) }
        }
        deckNames = names
        deckChildren = children

        var findingsByNote: [Int64: [Finding]] = [:]
        for entry in scan.notes { findingsByNote[entry.noteID] = entry.findings }

        // Cards and review counts per card, in one pass each.
        var reviewsByCard: [Int64: Int] = [:]
        var cardsByNote: [Int64: [(id: Int64, ord: Int, deck: Int64)]] = [:]
        try collection.database.read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT cid, count(*) FROM revlog GROUP BY cid")
            while let row = try rows.next() { reviewsByCard[row[0]] = row[1] }
            let cards = try Row.fetchCursor(db, sql: "SELECT id, nid, ord, did, odid FROM cards ORDER BY nid, ord")
            while let row = try cards.next() {
                let original: Int64 = row[4] ?? 0
                let deck: Int64 = original != 0 ? original : row[3]
                cardsByNote[row[1], default: []].append((row[0], row[2], deck))
            }
        }
        var entries: [NoteEntry] = []
        var index: [Int64: Int] = [:]
        var tagCounts: [String: (name: String, count: Int)] = [:]
        var deckNoteCounts: [Int64: Int] = [:]
        try collection.forEachNote { note in
            let tagList = note.tagList
            for tag in tagList {
                let key = tag.lowercased()
                tagCounts[key, default: (tag, 0)].count += 1
            }
            let cards = (cardsByNote[note.id] ?? []).map {
                CardEntry(id: $0.id, ord: $0.ord, deckID: $0.deck, reviews: reviewsByCard[$0.id] ?? 0)
            }
            let decksOfNote = Set(cards.map(\.deckID))
            for deck in decksOfNote { deckNoteCounts[deck, default: 0] += 1 }
            let findings = findingsByNote[note.id] ?? []
            let visible = note.fields.map { Raw.stripHTML($0) }.joined(separator: " ") + " " + note.tags
            index[note.id] = entries.count
            entries.append(NoteEntry(
                id: note.id, noteTypeID: note.noteTypeID, fields: note.fields, tags: tagList,
                lowercasedTags: Set(tagList.map { $0.lowercased() }), searchText: visible.lowercased(), cards: cards,
                reviews: cards.reduce(0) { $0 + $1.reviews }, findings: findings,
                special: findings.contains { $0.category == .special }, deckIDs: decksOfNote))
        }
        notes = entries
        noteIndex = index
        tags = tagCounts.values.map { TagEntry(name: $0.name, notes: $0.count) }
            .sorted { $0.name.lowercased() < $1.name.lowercased() }
        decks = collection.decks.filter { !$0.isFiltered }.map { DeckEntry(id: $0.id, name: $0.name, notes: deckNoteCounts[$0.id] ?? 0) }
            .sorted { $0.name.lowercased() < $1.name.lowercased() }
        surveyCheck = SurveyAnswerCheck(decks: collection.decks.map(\.name), tags: tags.map(\.name),
                                        noteTypes: collection.noteTypes.map(\.name))
    }

    // MARK: Decisions

    public var currentDecisions: Decisions { lock.withLock { decisions } }

    public func setExcluded(_ ids: [Int64], excluded: Bool) -> Int {
        lock.withLock {
            var changed = 0
            for id in ids where noteIndex[id] != nil {
                if excluded ? decisions.excludedNotes.insert(id).inserted : decisions.excludedNotes.remove(id) != nil {
                    changed += 1
                }
            }
            return changed
        }
    }

    /// Excludes or includes every note matching `query` (all pages); returns how many notes changed.
    public func bulk(_ query: Query, exclude: Bool) -> Int {
        let ids = matching(query, decisions: currentDecisions).map { notes[$0].id }
        return setExcluded(ids, excluded: exclude)
    }

    func deckTree(_ id: Int64) -> Set<Int64> {
        var result: Set<Int64> = [id]
        var queue = [id]
        while let next = queue.popLast() {
            for child in deckChildren[next] ?? [] where result.insert(child).inserted { queue.append(child) }
        }
        return result
    }

    public func setTag(_ name: String, removed: Bool) -> Bool {
        guard let tag = tags.first(where: { $0.name.lowercased() == name.lowercased() }) else { return false }
        lock.withLock {
            decisions.removedTags.removeAll { $0.lowercased() == tag.name.lowercased() }
            if removed { decisions.removedTags.append(tag.name) }
        }
        return true
    }

    public func setSurvey(languages codes: [String], domain: String, domainConfirmed: Bool = false, consentPublic: Bool?,
                          specialConfirmed: Bool) throws {
        let canonical = try Decisions.canonicalLanguages(codes, list: languages)
        lock.withLock {
            decisions.languages = canonical
            decisions.domain = domain
            decisions.domainConfirmed = domainConfirmed
            decisions.consentPublic = consentPublic
            decisions.specialCategoryConfirmed = specialConfirmed
        }
    }

    /// Replaces the decisions with a loaded file's (checked against this collection first).
    public func load(_ loaded: Decisions) throws {
        let unknown = loaded.excludedNotes.filter { noteIndex[$0] == nil }.count
        guard unknown == 0 else {
            throw Decisions.Invalid("\(unknown) of its excluded notes are not in this collection (was it saved for another file?)")
        }
        let known = Set(tags.map { $0.name.lowercased() })
        let unknownTags = loaded.removedTags.filter { !known.contains($0.lowercased()) }.count
        guard unknownTags == 0 else { throw Decisions.Invalid("\(unknownTags) of its removed tags are not in this collection") }
        lock.withLock { decisions = loaded }
    }

    /// Words of the survey's free text the participant should look at (shown next to the field as they
    /// type; Create needs them changed or confirmed).
    public func surveyConcerns(_ text: String) -> [SurveyConcern] {
        surveyCheck.concerns(in: text, scanner: scanner)
    }

    // MARK: Counts

    public struct Summary: Sendable, Equatable {
        public var notesKept = 0, notesExcluded = 0, cardsKept = 0, cardsExcluded = 0
        public var reviewsKept = 0, reviewsExcluded = 0, tagsRemoved = 0
        public var flaggedKept = 0, flaggedTotal = 0, specialKept = 0, specialThreshold = 0
        public var needsSpecialNotice: Bool { specialKept > specialThreshold }

        public var jsonObject: [String: Any] {
            ["notes_kept": notesKept, "notes_excluded": notesExcluded, "cards_kept": cardsKept,
             "cards_excluded": cardsExcluded, "reviews_kept": reviewsKept, "reviews_excluded": reviewsExcluded,
             "tags_removed": tagsRemoved, "flagged_kept": flaggedKept, "flagged_total": flaggedTotal,
             "special_kept": specialKept, "special_threshold": specialThreshold,
             "needs_special_notice": needsSpecialNotice]
        }
    }

    public func summary() -> Summary {
        let current = currentDecisions
        var summary = Summary()
        summary.specialThreshold = specialThreshold
        summary.tagsRemoved = current.removedTags.count
        for note in notes {
            let flagged = !note.findings.isEmpty
            if flagged { summary.flaggedTotal += 1 }
            if current.excludedNotes.contains(note.id) {
                summary.notesExcluded += 1
                summary.cardsExcluded += note.cards.count
                summary.reviewsExcluded += note.reviews
            } else {
                summary.notesKept += 1
                summary.cardsKept += note.cards.count
                summary.reviewsKept += note.reviews
                if flagged { summary.flaggedKept += 1 }
                if note.special { summary.specialKept += 1 }
            }
        }
        return summary
    }

    // MARK: Pages of notes

    public struct Query: Sendable {
        public var filter: Filter = .all
        public var search = ""
        public var deck: Int64?
        public var tag: String?
        public var page = 0
        public var pageSize = 25
        public init() {}
    }

    public struct RenderedNote: Sendable {
        public var id: Int64
        public var excluded: Bool
        public var noteTypeID: Int64
        public var noteTypeName: String
        public var deck: String
        public var tags: [String]
        public var reviews: Int
        public var findings: [Finding]
        public var cards: [(name: String, question: String, answer: String)]
    }

    /// One page of notes for `query`, with the total number matching.
    public func page(_ query: Query) -> (total: Int, notes: [RenderedNote]) {
        let current = currentDecisions
        let matching = matching(query, decisions: current)
        let size = max(1, min(query.pageSize, 200))
        // Any page number is answered: one past the last is as empty as any later one (no overflow).
        let start = min(max(0, min(query.page, matching.count)) * size, matching.count)
        let slice = matching[start..<min(start + size, matching.count)]
        return (matching.count, slice.map { render(notes[$0], excluded: current.excludedNotes.contains(notes[$0].id)) })
    }

    /// Positions of the notes matching every part of `query`, in collection order.
    func matching(_ query: Query, decisions current: Decisions) -> [Int] {
        let tree = query.deck.map(deckTree)
        let tagKey = query.tag?.lowercased()
        let needle = query.search.lowercased().trimmingCharacters(in: .whitespaces)
        var matching: [Int] = []
        for (position, note) in notes.enumerated() {
            switch query.filter {
            case .all: break
            case .flagged: if note.findings.isEmpty { continue }
            case .special: if !note.special { continue }
            case .excluded: if !current.excludedNotes.contains(note.id) { continue }
            case .included: if current.excludedNotes.contains(note.id) { continue }
            }
            if let tree, note.deckIDs.isDisjoint(with: tree) { continue }
            if let tagKey, !note.lowercasedTags.contains(tagKey) { continue }
            if !needle.isEmpty && !note.searchText.containsBytes(needle) { continue }
            matching.append(position)
        }
        return matching
    }

    func render(_ note: NoteEntry, excluded: Bool) -> RenderedNote {
        let type = noteTypes[note.noteTypeID]
        var cards: [(String, String, String)] = []
        if let type {
            for card in note.cards {
                let template = type.kind == .cloze ? type.templates.first : type.templates.first { $0.ord == card.ord }
                guard let template else { continue }
                let context = CardRenderer.Context(
                    noteTypeName: type.name, templateName: template.name, deckName: deckNames[card.deckID] ?? "",
                    tags: note.tags, ord: card.ord)
                let rendered = renderer.render(noteType: type, template: template, fields: note.fields,
                                               findings: note.findings, context: context)
                let name = type.kind == .cloze ? "Cloze \(card.ord + 1)" : template.name
                cards.append((name, rendered.question, rendered.answer))
            }
        }
        let deck = note.cards.first.flatMap { deckNames[$0.deckID] } ?? ""
        return RenderedNote(id: note.id, excluded: excluded, noteTypeID: note.noteTypeID,
                            noteTypeName: type?.name ?? "", deck: deck, tags: note.tags, reviews: note.reviews,
                            findings: note.findings, cards: cards)
    }

    /// The note type's CSS, with everything that could load a resource removed.
    public func css(forNoteType id: Int64) -> String { sanitizer.sanitizeCSS(noteTypes[id]?.css ?? "") }
}
