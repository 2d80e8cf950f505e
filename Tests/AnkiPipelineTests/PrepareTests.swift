import AnkiAudit
import AnkiPipeline
import AnkiReader
import AnkiScanner
import AnkiSubmission
import Foundation
import GRDB
import Testing

@Suite("prepare: policy end to end")
struct PrepareTests {
    @Test("every generation: prepare, then audit with the source is clean",
          arguments: Fixtures.packages().map { [$0.0, $0.1] })
    func auditClean(_ pair: [URL]) throws {
        let truth = try Fixtures.truth(pair[1])
        let scratch = try Scratch()
        let zone = truth["tz"] as! String
        let prepared = try prepare(pair[0], zone: zone, out: scratch.sub("out"))
        let collection = try AnkiCollection.open(pair[0])
        defer { collection.close() }
        let findings = try SubmissionAudit().audit(
            submission: prepared.submission,
            source: .init(collection: collection, timeZone: TimeZone(identifier: zone)!))
        #expect(findings.isEmpty, "\(findings)")
        #expect(scratch.list(scratch.sub("out")) == ["anki-submission-withdrawal-token.txt", "anki-submission.sqlite"])
    }

    /// Real exports from other tools and older Ankis (cards whose data is '', JSON media maps, nested
    /// cloze decks): each one that holds notes must go through prepare and its own audit.
    @Test("real third-party exports: prepare, then audit with the source is clean",
          arguments: Fixtures.thirdPartyWithNotes())
    func thirdParty(_ file: URL) throws {
        guard FileManager.default.fileExists(atPath: file.path) else {
            print("skipped: ../shared/fixtures/third-party is not next to the project")
            return
        }
        let scratch = try Scratch()
        let prepared = try prepare(file, zone: "Europe/Berlin", out: scratch.sub("out"))
        let collection = try AnkiCollection.open(file)
        defer { collection.close() }
        let findings = try SubmissionAudit().audit(
            submission: prepared.submission,
            source: .init(collection: collection, timeZone: TimeZone(identifier: "Europe/Berlin")!))
        #expect(findings.isEmpty, "\(findings)")
    }

