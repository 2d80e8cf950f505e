import AnkiReader
import AnkiScanner
import Foundation
import Testing

/// The planted personal data of every fixture set (ours and ../shared) is found, with no false
/// alarm on the near-miss texts nor on the unplanted notes.
@Suite(.serialized) struct FixtureTests {
    struct Planted: Decodable {
        var note_index: Int
        var kind: String
        var text: String
    }

    struct Truth: Decodable {
        var pii: [Planted]
        var special: [Planted]
        var near_miss: [Planted]
    }

    static let digitKinds: Set<String> = ["iban", "card_number", "national_id", "date_of_birth", "digits", "date"]

    static var sets: [(truth: URL, package: URL)] {
        var sets: [(URL, URL)] = []
        for name in ["berlin", "newyork", "auckland"] {
            sets.append((Paths.generated.appendingPathComponent("\(name)-truth.json"),
                         Paths.generated.appendingPathComponent("\(name)-latest.apkg")))
        }
        if Paths.sharedAvailable {
            sets.append((Paths.sharedGenerated.appendingPathComponent("dev-berlin-truth.json"),
                         Paths.sharedGenerated.appendingPathComponent("dev-berlin-latest.apkg")))
        }
        return sets
    }

    @Test func sharedFixturesArePresentOrSkipped() {
        if !Paths.sharedAvailable {
            print("note: ../shared/fixtures is absent; the dev-berlin set is skipped")
        }
    }

    @Test(arguments: sets.map(\.truth.lastPathComponent))
    func everyPlantedItemIsFoundAndNearMissesStayClean(truthName: String) throws {
        let set = Self.sets.first { $0.truth.lastPathComponent == truthName }!
        let truth = try JSONDecoder().decode(Truth.self, from: Data(contentsOf: set.truth))
        let collection = try AnkiCollection.open(set.package)
        defer { collection.close() }
        var notes: [Note] = []
        try collection.forEachNote { notes.append($0) }
        let report = try sharedScanner.scan(collection: collection)

        var plantedNotes = Set<Int64>()
        for item in truth.pii {
            let note = notes[item.note_index]
            plantedNotes.insert(note.id)
            let findings = report.findings(forNote: note.id).filter { $0.field >= 0 && item.text.contains($0.text) }
            let wanted: Set<String> = item.kind == "digits" ? Self.digitKinds : [item.kind]
            #expect(findings.contains { wanted.contains($0.kind) && $0.category == .pii },
                    "\(truthName): missed \(item.kind) in \(item.text.debugDescription)")
        }
        for item in truth.special {
            let note = notes[item.note_index]
            plantedNotes.insert(note.id)
            let findings = report.findings(forNote: note.id).filter { $0.field >= 0 && item.text.contains($0.text) }
            #expect(findings.contains { $0.category == .special && $0.kind == item.kind },
                    "\(truthName): missed \(item.kind) in \(item.text.debugDescription)")
        }
        for item in truth.near_miss {
            let note = notes[item.note_index]
            plantedNotes.insert(note.id)
            let alarms = report.findings(forNote: note.id).filter { $0.field >= 0 }
            #expect(alarms.isEmpty, "\(truthName): false alarm on \(item.text.debugDescription): \(alarms.map(\.text))")
        }
        // Notes with nothing planted: nothing in their fields (their tags may carry a name: anna_private).
        for entry in report.notes where !plantedNotes.contains(entry.noteID) {
            let alarms = entry.findings.filter { $0.field >= 0 }
            #expect(alarms.isEmpty, "\(truthName): false alarm in note \(entry.noteID): \(alarms.map { "\($0.kind):\($0.text)" })")
        }
        // Offsets point into the original field text.
        for entry in report.notes {
            let note = notes.first { $0.id == entry.noteID }!
            for f in entry.findings where f.field >= 0 {
                let bytes = Array(note.fields[f.field].utf8)
                #expect(f.end <= bytes.count && f.start < f.end)
            }
        }
        #expect(report.summary.notesWithSpecialFindings == truth.special.count)
        #expect(report.summary.needsSpecialCategoryNotice)
    }

    @Test func everyGenerationGivesTheSameFindings() throws {
        var reports: [String: [String]] = [:]
        for file in Paths.files(in: Paths.generated, extensions: ["apkg", "colpkg"]) where file.lastPathComponent.hasPrefix("berlin") {
            let collection = try AnkiCollection.open(file)
            defer { collection.close() }
            let report = try sharedScanner.scan(collection: collection)
            reports[file.lastPathComponent] = report.notes.flatMap { n in n.findings.map { "\(n.noteID) \($0.field) \($0.kind) \($0.start)" } }
        }
        #expect(Set(reports.values.map { $0 }).count == 1, "findings differ between generations: \(reports.mapValues(\.count))")
    }

    @Test func mediaFileNamesAreScanned() throws {
        let collection = try AnkiCollection.open(Paths.generated.appendingPathComponent("berlin-latest.apkg"))
        defer { collection.close() }
        let report = try sharedScanner.scan(collection: collection)
        let media = report.notes.flatMap(\.findings).filter { $0.field == Finding.mediaNameField }
        #expect(media.contains { $0.kind == "name" && $0.text == "lena" })
    }
}
