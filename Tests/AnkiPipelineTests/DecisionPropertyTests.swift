import AnkiAudit
import AnkiPipeline
import AnkiReader
import AnkiSubmission
import Foundation
import GRDB
import Testing

/// Whatever the participant decides (any note excluded, any tag removed), prepare ends in a
/// submission that passes `audit --source` with exactly the expected notes, cards and reviews. The
/// expected counts come from the fixture's truth (Python, Anki's own database) or from plain SQL on
/// the source, never from the pipeline.
@Suite("decisions: any exclusion and any tag removal end in a clean submission")
struct DecisionPropertyTests {
    /// One note of a fixture as its truth file lists it.
    struct TruthNote: Sendable {
        let id: Int64
        let cards: Int
        let reviews: Int
        let tags: [String]
    }

    /// A deck and, per note, what leaves with it.
    struct Deck: Sendable {
        let file: URL
        let zone: String
        let notes: [TruthNote]
        var totals: (notes: Int, cards: Int, reviews: Int) {
            (notes.count, notes.map(\.cards).reduce(0, +), notes.map(\.reviews).reduce(0, +))
        }
    }

    static let quickDir = Fixtures.root.appendingPathComponent("Tests/Fixtures/anki-made")

    /// The Anki-made deck whose notes were added in one batch (consecutive ids, each note id also a
    /// card id), from its truth file.
    static func quick(_ name: String = "quick-latest.apkg") throws -> Deck {
        let truth = try Fixtures.truth(quickDir.appendingPathComponent("quick-truth.json"))
        let notes = (truth["notes"] as! [[String: Any]]).map { note in
            TruthNote(id: (note["id"] as! NSNumber).int64Value, cards: (note["cards"] as! [Any]).count,
                      reviews: (note["reviews"] as! NSNumber).intValue, tags: note["tags"] as! [String])
        }
        return Deck(file: quickDir.appendingPathComponent(name), zone: "Europe/Paris", notes: notes)
    }

