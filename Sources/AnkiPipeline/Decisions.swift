import AnkiSubmission
import Foundation

/// What the participant decided: which notes to leave out, which tags to remove, and the survey.
/// The same JSON is written by the review page ("save and resume") and read by `--decisions`.
///
/// ```json
/// {"format": "anki-submit-decisions", "version": 1,
///  "excluded_notes": [1712345678901], "removed_tags": ["for_friday_test"],
///  "languages": ["de", "en"], "domain": "medicine", "domain_confirmed": false, "consent_public": true,
///  "special_category_confirmed": false}
/// ```
/// Note ids are the original ids, as `inspect`/`scan` report them.
public struct Decisions: Sendable, Equatable {
    public var excludedNotes: Set<Int64> = []
    public var removedTags: [String] = []
    public var languages: [String] = []
    public var domain: String = ""
    /// The participant keeps the domain answer as written, though it holds a word that looks like
    /// personal data or names one of their decks or tags (`SurveyAnswerCheck`).
    public var domainConfirmed = false
    public var consentPublic: Bool?
    public var specialCategoryConfirmed = false

    public init() {}

    public static let format = "anki-submit-decisions"
    public static let version = 1

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ text: String) { description = "Decisions file: " + text }
    }

    /// Parses a decisions file, checking every key and value; language codes are made canonical.
    public init(json data: Data, languages languageList: LanguageList) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw Invalid("not a JSON object (is the file complete?)")
        }
        let known: Set<String> = ["format", "version", "excluded_notes", "removed_tags", "languages", "domain",
                                  "domain_confirmed", "consent_public", "special_category_confirmed"]
        let unknown = Set(object.keys).subtracting(known).sorted()
        guard unknown.isEmpty else { throw Invalid("unknown key(s) \(unknown.joined(separator: ", "))") }
        if let format = object["format"], format as? String != Self.format {
            throw Invalid("\"format\" must be \"\(Self.format)\"")
        }
        if let version = object["version"], (version as? NSNumber)?.intValue != Self.version {
            throw Invalid("\"version\" must be \(Self.version)")
        }
        if let ids = object["excluded_notes"] {
            guard let list = ids as? [NSNumber] else { throw Invalid("\"excluded_notes\" must be a list of note ids") }
            for id in list {
                guard let exact = Int64(exactly: id.doubleValue), exact > 0, id.stringValue == String(exact) else {
                    throw Invalid("\"excluded_notes\" must hold whole positive note ids")
                }
                excludedNotes.insert(id.int64Value)
            }
        }
        if let tags = object["removed_tags"] {
            guard let list = tags as? [String] else { throw Invalid("\"removed_tags\" must be a list of tags") }
            removedTags = list
        }
        if let codes = object["languages"] {
            guard let list = codes as? [String] else { throw Invalid("\"languages\" must be a list of ISO 639 codes") }
            languages = try Self.canonicalLanguages(list, list: languageList)
        }
        if let domain = object["domain"] {
            guard let text = domain as? String else { throw Invalid("\"domain\" must be text") }
            self.domain = text
        }
        if let confirmed = object["domain_confirmed"] {
            guard let flag = confirmed as? Bool else { throw Invalid("\"domain_confirmed\" must be true or false") }
            domainConfirmed = flag
        }
        if let consent = object["consent_public"], !(consent is NSNull) {
            guard let flag = consent as? Bool else { throw Invalid("\"consent_public\" must be true or false") }
            consentPublic = flag
        }
        if let confirmed = object["special_category_confirmed"] {
            guard let flag = confirmed as? Bool else { throw Invalid("\"special_category_confirmed\" must be true or false") }
            specialCategoryConfirmed = flag
        }
    }

    /// Canonical codes for what was typed; unknown codes are an error naming them.
    public static func canonicalLanguages(_ codes: [String], list: LanguageList) throws -> [String] {
        var result: [String] = []
        for code in codes {
            guard let canonical = list.canonical(code) else {
                throw Invalid("\"\(code)\" is not an ISO 639 language code (e.g. de, en, es, ja)")
            }
            if !result.contains(canonical) { result.append(canonical) }
        }
        return result
    }

    /// The JSON a decisions file holds (stable key order, for saving and diffing).
    public func json() -> Data {
        var object: [String: Any] = [
            "format": Self.format, "version": Self.version,
            "excluded_notes": excludedNotes.sorted(), "removed_tags": removedTags,
            "languages": languages, "domain": domain, "domain_confirmed": domainConfirmed,
            "special_category_confirmed": specialCategoryConfirmed,
        ]
        object["consent_public"] = consentPublic.map { $0 as Any } ?? NSNull()
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) ?? Data()
    }

    /// Adds command-line choices to these (lists are merged; scalars given on the command line win).
    public mutating func merge(excludedNotes more: [Int64], removedTags tags: [String], languages codes: [String],
                               domain text: String?, consentPublic consent: Bool?) {
        excludedNotes.formUnion(more)
        for tag in tags where !removedTags.contains(tag) { removedTags.append(tag) }
        for code in codes where !languages.contains(code) { languages.append(code) }
        if let text { domain = text }
        if let consent { consentPublic = consent }
    }
}
