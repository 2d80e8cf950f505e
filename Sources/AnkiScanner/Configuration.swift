import AnkiSubmission
import Foundation

/// Why the scanner could not start: its data files are missing or malformed. Messages name the file
/// and the key, never any card text.
public struct ScannerConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A JSON object read strictly: every key must be read by the code, so an unknown key (a typo that
/// would silently switch a rule off) is an error naming the file and the key.
final class StrictObject {
    private let values: [String: Any]
    private var used: Set<String> = []
    let path: String

    init(_ value: Any?, path: String) throws {
        guard let dict = value as? [String: Any] else {
            throw ScannerConfigurationError("\(path): expected a JSON object")
        }
        values = dict
        self.path = path
    }

    static func load(_ name: String, from source: DataDirectory) throws -> StrictObject {
        guard let data = source.contents(name) else {
            throw ScannerConfigurationError("cannot read the scanner configuration \(source.describe(name))")
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw ScannerConfigurationError("\(name) is not valid JSON")
        }
        return try StrictObject(json, path: name)
    }

    private func raw(_ key: String) throws -> Any {
        used.insert(key)
        guard let value = values[key], !(value is NSNull) else {
            throw ScannerConfigurationError("\(path): missing key \"\(key)\"")
        }
        return value
    }

    func has(_ key: String) -> Bool { values[key] != nil }

    func double(_ key: String) throws -> Double {
        guard let n = try raw(key) as? NSNumber else {
            throw ScannerConfigurationError("\(path).\(key): expected a number")
        }
        return n.doubleValue
    }

    func score(_ key: String) throws -> Double {
        let value = try double(key)
        guard (0...1).contains(value) else { throw ScannerConfigurationError("\(path).\(key): a score is between 0 and 1") }
        return value
    }

    func int(_ key: String) throws -> Int {
        guard let n = try raw(key) as? NSNumber, n.doubleValue == n.doubleValue.rounded() else {
            throw ScannerConfigurationError("\(path).\(key): expected an integer")
        }
        return n.intValue
    }

    func bool(_ key: String) throws -> Bool {
        guard let b = try raw(key) as? Bool else { throw ScannerConfigurationError("\(path).\(key): expected true or false") }
        return b
    }

    func string(_ key: String) throws -> String {
        guard let s = try raw(key) as? String else { throw ScannerConfigurationError("\(path).\(key): expected a string") }
        return s
    }

    func optionalString(_ key: String) throws -> String? {
        guard has(key) else { return nil }
        return try string(key)
    }

    func strings(_ key: String) throws -> [String] {
        guard let list = try raw(key) as? [Any] else { throw ScannerConfigurationError("\(path).\(key): expected a list") }
        return try list.enumerated().map { index, item in
            guard let s = item as? String else { throw ScannerConfigurationError("\(path).\(key)[\(index)]: expected a string") }
            return s
        }
    }

    func ints(_ key: String) throws -> [Int] {
        guard let list = try raw(key) as? [Any] else { throw ScannerConfigurationError("\(path).\(key): expected a list") }
        return try list.enumerated().map { index, item in
            guard let n = item as? NSNumber else { throw ScannerConfigurationError("\(path).\(key)[\(index)]: expected a number") }
            return n.intValue
        }
    }

    func object(_ key: String) throws -> StrictObject { try StrictObject(try raw(key), path: "\(path).\(key)") }

    func objects(_ key: String) throws -> [StrictObject] {
        guard let list = try raw(key) as? [Any] else { throw ScannerConfigurationError("\(path).\(key): expected a list") }
        return try list.enumerated().map { try StrictObject($1, path: "\(path).\(key)[\($0)]") }
    }

    /// Every key of this object, for maps keyed by name.
    var keys: [String] { values.keys.sorted() }

    /// Throws when the file holds a key no code read.
    func finish() throws {
        let unknown = Set(values.keys).subtracting(used).sorted()
        if let first = unknown.first {
            throw ScannerConfigurationError("\(path): unknown key \"\(first)\"")
        }
    }

    func requireVersion(_ supported: Int) throws {
        let version = try int("version")
        guard version == supported else {
            throw ScannerConfigurationError("\(path): version \(version) is not supported (this build reads \(supported))")
        }
    }
}

/// One PCRE2 pattern as written in `Config/scanner/patterns.json`.
struct PatternSpec: Sendable {
    var regex: String
    var caseless: Bool

    init(_ object: StrictObject) throws {
        regex = try object.string("regex")
        caseless = object.has("caseless") ? try object.bool("caseless") : false
        try object.finish()
    }
}

/// A national identity, social security or tax number rule.
struct NationalIDSpec: Sendable {
    var name: String
    var pattern: PatternSpec
    /// A checksum or structure check by name (see `Validators`), or "none".
    var validator: String
    var score: Double
    /// When true the number is reported only with an id word nearby ("SSN", "DNI", "Ausweis"...).
    var needsContext: Bool
}

/// A written date form; `day`, `month`, `year` are capture group numbers (month may be a name).
struct DateSpec: Sendable {
    var name: String
    var pattern: PatternSpec
    var day: Int
    var month: Int
    var year: Int
}

struct PhoneCountry: Sendable {
    var region: String
    var callingCode: String
    var trunkPrefix: String
    var lengths: Set<Int>
    var pattern: String
    /// Numbers are commonly written without the trunk prefix (US, ES, CN mobiles...).
    var direct: Bool
}

/// Everything tunable, read from `Config/scanner/*.json`.
struct ScannerConfiguration: Sendable {
    static let supportedVersion = 1

    struct Limits: Sendable {
        var matchLimit: UInt32
        var depthLimit: UInt32
        var windowBytes: Int
        var windowOverlap: Int
        var contextBytes: Int
        var maxTokenScalars: Int
        var cjkMaxTerm: Int
    }

    struct URLScores: Sendable {
        var scheme: Double, www: Double, bareCommon: Double, bare: Double, bareFileLike: Double
        var commonTLDs: Set<String>
        var fileLikeTLDs: Set<String>
    }

    struct PhoneScores: Sendable {
        var international: Double, internationalOther: Double, noPlus: Double, national: Double
        var nationalUnformatted: Double, generic: Double, contextBonus: Double
        var genericMinDigits: Int, genericMaxDigits: Int, genericMaxGroup: Int
    }

    struct DigitScores: Sendable {
        var iban: Double, card: Double, run: Double, idContext: Double, minRun: Int
    }

    struct DateScores: Sendable {
        var plain: Double, birth: Double, minYear: Int, maxYear: Int
    }

    struct NameScores: Sendable {
        var given: Double, surname: Double, commonWordMid: Double, commonWordStart: Double, commonNoun: Double
        var chainBonus: Double, titleBonus: Double, cueBonus: Double, possessiveBonus: Double
        var honorificBonus: Double, determinerPenalty: Double, tagScore: Double
        var upperCasePenalty: Double, titleCasePenalty: Double
        var cjkPair: Double, cjkHonorific: Double, chinesePair: Double, koreanPair: Double
    }

    struct SpecialScores: Sendable {
        var defaultWeight: Double, firstPersonBonus: Double, weakFirstPersonBonus: Double
        var cooccurrenceBonus: Double, vocabularyFactor: Double, vocabularyMaxWords: Int, weakBelow: Double
    }

    var minScore: Double
    var specialCategoryThreshold: Int
    var limits: Limits
    var emailScore: Double
    var emailUnknownTLDScore: Double
    var url: URLScores
    var ipScore: Double
    var ipSmallScore: Double
    var phone: PhoneScores
    var digits: DigitScores
    var dates: DateScores
    var names: NameScores
    var special: SpecialScores
    var nameLanguages: [String]
    var specialLanguages: [String]

    // patterns.json
    var patterns: [String: PatternSpec]
    var monthNames: [String: Int]
    var dateSpecs: [DateSpec]
    var nationalIDs: [NationalIDSpec]
    var ibanLengths: [String: Int]
    var cardPrefixes: [String]

    // phones.json, tlds.json
    var phoneCountries: [PhoneCountry]
    var callingCodes: Set<String>
    var tlds: Set<String>

    static func load(from data: DataDirectory) throws -> ScannerConfiguration {
        let main = try StrictObject.load("Config/scanner/scanner.json", from: data)
        let patternsFile = try StrictObject.load("Config/scanner/patterns.json", from: data)
        let phonesFile = try StrictObject.load("Config/scanner/phones.json", from: data)
        let tldFile = try StrictObject.load("Config/scanner/tlds.json", from: data)
        return try ScannerConfiguration(main: main, patterns: patternsFile, phones: phonesFile, tlds: tldFile)
    }

    init(main: StrictObject, patterns patternsFile: StrictObject, phones phonesFile: StrictObject,
         tlds tldFile: StrictObject) throws {
        for file in [main, patternsFile, phonesFile, tldFile] { try file.requireVersion(Self.supportedVersion) }
        _ = try main.optionalString("description")
        minScore = try main.score("min_score")
        specialCategoryThreshold = try main.int("special_category_threshold")
        nameLanguages = try main.strings("name_languages")
        specialLanguages = try main.strings("special_languages")

        let l = try main.object("limits")
        limits = Limits(matchLimit: UInt32(clamping: try l.int("match_limit")),
                        depthLimit: UInt32(clamping: try l.int("depth_limit")),
                        windowBytes: try l.int("window_bytes"), windowOverlap: try l.int("window_overlap"),
                        contextBytes: try l.int("context_bytes"), maxTokenScalars: try l.int("max_token_scalars"),
                        cjkMaxTerm: try l.int("cjk_max_term"))
        try l.finish()
        guard limits.windowBytes >= 256, limits.windowOverlap * 2 < limits.windowBytes else {
            throw ScannerConfigurationError("\(l.path): window_bytes must be at least 256 and more than twice window_overlap")
        }

        let e = try main.object("email")
        emailScore = try e.score("score")
        emailUnknownTLDScore = try e.score("unknown_tld_score")
        try e.finish()

        let u = try main.object("url")
        url = URLScores(scheme: try u.score("scheme_score"), www: try u.score("www_score"),
                        bareCommon: try u.score("bare_common_score"), bare: try u.score("bare_score"),
                        bareFileLike: try u.score("bare_file_like_score"),
                        commonTLDs: Set(try u.strings("common_tlds")), fileLikeTLDs: Set(try u.strings("file_like_tlds")))
        try u.finish()

        let ip = try main.object("ip_address")
        ipScore = try ip.score("score")
        ipSmallScore = try ip.score("small_octets_score")
        try ip.finish()

        let p = try main.object("phone")
        phone = PhoneScores(international: try p.score("international_score"),
                            internationalOther: try p.score("international_other_score"),
                            noPlus: try p.score("no_plus_score"), national: try p.score("national_score"),
                            nationalUnformatted: try p.score("national_unformatted_score"),
                            generic: try p.score("generic_score"), contextBonus: try p.score("context_bonus"),
                            genericMinDigits: try p.int("generic_min_digits"),
                            genericMaxDigits: try p.int("generic_max_digits"),
                            genericMaxGroup: try p.int("generic_max_group"))
        let directRegions = Set(try p.strings("direct_regions"))
        try p.finish()

        let d = try main.object("digits")
        digits = DigitScores(iban: try d.score("iban_score"), card: try d.score("card_score"), run: try d.score("run_score"),
                             idContext: try d.score("id_context_score"), minRun: try d.int("min_run"))
        try d.finish()

        let dt = try main.object("dates")
        dates = DateScores(plain: try dt.score("score"), birth: try dt.score("birth_score"),
                           minYear: try dt.int("min_year"), maxYear: try dt.int("max_year"))
        try dt.finish()

        let n = try main.object("names")
        names = NameScores(given: try n.score("given"), surname: try n.score("surname"),
                           commonWordMid: try n.score("common_word_mid"), commonWordStart: try n.score("common_word_start"),
                           commonNoun: try n.score("common_noun"), chainBonus: try n.score("chain_bonus"),
                           titleBonus: try n.score("title_bonus"), cueBonus: try n.score("cue_bonus"),
                           possessiveBonus: try n.score("possessive_bonus"), honorificBonus: try n.score("honorific_bonus"),
                           determinerPenalty: try n.score("determiner_penalty"), tagScore: try n.score("tag_score"),
                           upperCasePenalty: try n.score("upper_case_penalty"),
                           titleCasePenalty: try n.score("title_case_penalty"),
                           cjkPair: try n.score("cjk_pair"), cjkHonorific: try n.score("cjk_honorific"),
                           chinesePair: try n.score("chinese_pair"), koreanPair: try n.score("korean_pair"))
        try n.finish()

        let s = try main.object("special")
        special = SpecialScores(defaultWeight: try s.score("default_weight"),
                                firstPersonBonus: try s.score("first_person_bonus"),
                                weakFirstPersonBonus: try s.score("weak_first_person_bonus"),
                                cooccurrenceBonus: try s.score("cooccurrence_bonus"),
                                vocabularyFactor: try s.score("vocabulary_factor"),
                                vocabularyMaxWords: try s.int("vocabulary_max_words"), weakBelow: try s.score("weak_below"))
        try s.finish()
        try main.finish()

        // patterns.json
        _ = try patternsFile.optionalString("description")
        let pats = try patternsFile.object("patterns")
        var patterns: [String: PatternSpec] = [:]
        for key in pats.keys { patterns[key] = try PatternSpec(try pats.object(key)) }
        try pats.finish()
        for required in ["email", "url_scheme", "url_www", "url_bare", "ipv4", "ipv6", "phone", "iban", "card", "digits"]
        where patterns[required] == nil {
            throw ScannerConfigurationError("Config/scanner/patterns.json: patterns.\(required) is missing")
        }
        self.patterns = patterns
        let months = try patternsFile.object("month_names")
        var monthNames: [String: Int] = [:]
        for key in months.keys {
            let month = try months.int(key)
            guard (1...12).contains(month) else { throw ScannerConfigurationError("\(months.path).\(key): a month is 1-12") }
            monthNames[key.lowercased()] = month
        }
        try months.finish()
        self.monthNames = monthNames
        dateSpecs = try patternsFile.objects("dates").map { o in
            let spec = DateSpec(name: try o.string("name"), pattern: try PatternSpec(try o.object("pattern")),
                                day: try o.int("day"), month: try o.int("month"), year: try o.int("year"))
            try o.finish()
            return spec
        }
        nationalIDs = try patternsFile.objects("national_ids").map { o in
            let spec = NationalIDSpec(name: try o.string("name"), pattern: try PatternSpec(try o.object("pattern")),
                                      validator: try o.string("validator"), score: try o.score("score"),
                                      needsContext: try o.bool("needs_context"))
            try o.finish()
            guard Validators.isKnown(spec.validator) else {
                throw ScannerConfigurationError("\(o.path).validator: unknown validator \"\(spec.validator)\"")
            }
            return spec
        }
        let ibans = try patternsFile.object("iban_lengths")
        var ibanLengths: [String: Int] = [:]
        for key in ibans.keys { ibanLengths[key] = try ibans.int(key) }
        try ibans.finish()
        self.ibanLengths = ibanLengths
        cardPrefixes = try patternsFile.strings("card_prefixes")
        try patternsFile.finish()

        // phones.json
        _ = try phonesFile.string("source")
        phoneCountries = try phonesFile.objects("countries").map { o in
            let region = try o.string("region")
            let country = PhoneCountry(region: region, callingCode: try o.string("calling_code"),
                                       trunkPrefix: try o.string("trunk_prefix"), lengths: Set(try o.ints("lengths")),
                                       pattern: try o.string("pattern"), direct: directRegions.contains(region))
            try o.finish()
            return country
        }
        callingCodes = Set(try phonesFile.strings("calling_codes"))
        try phonesFile.finish()

        _ = try tldFile.string("source")
        tlds = Set(try tldFile.strings("tlds").map { $0.lowercased() })
        try tldFile.finish()
    }
}
