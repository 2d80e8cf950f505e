import Foundation

/// Reads the schema-11 layout, where note types, decks, presets and config are JSON text in `col`.
/// Every id is checked to be below 2^53 (larger ones cannot be real and break JSON consumers).
enum LegacySchema {
    typealias Object = [String: Any]

    static func parseObject(_ text: String, what: CollectionPart) throws -> Object {
        if text.isEmpty { return [:] }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw ReaderError.invalidData(what)
        }
        guard let object = parsed as? Object else { throw ReaderError.invalidData(what) }
        return object
    }

    /// An id from a JSON value (number or numeric string), refused beyond ±2^53.
    static func id(_ value: Any?, what: CollectionPart) throws -> Int64? {
        guard let value, !(value is NSNull) else { return nil }
        let number: Int64?
        switch value {
        case let n as NSNumber:
            let double = n.doubleValue
            if double.magnitude > Double(CollectionDatabase.maxSafeID) { throw idOutOfRange() }
            number = double == double.rounded() ? n.int64Value : nil
        case let s as String:
            if let parsed = Int64(s) {
                number = parsed
            } else if s.allSatisfy({ $0.isNumber || $0 == "-" }) && !s.isEmpty {
                throw idOutOfRange()   // digits that do not fit 64 bits
            } else {
                number = nil
            }
        default:
            number = nil
        }
        guard let number else { throw ReaderError.invalidData(what) }
        if number.magnitude > UInt64(CollectionDatabase.maxSafeID) { throw idOutOfRange() }
        return number
    }

    static func idOutOfRange() -> ReaderError {
        ReaderError(.idOutOfRange,
                    "The collection contains an id larger than 2^53, which no real Anki collection has; "
                    + "the file was altered or damaged.")
    }

    static func int(_ value: Any?) -> Int? {
        switch value {
        case let n as NSNumber: return Int(exactly: n.doubleValue.rounded(.towardZero))
        case let s as String: return Int(s)
        default: return nil
        }
    }

    static func bool(_ value: Any?) -> Bool {
        switch value {
        case let n as NSNumber: return n.intValue != 0
        case let s as String: return s == "true" || s == "1"
        default: return false
        }
    }

    static func doubles(_ value: Any?) -> [Double] {
        (value as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? []
    }

    /// Iterates a `{"<id>": {...}}` map, checking that key and inner `id` agree and are in range.
    static func eachEntry(_ map: Object, what: CollectionPart, _ body: (Int64, Object) throws -> Void) throws {
        for (key, value) in map {
            guard let keyID = try id(key, what: what), let object = value as? Object else {
                throw ReaderError.invalidData(what)
            }
            let innerID = try id(object["id"], what: what) ?? keyID
            try body(innerID, object)
        }
    }

    static func noteTypes(_ models: Object) throws -> [NoteType] {
        var result: [NoteType] = []
        try eachEntry(models, what: .noteTypeList) { typeID, model in
            let fields = ((model["flds"] as? [Any]) ?? []).enumerated().compactMap { index, item -> NoteType.Field? in
                guard let field = item as? Object else { return nil }
                return NoteType.Field(ord: int(field["ord"]) ?? index, name: field["name"] as? String ?? "")
            }.sorted { $0.ord < $1.ord }
            let templates = ((model["tmpls"] as? [Any]) ?? []).enumerated().compactMap { index, item -> NoteType.Template? in
                guard let t = item as? Object else { return nil }
                return NoteType.Template(ord: int(t["ord"]) ?? index, name: t["name"] as? String ?? "",
                                         questionFormat: t["qfmt"] as? String ?? "",
                                         answerFormat: t["afmt"] as? String ?? "",
                                         browserQuestionFormat: t["bqfmt"] as? String ?? "",
                                         browserAnswerFormat: t["bafmt"] as? String ?? "")
            }.sorted { $0.ord < $1.ord }
            result.append(NoteType(id: typeID, name: model["name"] as? String ?? "",
                                   kind: int(model["type"]) == 1 ? .cloze : .normal,
                                   fields: fields, templates: templates,
                                   css: model["css"] as? String ?? "",
                                   sortFieldIndex: int(model["sortf"]) ?? 0,
                                   latexPre: model["latexPre"] as? String ?? "",
                                   latexPost: model["latexPost"] as? String ?? ""))
        }
        return result.sorted { $0.id < $1.id }
    }

    static func decks(_ decks: Object) throws -> [Deck] {
        var result: [Deck] = []
        try eachEntry(decks, what: .deckList) { id, deck in
            let name = deck["name"] as? String ?? ""
            let filtered = bool(deck["dyn"])
            result.append(Deck(id: id, nameComponents: name.components(separatedBy: "::"), parentID: nil,
                               presetID: filtered ? nil : try Self.id(deck["conf"], what: .deckList) ?? 1,
                               isFiltered: filtered))
        }
        return result
    }

    static func presets(_ dconf: Object) throws -> [DeckPreset] {
        var result: [DeckPreset] = []
        try eachEntry(dconf, what: .deckOptions) { id, conf in
            let new = conf["new"] as? Object
            let rev = conf["rev"] as? Object
            let ignore = conf["ignoreRevlogsBeforeDate"] as? String
            result.append(DeckPreset(id: id, name: conf["name"] as? String ?? "",
                                     fsrsParams4: doubles(conf["fsrsWeights"]),
                                     fsrsParams5: doubles(conf["fsrsParams5"]),
                                     fsrsParams6: doubles(conf["fsrsParams6"]),
                                     desiredRetention: (conf["desiredRetention"] as? NSNumber)?.doubleValue,
                                     ignoreRevlogsBeforeDate: (ignore?.isEmpty ?? true) ? nil : ignore,
                                     newPerDay: int(new?["perDay"]),
                                     maximumInterval: int(rev?["maxIvl"])))
        }
        return result.sorted { $0.id < $1.id }
    }

    /// Scheduler version, rollover and offsets from a config map (legacy `col.conf`, or the schema-18
    /// `config` table decoded into the same shape).
    static func schedulerVersion(_ conf: Object) -> Int {
        if bool(conf["sched2021"]) { return 3 }
        return int(conf["schedVer"]) ?? 1
    }
}
