import Foundation

/// The research data policy as the pipeline applies it: a versioned JSON file in `Config/`
/// (`Config/policy.json`; the built-in default is the same text). Unknown keys are an error, so a
/// typo can never silently switch a protection off.
public struct Policy: Sendable, Equatable {
    public struct TimeShift: Sendable, Equatable {
        public var minDays: Int
        public var maxDays: Int
    }

    public struct Excluded: Sendable, Equatable {
        public var tables: [String]
        public var col: [String]
        public var notes: [String]
        public var cards: [String]
        public var revlog: [String]
        public var noteTypes: [String]
        public var decks: [String]
    }

    public struct Media: Sendable, Equatable {
        /// kind ("image", "audio", "video", "other") -> placeholder text.
        public var placeholders: [String: String]
        /// kind -> lower-case extensions.
        public var extensions: [String: [String]]

        public func kind(ofExtension ext: String) -> String {
            let lower = ext.lowercased()
            for kind in ["image", "audio", "video"] where extensions[kind]?.contains(lower) == true { return kind }
            return "other"
        }

        public func placeholder(for kind: String) -> String { placeholders[kind] ?? placeholders["other"] ?? "file" }
    }

    public static let supportedVersion = 1

    public var version: Int
    public var timeShift: TimeShift
    public var defaultRolloverHour: Int
    public var storeUTCOffsetHours: Bool
    public var excluded: Excluded
    public var cardsDataKeys: [String]
    public var cardsDataTimeKeys: [String]
    public var deckNamePrefix: String
    public var media: Media

    /// The policy every submission follows unless a researcher ships another version.
    public static let standard: Policy = {
        do { return try Policy(json: Data(PackageResources.policy_json)) } catch { fatalError("built-in policy is invalid: \(error)") }
    }()

    public static func load(_ url: URL) throws -> Policy {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw PolicyError("cannot read the policy file \(url.path)")
        }
        return try Policy(json: data)
    }

    public init(json: Data) throws {
        guard let root = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw PolicyError("the policy is not a JSON object")
        }
        var reader = StrictObject(root, path: "policy")
        version = try reader.int("policy_version")
        guard version == Self.supportedVersion else {
            throw PolicyError("policy_version \(version) is not supported (this tool reads \(Self.supportedVersion))")
        }
        _ = try reader.optionalString("description")
        var shift = try reader.object("time_shift")
        timeShift = TimeShift(minDays: try shift.int("min_days"), maxDays: try shift.int("max_days"))
        try shift.finish()
        guard timeShift.minDays >= 365, timeShift.maxDays > timeShift.minDays else {
            throw PolicyError("time_shift must span at least one year into the past (min_days >= 365 < max_days)")
        }
        var days = try reader.object("review_days")
        defaultRolloverHour = try days.int("default_rollover_hour")
        try days.finish()
        guard (0...23).contains(defaultRolloverHour) else { throw PolicyError("default_rollover_hour must be 0-23") }
        var zone = try reader.object("timezone")
        storeUTCOffsetHours = try zone.bool("store_utc_offset_hours")
        try zone.finish()
        var ex = try reader.object("excluded")
        excluded = Excluded(tables: try ex.strings("tables"), col: try ex.strings("col"), notes: try ex.strings("notes"),
                            cards: try ex.strings("cards"), revlog: try ex.strings("revlog"),
                            noteTypes: try ex.strings("note_types"), decks: try ex.strings("decks"))
        try ex.finish()
        cardsDataKeys = try reader.strings("cards_data_keys")
        cardsDataTimeKeys = try reader.strings("cards_data_time_keys")
        deckNamePrefix = try reader.string("deck_name_prefix")
        var mediaObject = try reader.object("media")
        var placeholders = try mediaObject.object("placeholders")
        var extensions = try mediaObject.object("extensions")
        var placeholderMap: [String: String] = [:]
        var extensionMap: [String: [String]] = [:]
        for kind in ["image", "audio", "video", "other"] { placeholderMap[kind] = try placeholders.string(kind) }
        for kind in ["image", "audio", "video"] { extensionMap[kind] = try extensions.strings(kind).map { $0.lowercased() } }
        try placeholders.finish()
        try extensions.finish()
        try mediaObject.finish()
        media = Media(placeholders: placeholderMap, extensions: extensionMap)
        try reader.finish()
        let allowedDataKeys: Set<String> = ["s", "d", "dr", "decay", "lrt"]
        guard Set(cardsDataKeys).isSubset(of: allowedDataKeys), Set(cardsDataTimeKeys).isSubset(of: Set(cardsDataKeys)) else {
            throw PolicyError("cards_data_keys may only name s, d, dr, decay and lrt")
        }
    }
}

public struct PolicyError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = "Policy: " + description }
}

/// Reads a JSON object key by key and fails on keys nobody asked for.
struct StrictObject {
    private let object: [String: Any]
    private let path: String
    private var seen: Set<String> = []

    init(_ object: [String: Any], path: String) {
        self.object = object
        self.path = path
    }

    private mutating func value(_ key: String) throws -> Any {
        seen.insert(key)
        guard let value = object[key] else { throw PolicyError("\(path).\(key) is missing") }
        return value
    }

    mutating func int(_ key: String) throws -> Int {
        guard let n = try value(key) as? NSNumber, let i = Int(exactly: n.doubleValue) else {
            throw PolicyError("\(path).\(key) must be a whole number")
        }
        return i
    }

    mutating func bool(_ key: String) throws -> Bool {
        guard let n = try value(key) as? NSNumber else { throw PolicyError("\(path).\(key) must be true or false") }
        return n.boolValue
    }

    mutating func string(_ key: String) throws -> String {
        guard let s = try value(key) as? String else { throw PolicyError("\(path).\(key) must be text") }
        return s
    }

    mutating func optionalString(_ key: String) throws -> String? {
        seen.insert(key)
        guard let v = object[key] else { return nil }
        guard let s = v as? String else { throw PolicyError("\(path).\(key) must be text") }
        return s
    }

    mutating func strings(_ key: String) throws -> [String] {
        guard let list = try value(key) as? [Any], let strings = list as? [String] else {
            throw PolicyError("\(path).\(key) must be a list of texts")
        }
        return strings
    }

    mutating func object(_ key: String) throws -> StrictObject {
        guard let o = try value(key) as? [String: Any] else { throw PolicyError("\(path).\(key) must be an object") }
        return StrictObject(o, path: "\(path).\(key)")
    }

    func finish() throws {
        let unknown = Set(object.keys).subtracting(seen).sorted()
        if !unknown.isEmpty {
            throw PolicyError("unknown key(s) \(unknown.map { "\(path).\($0)" }.joined(separator: ", "))")
        }
    }
}