    @Test("nothing identifying survives: deck names, guids, CSS, templates, media names")
    func noOriginalStrings() throws {
        let file = Fixtures.generated.appendingPathComponent("berlin-latest.colpkg")
        let truth = try Fixtures.truth(Fixtures.generated.appendingPathComponent("berlin-truth.json"))
        let scratch = try Scratch()
        let prepared = try prepare(file, zone: "Europe/Berlin", out: scratch.sub("out"))
        let bytes = try Data(contentsOf: prepared.submission)
        let haystack = String(decoding: bytes, as: UTF8.self)
        var needles = (truth["decks"] as! [String]).filter { $0.contains("::") || $0.count > 12 }
        needles += truth["guids"] as! [String]
        needles += truth["media_names"] as! [String]
        needles += [truth["css"] as! String, truth["qfmt"] as! String]
        for needle in needles {
            #expect(!haystack.contains(needle.replacingOccurrences(of: "::", with: "\u{1f}")) && !haystack.contains(needle),
                    "an original string survives in the file")
        }
        // Not even in free pages: secure_delete and a fresh file.
        #expect(!haystack.contains("collection.anki2"))
    }

    @Test("a card whose deck no longer exists goes to the default deck, and the report counts it")
    func cardWithoutDeck() throws {
        let scratch = try Scratch()
        let bare = scratch.url.appendingPathComponent("collection.anki2")
        let original = try AnkiCollection.open(Fixtures.generated.appendingPathComponent("berlin-latest.colpkg"))
        try FileManager.default.copyItem(at: original.databaseURL, to: bare)
        let defaultDeck = original.decks.map(\.id).sorted().firstIndex(of: 1).map { Int64($0 + 1) }
        original.close()
        let queue = try DatabaseQueue(path: bare.path)
        try queue.write { db in
            try db.execute(sql: "UPDATE cards SET did = 987654321 WHERE id = (SELECT min(id) FROM cards)")
        }
        try queue.close()
        let prepared = try prepare(bare, zone: "Europe/Berlin", out: scratch.sub("out"))
        #expect(prepared.report.value("remap-ids", "cards without a deck (moved to the default deck)") == 1)
        let did = try openReadOnly(prepared.submission).read { try Int64.fetchOne($0, sql: "SELECT did FROM cards WHERE id = 1") }
        #expect(did == (try #require(defaultDeck)))
        #expect(try SubmissionAudit().audit(submission: prepared.submission).isEmpty)
    }

    /// The review log is written with `INSERT OR IGNORE` (a review of a card not kept has a NULL card
    /// and is skipped): any other value that would be skipped or copied as text must still refuse the
    /// collection, with the reader's error, and leave nothing behind. The copy checks every column,
    /// in every review, including the first and the last, and reviews of cards it leaves out.
    @Test("text, a blob or NULL in the review log's numbers: refused as invalid collection data, nothing left",
          arguments: [("ease = 'drei'", "LIMIT 1 OFFSET 3"), ("cid = 'Karte sieben'", "LIMIT 1 OFFSET 3"),
                      ("time = x'00'", "LIMIT 1 OFFSET 3"), ("ivl = NULL", "LIMIT 1 OFFSET 3"),
                      ("lastIvl = NULL", "LIMIT 1"), ("factor = 'zwei'", "DESC LIMIT 1"), ("type = x'00'", "DESC LIMIT 1"),
                      ("ease = 'vier', cid = 12345", "LIMIT 1 OFFSET 5")])
    func reviewLogValues(_ change: String, _ which: String) throws {
        let scratch = try Scratch()
        let bare = try bareCollection(from: Fixtures.generated.appendingPathComponent("berlin-latest.colpkg"), in: scratch,
                                      changingReview: "SELECT id FROM revlog ORDER BY id \(which)", set: change)
        do {
            try prepare(bare, zone: "Europe/Berlin", out: scratch.sub("out"))
            Issue.record("\(change): prepared")
        } catch let error as ReaderError {
            #expect(error.code == .invalidCollectionData, "\(change): \(error)")
        }
        #expect(scratch.list(scratch.sub("out")).isEmpty)
    }

    @Test("time shift: at least a year, not whole days, never stored")
    func timeShift() throws {
        let file = Fixtures.generated.appendingPathComponent("berlin-legacy2.colpkg")
        let scratch = try Scratch()
        let prepared = try prepare(file, zone: "Europe/Berlin", out: scratch.sub("out"))
        let collection = try AnkiCollection.open(file)
        defer { collection.close() }
        var firstReview: Int64 = 0
        try collection.forEachReview { if firstReview == 0 { firstReview = $0.id } }
        try openReadOnly(prepared.submission).read { db in
            let crt = try Int64.fetchOne(db, sql: "SELECT crt FROM col")!
            let shift = crt - collection.config.creationTime
            #expect(shift <= -365 * 86_400 && shift >= -3653 * 86_400)
            #expect(shift % 86_400 != 0)
            let manifest = try String.fetchAll(db, sql: "SELECT key || '=' || value FROM manifest").joined(separator: "\n")
            #expect(!manifest.contains(String(shift)) && !manifest.contains(String(-shift)))
        }
        #expect(String(describing: TimeShift.draw(policy: .standard)) == "<secret time shift>")
    }

    @Test("draws are uniform-ish over 1-10 years and never whole days")
    func draws() {
        var years: [Int] = Array(repeating: 0, count: 11)
        for _ in 0..<2000 {
            let shift = TimeShift.draw(policy: .standard)
            let debug = "\(shift)"
            #expect(debug == "<secret time shift>")
            let ms = TimeShiftProbe.milliseconds(shift)
            #expect(ms < 0 && ms % 86_400_000 != 0)
            years[Int(-ms / (365 * 86_400_000))] += 1
        }
        #expect(years[0] == 0)
        for year in 1...9 { #expect(years[year] > 120, "year \(year) under-drawn") }
    }

    @Test("excluded notes leave with their cards and reviews; removed tags leave every note")
    func exclusions() throws {
        let file = Fixtures.generated.appendingPathComponent("berlin-latest.apkg")
        let truth = try Fixtures.truth(Fixtures.generated.appendingPathComponent("berlin-truth.json"))
        let planted = (truth["pii"] as! [[String: Any]]).first { $0["kind"] as? String == "email" }!
        let guid = planted["guid"] as! String
        let collection = try AnkiCollection.open(file)
        var noteID: Int64 = 0, cardsOfNote = 0, reviewsOfNote = 0
        var cardIDs = Set<Int64>()
        var withTag = 0
        try collection.forEachNote { note in
            if note.guid == guid { noteID = note.id }
            if note.tagList.contains("anna_private") { withTag += 1 }
        }
        try collection.forEachCard { if $0.noteID == noteID { cardsOfNote += 1; cardIDs.insert($0.id) } }
        try collection.forEachReview { if cardIDs.contains($0.cardID) { reviewsOfNote += 1 } }
        let before = try collection.counts()
        collection.close()
        #expect(noteID != 0 && withTag > 0)

        var decisions = Decisions()
        decisions.consentPublic = false
        decisions.specialCategoryConfirmed = true
        decisions.excludedNotes = [noteID]
        decisions.removedTags = ["ANNA_private"]
        let scratch = try Scratch()
        let prepared = try prepare(file, zone: "Europe/Berlin", decisions: decisions, out: scratch.sub("out"))
        try openReadOnly(prepared.submission).read { db in
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM notes") == before.notes - 1)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM cards") == before.cards - cardsOfNote)
            let kept = try Int.fetchOne(db, sql: "SELECT count(*) FROM revlog")!
            #expect(kept == before.revlog - reviewsOfNote)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM notes WHERE tags LIKE '%anna_private%'") == 0)
            #expect(try String.fetchOne(db, sql: "SELECT value FROM manifest WHERE key = 'consent_public'") == "no")
        }
        let text = String(decoding: try Data(contentsOf: prepared.submission), as: UTF8.self)
        let plantedText = planted["text"] as! String
        let address = plantedText.split(separator: " ").first { $0.contains("@") }.map(String.init) ?? plantedText
        #expect(!text.contains(address), "the excluded note's text must be gone")
        #expect(!text.contains("anna_private"))
    }

    @Test("bad decisions are refused before anything is written")
    func badDecisions() throws {
        let file = Fixtures.generated.appendingPathComponent("berlin-latest.apkg")
        let scratch = try Scratch()
        let out = scratch.sub("out")
        var unknownNote = Decisions()
        unknownNote.consentPublic = true
        unknownNote.excludedNotes = [42]
        var unknownTag = Decisions()
        unknownTag.consentPublic = true
        unknownTag.removedTags = ["no_such_tag_anywhere"]
        let noConsent = Decisions()
        for decisions in [unknownNote, unknownTag, noConsent] {
            do {
                try prepare(file, zone: "UTC", decisions: decisions, out: out, workspace: scratch.sub(""))
                Issue.record("expected a refusal")
            } catch let error as PrepareError {
                #expect(error.code == .invalidDecisions)
                #expect(!error.description.contains("42"), "no ids in messages")
            }
            #expect(!FileManager.default.fileExists(atPath: out.path), "the output folder must not even be created")
            #expect(scratch.list(scratch.url).isEmpty, "no temporary copy left")
        }
        let languages = LanguageList(tsv: "de\tdeu\tGerman\nen\teng\tEnglish\n\tgsw\tSwiss German\n")
        #expect(throws: Decisions.Invalid.self) { try Decisions(json: Data("{not json".utf8), languages: languages) }
        #expect(throws: Decisions.Invalid.self) { try Decisions(json: Data(#"{"languages":["xx"]}"#.utf8), languages: languages) }
        #expect(throws: Decisions.Invalid.self) { try Decisions(json: Data(#"{"excluded":[1]}"#.utf8), languages: languages) }
        #expect(throws: Decisions.Invalid.self) {
            try Decisions(json: Data(#"{"excluded_notes":[1.5]}"#.utf8), languages: languages)
        }
        let ok = try Decisions(json: Data(#"{"languages":["DEU","gsw","en"],"consent_public":true}"#.utf8),
                               languages: languages)
        #expect(ok.languages == ["de", "gsw", "en"])
        #expect(try Decisions(json: ok.json(), languages: languages) == ok)
    }

    @Test("--exclude-flagged leaves out every note with a planted item; their text is gone")
    func excludeFlagged() throws {
        let file = Fixtures.generated.appendingPathComponent("berlin-legacy2.apkg")
        let truth = try Fixtures.truth(Fixtures.generated.appendingPathComponent("berlin-truth.json"))
        var decisions = Decisions()
        decisions.consentPublic = true
        let scratch = try Scratch()
        let prepared = try prepare(file, zone: "Europe/Berlin", decisions: decisions, out: scratch.sub("out"),
                                   excludeFlagged: true)
        #expect((prepared.report.value("scan", "flagged notes excluded") ?? 0) >= (truth["pii"] as! [Any]).count / 2)
        let text = String(decoding: try Data(contentsOf: prepared.submission), as: UTF8.self)
        for item in (truth["pii"] as! [[String: Any]]) + (truth["special"] as! [[String: Any]]) {
            #expect(!text.contains(item["text"] as! String), "a planted \(item["kind"]!) survives")
        }
    }

    @Test("media file names are never flags in prepare: every name is replaced, so only fields and tags count")
    func mediaNamesAreNotFlags() throws {
        // Made by Anki: a pasted image whose name (`paste-<sha1>.jpg`) looks like a record number.
        let file = ManyMediaDeckTests.folder.appendingPathComponent("anki-paste.apkg")
        let collection = try AnkiCollection.open(file)
        let everything = try sharedScanner().scan(collection: collection)
        collection.close()
        let byText = Set(everything.notes.filter { $0.findings.contains { $0.field != Finding.mediaNameField } }.map(\.noteID))
        let onlyMedia = Set(everything.notes.map(\.noteID)).subtracting(byText)
        #expect(!onlyMedia.isEmpty, "the fixture has a note flagged by a media name only")

        var decisions = Decisions()
        decisions.consentPublic = true
        let scratch = try Scratch()
        let prepared = try prepare(file, zone: "UTC", decisions: decisions, out: scratch.sub("out"), excludeFlagged: true)
        #expect(prepared.report.value("scan", "flagged notes excluded") == byText.count)
    }

    @Test("special categories above the threshold need confirmation, else nothing is written")
    func specialCategories() throws {
        let file = Fixtures.generated.appendingPathComponent("berlin-latest.apkg")
        var decisions = Decisions()
        decisions.consentPublic = true
        let scratch = try Scratch()
        let scanner = try sharedScanner()
        let collection = try AnkiCollection.open(file)
        let special = try scanner.scan(collection: collection).notes
            .filter { $0.findings.contains { $0.category == .special } }.count
        collection.close()
        try #require(special > scanner.specialCategoryThreshold, "the fixture plants enough special-category notes")
        do {
            try prepare(file, zone: "UTC", decisions: decisions, out: scratch.sub("out"))
            Issue.record("expected a refusal")
        } catch let error as PrepareError {
            #expect(error.code == .specialCategoryUnconfirmed)
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.sub("out").path))
        decisions.specialCategoryConfirmed = true
        #expect(throws: Never.self) { try prepare(file, zone: "UTC", decisions: decisions, out: scratch.sub("out")) }
    }

    @Test("a failure in a late stage leaves no file behind")
    func failureCleansUp() throws {
        struct Boom: PipelineStage {
            static let name = "boom"
            static let summary = "fails"
            func run(_ context: PipelineContext) throws { throw PrepareError(.outputFailure, "boom") }
        }
        let file = Fixtures.generated.appendingPathComponent("berlin-latest.apkg")
        let scratch = try Scratch()
        let collection = try AnkiCollection.open(file)
        defer { collection.close() }
        var decisions = Decisions()
        decisions.consentPublic = true
        decisions.specialCategoryConfirmed = true
        let context = PipelineContext(source: collection, policy: .standard,
                                      options: PrepareOptions(outputDirectory: scratch.sub("out"), toolVersion: "test"),
                                      decisions: decisions, scanner: try sharedScanner())
        var stages = Pipeline.standard.stages
        stages.insert(Boom(), at: stages.count - 1)
        #expect(throws: PrepareError.self) { try Pipeline(stages: stages).run(context) }
        #expect(scratch.list(scratch.sub("out")).isEmpty)
    }

    @Test("the token: 135 bits, typable, check character, hash in the manifest, file 0600")
    func token() throws {
        let file = Fixtures.generated.appendingPathComponent("newyork-latest.apkg")
        let scratch = try Scratch()
        let prepared = try prepare(file, zone: "America/New_York", rollover: 0, out: scratch.sub("out"))
        let text = prepared.token.text
        #expect(text.count == 28 + 6)
        #expect(try WithdrawalToken.parse(text.lowercased().replacingOccurrences(of: "-", with: " ")) == prepared.token)
        var typo = Array(text)
        typo[3] = typo[3] == "A" ? "B" : "A"
        #expect(throws: WithdrawalToken.ParseError.checkCharacterMismatch) { try WithdrawalToken.parse(String(typo)) }
        #expect(throws: WithdrawalToken.ParseError.self) { try WithdrawalToken.parse("ABC") }
        #expect(throws: WithdrawalToken.ParseError.invalidCharacter) { try WithdrawalToken.parse(text + "!") }
        let stored = try openReadOnly(prepared.submission).read { db in
            try String.fetchOne(db, sql: "SELECT value FROM manifest WHERE key = 'token_hash'")
        }
        #expect(stored == prepared.token.hash)
        #expect(WithdrawalToken.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let attributes = try FileManager.default.attributesOfItem(atPath: prepared.tokenFile.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try String(contentsOf: prepared.tokenFile, encoding: .utf8).contains(text))
        #expect(!String(decoding: try Data(contentsOf: prepared.submission), as: UTF8.self).contains(text))
        #expect("\(prepared.token)" == "<withdrawal token>")
        // Single-character typos are always caught.
        for i in [0, 5, 10, 20, 27] {
            var chars = Array(text.replacingOccurrences(of: "-", with: ""))
            chars[i] = chars[i] == "7" ? "8" : "7"
            #expect(throws: WithdrawalToken.ParseError.self) { try WithdrawalToken.parse(String(chars)) }
        }
    }

    @Test("a second run in the same folder never overwrites the first")
    func noOverwrite() throws {
        let file = Fixtures.generated.appendingPathComponent("auckland-legacy2.apkg")
        let scratch = try Scratch()
        let first = try prepare(file, zone: "Pacific/Auckland", out: scratch.sub("out"))
        let second = try prepare(file, zone: "Pacific/Auckland", out: scratch.sub("out"))
        #expect(first.submission != second.submission && first.tokenFile != second.tokenFile)
        #expect(scratch.list(scratch.sub("out")).count == 4)
    }
}

/// Reads a shift's value in tests only (the type keeps it internal to the pipeline).
enum TimeShiftProbe {
    static func milliseconds(_ shift: TimeShift) -> Int64 {
        Int64(Mirror(reflecting: shift).children.first { $0.label == "milliseconds" }!.value as! Int64)
    }
}
