import AnkiSchemas
import Foundation
import GRDB
import SwiftProtobuf

/// Loads the small tables (config, note types, decks, presets) into the model, whichever layout the
/// schema version uses: JSON in `col` (schema 11) or separate tables with protobuf blobs (14-18).
/// The layout is decided per table by what exists, which also covers the transitional schemas 14-17.
enum SchemaLoader {
    struct Loaded {
        var config: CollectionConfig
        var noteTypes: [NoteType]
        var decks: [Deck]
        var presets: [DeckPreset]
    }

    /// The columns the reader reads from each table; every table it reads must be an ordinary table
    /// with at least these (`ForeignDatabase.plainTable`): a view, a virtual table or a generated
    /// column is never read.
    static let columns: [String: [String]] = [
        "col": ["ver", "crt"],
        "notes": ["id", "guid", "mid", "mod", "usn", "tags", "flds", "sfld", "csum", "flags", "data"],
        "cards": ["id", "nid", "did", "ord", "mod", "usn", "type", "queue", "due", "ivl", "factor", "reps", "lapses",
                  "left", "odue", "odid", "flags", "data"],
        "revlog": ["id", "cid", "usn", "ease", "ivl", "lastIvl", "factor", "time", "type"],
        "graves": ["usn", "oid", "type"],
        "config": ["KEY", "val"],
        "notetypes": ["id", "name", "config"],
        "fields": ["ntid", "ord", "name"],
        "templates": ["ntid", "ord", "name", "config"],
        "decks": ["id", "name", "kind"],
        "deck_config": ["id", "name", "config"],
    ]

    /// Throws unless `table` is an ordinary table with the columns the reader reads.
    static func requireTable(_ db: Database, _ table: String) throws {
        guard try ForeignDatabase.plainTable(db, table, columns: columns[table] ?? []) else {
            throw notLaidOut(table)
        }
    }

