import AnkiAudit
@testable import AnkiPipeline
import AnkiReader
import AnkiSubmission
import Foundation
import GRDB
import AnkiTestSupport
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
            var decisions = answeredDecisions()
            decisions.excludedNotes = excluded
            decisions.removedTags = tags
            let scratch = try Scratch()
            defer { withExtendedLifetime(scratch) {} }
            let (submission, findings) = try prepareAndAudit(deck.file, zone: deck.zone, decisions: decisions, in: scratch)
            if !findings.isEmpty { return "\(label): audit findings \(findings)" }
            let kept = deck.notes.filter { !excluded.contains($0.id) }
            let want = [kept.count, kept.map(\.cards).reduce(0, +), kept.map(\.reviews).reduce(0, +)]
            let queue = try openReadOnly(submission)
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
        var rng = SeededGenerator()
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

/// The survey's free text is the participant's: a word that looks like personal data or names one of
/// their decks or tags is pointed out by name, and once they keep the answer, it never fails the audit.
@Suite("survey answers: every word is the participant's to keep")
struct SurveyAnswerTests {
    static let berlin = Fixtures.generated.appendingPathComponent("berlin-latest.apkg")

    /// Prepares with `domain`; nil when a clean submission results, else the refusal or the findings.
    static func outcome(_ file: URL, domain: String, keep: Bool) -> String? {
        do {
            var decisions = answeredDecisions()
            decisions.domain = domain
            decisions.domainConfirmed = keep
            let scratch = try Scratch()
            defer { withExtendedLifetime(scratch) {} }
            let (submission, findings) = try prepareAndAudit(file, zone: "Europe/Berlin", decisions: decisions, in: scratch)
            guard findings.isEmpty else { return "audit: \(findings)" }
            let stored = try openReadOnly(submission).read { db in
                try String.fetchOne(db, sql: "SELECT value FROM manifest WHERE key = 'domain'")
            }
            return stored == domain ? nil : "the stored answer differs"
        } catch {
            return "\(error)"
        }
    }

    @Test("the page's own example and language words: submitted as typed",
          arguments: ["learning German", "studying French", "A2 German exam", "medicine", "travel and cooking"])
    func ordinaryAnswers(_ domain: String) {
        // "German" is also a deck of this collection: only "A2 German exam" and the others without a deck
        // word pass unconfirmed; each passes confirmed.
        #expect(Self.outcome(Self.berlin, domain: domain, keep: true) == nil)
    }

    @Test("a deck word is named in the refusal, and kept when confirmed")
    func deckWord() throws {
        let refusal = Self.outcome(Self.berlin, domain: "Japanese for travel", keep: false) ?? ""
        #expect(refusal.contains("\"Japanese\"") && refusal.contains("one of your decks"), "\(refusal)")
        #expect(Self.outcome(Self.berlin, domain: "Japanese for travel", keep: true) == nil)
    }

    @Test("personal data is named in the refusal, and kept when confirmed")
    func personalData() throws {
        let refusal = Self.outcome(Self.berlin, domain: "medicine with Anna Schmidt", keep: false) ?? ""
        #expect(refusal.contains("\"Anna Schmidt\"") && refusal.contains("name of a person"), "\(refusal)")
        #expect(Self.outcome(Self.berlin, domain: "medicine with Anna Schmidt", keep: true) == nil)
    }

    @Test("the concerns name each word with its reason")
    func concerns() throws {
        let check = SurveyAnswerCheck(decks: ["Japanese::JLPT N5", "Cram for Friday test"], tags: ["anna_private", "grammar::cases"],
                                      noteTypes: ["Basic (and reversed card)"])
        let found = check.concerns(in: "JLPT N5 grammar, anna_private notes; Japanese (not Japan)", scanner: try sharedScanner())
        #expect(found.map(\.word) == ["JLPT N5", "grammar", "anna_private", "Japanese"])
        #expect(found.map(\.reason) == [.deckName, .tag, .tag, .deckName])
        #expect(check.concerns(in: "Japan and Japanesefood", scanner: try sharedScanner()).isEmpty)
    }