    /// Any other deck: its notes counted with plain SQL on the unpacked collection (reviews of cards
    /// whose note is missing, and cards of notes whose note type is missing, are not counted: prepare
    /// leaves them out and the truth of a note cannot include them).
    static func counted(_ file: URL, zone: String) throws -> Deck {
        let collection = try AnkiCollection.open(file)
        defer { collection.close() }
        let queue = try openReadOnly(collection.databaseURL)
        let rows = try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT n.id, n.tags,
                       (SELECT count(*) FROM cards c WHERE c.nid = n.id),
                       (SELECT count(*) FROM revlog r JOIN cards c ON c.id = r.cid WHERE c.nid = n.id)
                FROM notes n ORDER BY n.id
                """)
        }
        try queue.close()
        let notes = rows.map { row in
            TruthNote(id: row[0], cards: row[2], reviews: row[3],
                      tags: (row[1] as String? ?? "").split(separator: " ").map(String.init))
        }
        return Deck(file: file, zone: zone, notes: notes)
    }

    /// Prepares `deck` excluding `excluded` and removing `tags`, audits the result against the source
    /// and checks the counts. Returns a description of what went wrong (nil: all as expected).
    static func check(_ deck: Deck, excluding excluded: Set<Int64>, removing tags: [String] = [],
                      seed: UInt64? = nil) -> String? {
        let label = "\(deck.file.lastPathComponent), \(excluded.count) note(s) excluded, \(tags.count) tag(s) removed"
            + (seed.map { ", seed \($0)" } ?? "")
        do {
            let scratch = try Scratch()
            var decisions = Decisions()
            decisions.consentPublic = true
            decisions.languages = ["fr"]
            decisions.specialCategoryConfirmed = true
            decisions.excludedNotes = excluded
            decisions.removedTags = tags
            let prepared = try prepare(deck.file, zone: deck.zone, decisions: decisions, out: scratch.sub("out"))
            let collection = try AnkiCollection.open(deck.file)
            defer { collection.close() }
            let findings = try SubmissionAudit().audit(
                submission: prepared.submission,
                source: .init(collection: collection, timeZone: TimeZone(identifier: deck.zone)!))
            if !findings.isEmpty { return "\(label): audit findings \(findings)" }
            let kept = deck.notes.filter { !excluded.contains($0.id) }
            let want = [kept.count, kept.map(\.cards).reduce(0, +), kept.map(\.reviews).reduce(0, +)]
            let queue = try openReadOnly(prepared.submission)
            let got = try queue.read { db in
                try ["notes", "cards", "revlog"].map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)") ?? -1 }
            }
            let removed = Set(tags.map { $0.lowercased() })
            let tagsLeft = try queue.read { db in
                try String.fetchAll(db, sql: "SELECT tags FROM notes").flatMap { $0.split(separator: " ") }
                    .filter { removed.contains($0.lowercased()) }.count
            }
            try queue.close()
            if got != want { return "\(label): notes, cards, reviews \(got), expected \(want)" }
            if tagsLeft > 0 { return "\(label): \(tagsLeft) removed tag(s) still on notes" }
            return nil
        } catch {
            return "\(label): \(error)"
        }
    }

    @Test("excluding each note alone, on an Anki-made deck whose note ids are consecutive and card ids")
    func eachNoteAlone() throws {
        let deck = try Self.quick()
        #expect(deck.notes.count >= 60)
        var failures: [String] = []
        for note in deck.notes {
            if let failure = Self.check(deck, excluding: [note.id]) { failures.append(failure) }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(deck.notes.count) failed; first: \(failures.first ?? "")")
    }

    @Test("random exclusions (up to all notes but one) and random tags, every committed deck",
          arguments: ["anki-made/quick-latest.apkg", "anki-made/quick-legacy2.apkg", "anki-made/quick-latest.colpkg",
                      "generated/berlin-latest.apkg", "generated/berlin-legacy1.apkg",
                      "generated/newyork-latest.apkg", "generated/auckland-legacy2.apkg"])
    func randomDecisions(_ name: String) throws {
        let file = Fixtures.root.appendingPathComponent("Tests/Fixtures/\(name)")
        let deck = name.hasPrefix("anki-made/quick-latest.apkg") ? try Self.quick()
            : try Self.counted(file, zone: "Europe/Berlin")
        var rng = PropertyRandom()
        var failures: [String] = []
        let tags = Array(Set(deck.notes.flatMap { $0.tags.map { $0.lowercased() } })).sorted()
        for round in 0..<6 {
            // Sizes from one note to all notes but one, the first and the last note included often.
            let count = round == 5 ? deck.notes.count - 1 : Int(rng.next(below: UInt64(deck.notes.count - 1))) + 1
            var excluded = Set(deck.notes.shuffled(using: &rng).prefix(count).map(\.id))
            if round % 2 == 0 { excluded.insert(deck.notes.first!.id) }
            if round == 3 { excluded.insert(deck.notes.last!.id) }
            if excluded.count == deck.notes.count { excluded.remove(deck.notes[deck.notes.count / 2].id) }
            let removing = tags.filter { _ in rng.next(below: 3) == 0 }
            if let failure = Self.check(deck, excluding: excluded, removing: removing, seed: rng.seed) {
                failures.append(failure)
            }
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test("the first note excluded, on the shared fixtures (learners with long histories)",
          arguments: ["dev-paris-latest.apkg", "dev-paris-legacy1.apkg", "dev-berlin-latest.colpkg"])
    func sharedFirstNote(_ name: String) throws {
        guard Fixtures.sharedAvailable else {
            print("skipped: ../shared/fixtures/generated is not next to the project")
            return
        }
        let truth = try Fixtures.truth(Fixtures.shared.appendingPathComponent(
            name.hasPrefix("dev-paris") ? "dev-paris-truth.json" : "dev-berlin-truth.json"))
        let deck = try Self.counted(Fixtures.shared.appendingPathComponent(name), zone: truth["tz"] as! String)
        for excluded in [[deck.notes[0].id], [deck.notes[0].id, deck.notes[1].id], [deck.notes.last!.id]] {
            let failure = Self.check(deck, excluding: Set(excluded))
            #expect(failure == nil, "\(failure ?? "")")
        }
    }
}

/// A small seeded generator (SplitMix64) for property tests: the seed is random unless
/// `ANKI_SUBMIT_PROPERTY_SEED` sets it, and every failure message names it, so a failing case can be
/// run again.
struct PropertyRandom: RandomNumberGenerator {
    let seed: UInt64
    private var state: UInt64

    init() {
        let fixed = ProcessInfo.processInfo.environment["ANKI_SUBMIT_PROPERTY_SEED"].flatMap { UInt64($0) }
        seed = fixed ?? UInt64.random(in: 1...UInt64.max)
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: UInt64) -> UInt64 { next() % bound }
}