    /// Whether the collection has `table` (the layout of its schema version); throws when something of
    /// that name exists but is not an ordinary table with the columns the reader reads.
    static func hasTable(_ db: Database, _ table: String) throws -> Bool {
        if try ForeignDatabase.plainTable(db, table, columns: columns[table] ?? []) { return true }
        let exists = try Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ? COLLATE NOCASE AND type IN ('table', 'view'))
            """, arguments: [table]) ?? false
        if exists { throw notLaidOut(table) }
        return false
    }

    static func notLaidOut(_ table: String) -> ReaderError {
        ReaderError(.notAnAnkiCollection,
                    "The database is not an Anki collection (its \(table) table is missing, or is not a table with Anki's columns).")
    }

    static func load(_ db: Database) throws -> Loaded {
        // The version first (a collection too old or too new for the columns below is named as such).
        try requireTable(db, "col")
        guard let col = try Row.fetchOne(db, sql: "SELECT * FROM col LIMIT 1") else {
            throw ReaderError(.notAnAnkiCollection, "The database is not an Anki collection (its col table is empty).")
        }
        let version = Int((try? col.decode(Int64.self, forColumn: "ver")) ?? 0)
        try checkSchema(version)
        for table in ["notes", "cards", "revlog"] { try requireTable(db, table) }
        let crt = (try? col.decode(Int64.self, forColumn: "crt")) ?? 0

        // Config: the `config` table when it exists, else `col.conf`.
        let conf: LegacySchema.Object
        if try hasTable(db, "config") {
            conf = try modernConfig(db)
        } else {
            conf = try LegacySchema.parseObject(col.decode(String?.self, forColumn: "conf") ?? "", what: .configuration)
        }
        let config = CollectionConfig(schemaVersion: version,
                                      schedulerVersion: LegacySchema.schedulerVersion(conf),
                                      creationTime: crt,
                                      rolloverHour: LegacySchema.int(conf["rollover"]).flatMap { (0...23).contains($0) ? $0 : nil },
                                      creationOffsetMinutes: LegacySchema.int(conf["creationOffset"]),
                                      localOffsetMinutes: LegacySchema.int(conf["localOffset"]))

        let noteTypes: [NoteType] = try hasTable(db, "notetypes")
            ? try ModernSchema.noteTypes(db)
            : try LegacySchema.noteTypes(LegacySchema.parseObject(
                col.decode(String?.self, forColumn: "models") ?? "", what: .noteTypeList))
        var decks: [Deck] = try hasTable(db, "decks")
            ? try ModernSchema.decks(db)
            : try LegacySchema.decks(LegacySchema.parseObject(
                col.decode(String?.self, forColumn: "decks") ?? "", what: .deckList))
        let presets: [DeckPreset] = try hasTable(db, "deck_config")
            ? try ModernSchema.presets(db)
            : try LegacySchema.presets(LegacySchema.parseObject(
                col.decode(String?.self, forColumn: "dconf") ?? "", what: .deckOptions))

        // Parents are found by name, as Anki does.
        let byName = Dictionary(decks.map { ($0.nameComponents, $0.id) }, uniquingKeysWith: min)
        for index in decks.indices where decks[index].nameComponents.count > 1 {
            decks[index].parentID = byName[Array(decks[index].nameComponents.dropLast())]
        }
        decks.sort { $0.id < $1.id }
        return Loaded(config: config, noteTypes: noteTypes, decks: decks, presets: presets)
    }

    static func checkSchema(_ version: Int) throws {
        if CollectionDatabase.supportedSchemas.contains(version) { return }
        if version > 18 {
            throw ReaderError(.schemaTooNew,
                              "The collection uses format version \(version), newer than this tool supports (11 to 18); "
                              + "update anki-submit, or export with \"Support older Anki versions\" ticked.")
        }
        if version < 11 {
            throw ReaderError(.schemaTooOld,
                              "The collection uses format version \(version), older than any Anki 2 collection; "
                              + "open it in a current Anki once and export it again.")
        }
        throw ReaderError(.schemaTooOld,
                          "The collection uses format version \(version), which Anki never released (it reads 11 and 14 to 18); "
                          + "open it in a current Anki once and export it again.")
    }

    /// The schema-18 `config` table: key -> JSON value bytes.
    static func modernConfig(_ db: Database) throws -> LegacySchema.Object {
        var conf: LegacySchema.Object = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT KEY, val FROM config")
        while let row = try rows.next() {
            guard let key = try row.decode(String?.self, atIndex: 0),
                  let value = try row.decode(Data?.self, atIndex: 1),
                  let parsed = try? JSONSerialization.jsonObject(with: value, options: [.fragmentsAllowed])
            else { continue }   // unknown or odd keys are not ours to judge
            conf[key] = parsed
        }
        return conf
    }
}

/// Schema 14-18: note types, decks and presets in their own tables, settings as protobuf blobs.
enum ModernSchema {
    static func decode<M: SwiftProtobuf.Message>(_ type: M.Type, _ data: Data?, what: CollectionPart) throws -> M {
        guard let data, !data.isEmpty else { return M() }
        do {
            return try M(serializedBytes: data)
        } catch {
            throw ReaderError.invalidData(what)
        }
    }

    /// A stored `float` as the decimal a person typed (0.9, not 0.8999999761581421).
    static func decimal(_ value: Float) -> Double {
        Double("\(value)") ?? Double(value)
    }

    static func checkedID(_ id: Int64) throws -> Int64 {
        if id.magnitude > UInt64(CollectionDatabase.maxSafeID) { throw LegacySchema.idOutOfRange() }
        return id
    }

    static func noteTypes(_ db: Database) throws -> [NoteType] {
        try SchemaLoader.requireTable(db, "fields")
        try SchemaLoader.requireTable(db, "templates")
        var fields: [Int64: [NoteType.Field]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT ntid, ord, name FROM fields ORDER BY ntid, ord") {
            fields[try row.int(0), default: []].append(NoteType.Field(ord: Int(try row.int(1)), name: try row.text(2)))
        }
        var templates: [Int64: [NoteType.Template]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT ntid, ord, name, config FROM templates ORDER BY ntid, ord") {
            let config = try decode(AnkiTemplateConfig.self, try row.decode(Data?.self, atIndex: 3), what: .cardTemplates)
            templates[try row.int(0), default: []].append(
                NoteType.Template(ord: Int(try row.int(1)), name: try row.text(2),
                                  questionFormat: config.qFormat, answerFormat: config.aFormat,
                                  browserQuestionFormat: config.qFormatBrowser,
                                  browserAnswerFormat: config.aFormatBrowser))
        }
        // Orphan rows in fields/templates (no such note type) exist in real files; they are ignored.
        return try Row.fetchAll(db, sql: "SELECT id, name, config FROM notetypes ORDER BY id").map { row in
            let id = try checkedID(try row.int(0))
            let config = try decode(AnkiNotetypeConfig.self, try row.decode(Data?.self, atIndex: 2), what: .noteTypeList)
            return NoteType(id: id, name: try row.text(1), kind: config.kind == .cloze ? .cloze : .normal,
                            fields: fields[id] ?? [], templates: templates[id] ?? [], css: config.css,
                            sortFieldIndex: Int(config.sortFieldIdx), latexPre: config.latexPre,
                            latexPost: config.latexPost)
        }
    }

    static func decks(_ db: Database) throws -> [Deck] {
        try Row.fetchAll(db, sql: "SELECT id, name, kind FROM decks").map { row in
            let kind = try decode(AnkiDeckKind.self, try row.decode(Data?.self, atIndex: 2), what: .deckList)
            let presetID: Int64?
            switch kind.kind {
            case .normal(let normal): presetID = try checkedID(normal.configID)
            case .filtered: presetID = nil
            case .none: presetID = 1
            }
            return Deck(id: try checkedID(try row.int(0)),
                        nameComponents: try row.text(1).components(separatedBy: "\u{1f}"),
                        parentID: nil, presetID: presetID, isFiltered: presetID == nil)
        }
    }

    static func presets(_ db: Database) throws -> [DeckPreset] {
        try Row.fetchAll(db, sql: "SELECT id, name, config FROM deck_config ORDER BY id").map { row in
            let c = try decode(AnkiDeckConfig.self, try row.decode(Data?.self, atIndex: 2), what: .deckOptions)
            return DeckPreset(id: try checkedID(try row.int(0)), name: try row.text(1),
                              fsrsParams4: c.fsrsParams4.map(decimal),
                              fsrsParams5: c.fsrsParams5.map(decimal),
                              fsrsParams6: c.fsrsParams6.map(decimal),
                              desiredRetention: c.desiredRetention > 0 ? decimal(c.desiredRetention) : nil,
                              ignoreRevlogsBeforeDate: c.ignoreRevlogsBeforeDate.isEmpty ? nil : c.ignoreRevlogsBeforeDate,
                              newPerDay: Int(c.newPerDay), maximumInterval: Int(c.maximumReviewInterval))
        }
    }
}
