import AnkiReader
import Foundation
import Testing

/// The model carries the same facts whatever the generation, checked against the ground truth that
/// the fixture script (and the shared generator) wrote next to the exports.
@Suite("One model for every generation")
struct ModelTests {
    struct Truth: Decodable {
        let decks: [String]
        let css: String
        let qfmt: String
        let tags: [String]
        let media_names: [String]
        let fsrs_params: [Double]
        let note_count: Int
        let rollover: Int
    }

    static func sets() -> [(URL, URL)] {
        var result: [(URL, URL)] = []
        var dirs = [Paths.generated]
        if Paths.sharedAvailable { dirs.append(Paths.shared.appendingPathComponent("fixtures/generated")) }
        for dir in dirs {
            for truth in Paths.files(in: dir, extensions: ["json"]) where truth.lastPathComponent.hasSuffix("-truth.json") {
                let prefix = truth.lastPathComponent.replacingOccurrences(of: "-truth.json", with: "")
                for file in Paths.files(in: dir, extensions: ["apkg", "colpkg"])
                where file.lastPathComponent.hasPrefix(prefix + "-") {
                    result.append((file, truth))
                }
            }
        }
        return result
    }

    @Test("note types, decks, presets, media", arguments: sets().map { [$0.0, $0.1] })
    func model(_ pair: [URL]) throws {
        let (file, truthURL) = (pair[0], pair[1])
        let truth = try JSONDecoder().decode(Truth.self, from: Data(contentsOf: truthURL))
        let scratch = try ScratchDirectory()
        let collection = try AnkiCollection.open(file, workspaceParent: scratch.url)
        defer { collection.close() }

        // Note types: a cloze type, and the custom type with its CSS and template.
        #expect(collection.noteTypes.contains { $0.kind == .cloze })
        let custom = try #require(collection.noteTypes.first { $0.css == truth.css })
        #expect(custom.templates.first?.questionFormat == truth.qfmt)
        #expect(custom.fields.map(\.ord) == Array(0..<custom.fields.count))
        #expect(collection.noteTypes.map(\.id) == collection.noteTypes.map(\.id).sorted())

        // Decks: every named deck present, with parents linked along the hierarchy.
        let names = Set(collection.decks.map(\.name))
        for deck in truth.decks { #expect(names.contains(deck), "deck missing") }
        for deck in collection.decks where deck.nameComponents.count > 1 {
            let parent = try #require(collection.decks.first { $0.id == deck.parentID })
            #expect(parent.nameComponents == Array(deck.nameComponents.dropLast()))
        }

        // Preset: the FSRS parameters Anki computed, to float precision.
        let preset = try #require(collection.presets.first { !$0.fsrsParams6.isEmpty || !$0.fsrsParams5.isEmpty })
        let params = preset.fsrsParams6.isEmpty ? preset.fsrsParams5 : preset.fsrsParams6
        #expect(params.count == truth.fsrs_params.count)
        for (a, b) in zip(params, truth.fsrs_params) { #expect(abs(a - b) < 1e-5) }
        #expect(preset.desiredRetention != nil)

        // Rollover travels only in whole-collection packages.
        if file.pathExtension == "colpkg" { #expect(collection.config.rolloverHour == truth.rollover) }

        // Media: names listed, bytes read lazily and matching the declared sizes.
        #expect(Set(collection.media.map(\.name)) == Set(truth.media_names))
        for item in collection.media {
            var size: UInt64 = 0
            try collection.readMedia(item) { size += UInt64($0.count) }
            #expect(size == item.size)
        }

        // Notes: fields split per note type, tags as stored.
        var tags = Set<String>()
        var notes = 0
        let fieldCounts = Dictionary(uniqueKeysWithValues: collection.noteTypes.map { ($0.id, $0.fields.count) })
        try collection.forEachNote { note in
            notes += 1
            tags.formUnion(note.tagList)
            #expect(note.fields.count == fieldCounts[note.noteTypeID])
        }
        #expect(notes == truth.note_count)
        // Tags as stored on notes: within the collection's tag list, personal ones included.
        #expect(tags.isSubset(of: Set(truth.tags).union(["leech"])))
        #expect(tags.contains("for_friday_test") && tags.contains("anna_private"))
    }
}
