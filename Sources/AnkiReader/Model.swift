/// The one model of a collection, whatever file generation it came from. Small tables (note types,
/// decks, presets, config, media map) are held in memory; notes, cards, the revlog and graves are
/// streamed from the database (see `AnkiCollection`).

/// Which kind of file the participant handed us.
public enum SourceFormat: String, Sendable, CaseIterable {
    /// `.apkg`/`.colpkg` with `collection.anki2` (2012-2018).
    case legacy1
    /// `.apkg`/`.colpkg` with `collection.anki21` and usually `meta` (2018-).
    case legacy2
    /// `.apkg`/`.colpkg` with zstd `collection.anki21b`, protobuf `meta` and `media` (2022-).
    case latest
    /// A bare collection database from an Anki profile folder.
    case collection
}

public struct NoteType: Sendable, Equatable {
    public enum Kind: String, Sendable { case normal, cloze }

    public struct Field: Sendable, Equatable {
        public var ord: Int
        public var name: String
    }

    public struct Template: Sendable, Equatable {
        public var ord: Int
        public var name: String
        public var questionFormat: String
        public var answerFormat: String
        public var browserQuestionFormat: String
        public var browserAnswerFormat: String
    }

    public var id: Int64
    public var name: String
    public var kind: Kind
    /// Fields in order of `ord`.
    public var fields: [Field]
    /// Templates in order of `ord`.
    public var templates: [Template]
    public var css: String
    public var sortFieldIndex: Int
    public var latexPre: String
    public var latexPost: String
}

public struct Deck: Sendable, Equatable {
    /// Full name split into levels (`"A::B"` is `["A", "B"]`).
    public var id: Int64
    public var nameComponents: [String]
    /// The parent deck's id, found by name; nil for top-level decks or when the parent is missing.
    public var parentID: Int64?
    /// The preset (deck options) of a normal deck; nil for filtered decks.
    public var presetID: Int64?
    public var isFiltered: Bool

    public var name: String { nameComponents.joined(separator: "::") }
}

public struct DeckPreset: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// FSRS parameters by version, only those present and non-empty.
    public var fsrsParams4: [Double]
    public var fsrsParams5: [Double]
    public var fsrsParams6: [Double]
    public var desiredRetention: Double?
    /// `YYYY-MM-DD` or empty/nil.
    public var ignoreRevlogsBeforeDate: String?
    public var newPerDay: Int?
    public var maximumInterval: Int?
}

public struct CollectionConfig: Sendable, Equatable {
    /// `col.ver`.
    public var schemaVersion: Int
    /// 1, 2 or 3 (the v3 scheduler is v2 storage with `sched2021` set).
    public var schedulerVersion: Int
    /// Collection creation time, Unix seconds.
    public var creationTime: Int64
    /// Hour (0-23) at which a new day starts; nil when the file does not carry it (.apkg exports).
    public var rolloverHour: Int?
    /// Minutes west of UTC at creation / on the last machine, when present.
    public var creationOffsetMinutes: Int?
    public var localOffsetMinutes: Int?
}

public struct Note: Sendable, Equatable {
    public var id: Int64
    public var guid: String
    public var noteTypeID: Int64
    public var modified: Int64
    public var usn: Int64
    /// Space-separated tags as stored.
    public var tags: String
    /// Fields in note-type order.
    public var fields: [String]
    public var sortField: String
    public var checksum: Int64
    public var flags: Int64
    public var data: String

    public var tagList: [String] { tags.split(separator: " ").map(String.init) }

    /// Splits `flds` at the 0x1F separators, on UTF-8 bytes (Foundation's `components(separatedBy:)`
    /// converts to UTF-16 on Linux and was the largest cost of reading notes).
    public static func splitFields(_ joined: String) -> [String] {
        var text = joined
        return text.withUTF8 { bytes in
            var fields: [String] = []
            var start = 0
            for index in 0..<bytes.count where bytes[index] == 0x1F {
                fields.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
                start = index + 1
            }
            fields.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]), as: UTF8.self))
            return fields
        }
    }
}

public struct Card: Sendable, Equatable {
    public var id: Int64
    public var noteID: Int64
    public var deckID: Int64
    public var ord: Int64
    public var modified: Int64
    public var usn: Int64
    public var type: Int64
    public var queue: Int64
    public var due: Int64
    public var interval: Int64
    public var factor: Int64
    public var reps: Int64
    public var lapses: Int64
    public var left: Int64
    public var originalDue: Int64
    public var originalDeckID: Int64
    public var flags: Int64
    public var data: String
}

public struct Review: Sendable, Equatable {
    /// Review time in Unix milliseconds.
    public var id: Int64
    public var cardID: Int64
    public var usn: Int64
    public var ease: Int64
    public var interval: Int64
    public var lastInterval: Int64
    public var factor: Int64
    /// Milliseconds spent.
    public var time: Int64
    public var type: Int64
}

public struct Grave: Sendable, Equatable {
    public var usn: Int64
    public var objectID: Int64
    /// 0 card, 1 note, 2 deck.
    public var type: Int64
}

/// A media file listed in the package: its real name, its size, and the zip entry holding it.
public struct MediaFile: Sendable, Equatable {
    public var entryName: String
    public var name: String
    public var size: UInt64
}

/// Row counts, the way Anki itself counts them.
public struct CollectionCounts: Sendable, Equatable {
    public var notes: Int
    public var cards: Int
    public var revlog: Int
    public var decks: Int
    public var noteTypes: Int
    public var presets: Int
    public var graves: Int
    public var media: Int
}
