import AnkiReader
import ArgumentParser
import Foundation

extension AnkiSubmit {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what kind of Anki file this is and how much it holds.",
            discussion: "Reads .apkg and .colpkg exports of every Anki generation and bare collection files; "
                + "the file itself is never modified."
        )

        @Argument(help: "An .apkg/.colpkg export or a collection.anki2 file.")
        var file: String

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        @OptionGroup var reader: ReaderOptions

        func run() throws {
            let summary = try withCollection(file, options: reader) { collection in
                try collection.validate()
                return InspectSummary(collection: collection, counts: try collection.counts())
            }
            print(json ? summary.json : summary.text)
        }
    }
}

struct InspectSummary {
    let format: SourceFormat
    let config: CollectionConfig
    let counts: CollectionCounts
    let packageVersion: Int?

    init(collection: AnkiCollection, counts: CollectionCounts) {
        format = collection.format
        config = collection.config
        packageVersion = collection.packageVersion
        self.counts = counts
    }

    var json: String {
        var object: [String: Any] = [
            "format": format.rawValue,
            "schema": config.schemaVersion,
            "scheduler": config.schedulerVersion,
            "notes": counts.notes,
            "cards": counts.cards,
            "revlog": counts.revlog,
            "decks": counts.decks,
            "note_types": counts.noteTypes,
            "presets": counts.presets,
            "graves": counts.graves,
            "media": counts.media,
        ]
        object["rollover"] = config.rolloverHour
        object["package_version"] = packageVersion
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    var text: String {
        let formatName: String
        switch format {
        case .legacy1: formatName = "Anki package, legacy 1 (collection.anki2, 2012-2018)"
        case .legacy2: formatName = "Anki package, legacy 2 (collection.anki21)"
        case .latest: formatName = "Anki package, latest (zstd, collection.anki21b)"
        case .collection: formatName = "Anki collection file"
        }
        var lines = [
            "Format:       \(formatName)",
            "Schema:       \(config.schemaVersion)",
            "Scheduler:    v\(config.schedulerVersion)",
            "Notes:        \(counts.notes)",
            "Cards:        \(counts.cards)",
            "Reviews:      \(counts.revlog)",
            "Decks:        \(counts.decks)",
            "Note types:   \(counts.noteTypes)",
            "Deck presets: \(counts.presets)",
            "Media files:  \(counts.media)",
        ]
        if let rollover = config.rolloverHour { lines.append("Day starts:   \(rollover):00") }
        if counts.notes == 0 { lines.append("Note: this file contains no notes; there is nothing to submit.") }
        return lines.joined(separator: "\n")
    }
}