    /// Random answers built from the collection's own card text, deck names and tags: every one ends in a
    /// clean submission once kept, and unkept in a refusal that names a word of the answer.
    @Test("random answers from card text, deck names and tags")
    func randomAnswers() throws {
        let collection = try AnkiCollection.open(Self.berlin)
        var pool: [String] = collection.decks.flatMap(\.nameComponents)
        try collection.forEachNote { note in
            pool += note.tagList
            pool += note.fields.flatMap { $0.split(separator: " ").prefix(4).map(String.init) }
        }
        collection.close()
        pool = pool.filter { !$0.isEmpty && !$0.contains("<") && !$0.contains("[") }
        var rng = SeededGenerator()
        var failures: [String] = []
        for _ in 0..<8 {
            let words = (0..<Int(rng.next(below: 5) + 1)).map { _ in pool[Int(rng.next(below: UInt64(pool.count)))] }
            let domain = String(words.joined(separator: " ").prefix(200))
            if let problem = Self.outcome(Self.berlin, domain: domain, keep: true) {
                failures.append("kept \(domain.debugDescription) (seed \(rng.seed)): \(problem)")
            }
            // A refusal quotes the participant's own words: some quoted part is a piece of the answer.
            if let refusal = Self.outcome(Self.berlin, domain: domain, keep: false),
               !(refusal.contains("Please look at your interests answer")
                 && refusal.components(separatedBy: "\"").enumerated().contains { $0.offset % 2 == 1 && domain.contains($0.element) }) {
                failures.append("unkept \(domain.debugDescription) (seed \(rng.seed)): \(refusal)")
            }
        }
        #expect(failures.isEmpty, "\(failures)")
    }
}

/// Decisions with the survey answered: consent given, the special-category notice confirmed.
func answeredDecisions() -> Decisions {
    var decisions = Decisions()
    decisions.consentPublic = true
    decisions.languages = ["fr"]
    decisions.specialCategoryConfirmed = true
    return decisions
}

/// prepare into `scratch`, then the audit against the source: the submission and the audit's findings.
func prepareAndAudit(_ file: URL, zone: String, decisions: Decisions, in scratch: Scratch) throws -> (URL, [AuditFinding]) {
    let prepared = try prepare(file, zone: zone, decisions: decisions, out: scratch.sub("out"))
    let collection = try AnkiCollection.open(file)
    defer { collection.close() }
    let findings = try SubmissionAudit().audit(
        submission: prepared.submission, source: .init(collection: collection, timeZone: TimeZone(identifier: zone)!))
    return (prepared.submission, findings)
}


/// A failed self-audit (exit 42) is the tool's fault: the participant is told so, what to try, and
/// where a report without any card content was saved.
@Suite("a failed self-audit tells the participant what to do")
struct FaultReportTests {
    /// After the decisions, every note's tags become the first note type's CSS: a leak the audit finds.
    struct LeakStyling: PipelineStage {
        static let name = "test-leak-styling"
        static let summary = "(test) makes the audit fail"
        func run(_ context: PipelineContext) throws {
            let css = context.source.noteTypes.map(\.css).max { $0.count < $1.count } ?? ""
            try context.requireOutput().writeWithoutTransaction { db in
                db.add(function: DatabaseFunction("anki_submit_tags", argumentCount: 1, pure: true) { _ in css })
            }
        }
    }

    @Test("the message and the report: no card text, ids or token")
    func report() throws {
        let file = Fixtures.generated.appendingPathComponent("berlin-latest.apkg")
        let scratch = try Scratch()
        let out = scratch.sub("out")
        let collection = try AnkiCollection.open(file)
        defer { collection.close() }
        var stages = Pipeline.standard.stages
        let index = try #require(stages.firstIndex { type(of: $0).name == "apply-decisions" })
        stages.insert(LeakStyling(), at: index + 1)
        var decisions = Decisions()
        decisions.consentPublic = true
        decisions.specialCategoryConfirmed = true
        let firstNote = try collection.firstNoteID()
        decisions.excludedNotes = [try #require(firstNote)]
        let context = PipelineContext(source: collection, policy: .standard,
                                      options: PrepareOptions(outputDirectory: out, timeZone: TimeZone(identifier: "Europe/Berlin")!,
                                                              toolVersion: "test"),
                                      decisions: decisions, scanner: try sharedScanner())
        let error = try #require(throws: PrepareError.self) { try Pipeline(stages: stages).run(context) }
        #expect(error.code == .auditFailed)
        #expect(error.description.contains("not caused by anything you did") && error.description.contains("without your last choice"))
        #expect(error.description.contains(FaultReport.fileName))
        #expect(scratch.list(out) == [FaultReport.fileName], "only the report is left")
        let text = try String(contentsOf: out.appendingPathComponent(FaultReport.fileName), encoding: .utf8)
        #expect(text.contains("no-source-strings"))
        let css = collection.noteTypes.map(\.css).max { $0.count < $1.count } ?? ""
        #expect(!text.contains(String(css.prefix(24))), "no styling")
        #expect(!text.contains(String(decisions.excludedNotes.first!)), "no note id")
        for deck in collection.decks where deck.name.count > 3 { #expect(!text.contains(deck.name), "no deck name") }
    }
}

extension AnkiCollection {
    func firstNoteID() throws -> Int64? {
        try database.read { db in try Int64.fetchOne(db, sql: "SELECT min(id) FROM notes") }
    }
}
