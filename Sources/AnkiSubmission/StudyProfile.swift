import Foundation

/// The study a participant donates to, as the researcher describes it in a small versioned JSON file
/// (`--study FILE`; example and schema in `Config/study.example.json`, `Config/study.schema.json`):
/// its name and contact (shown wherever something goes wrong, instead of "please report this" with
/// nowhere to report), where submissions and withdrawals go, the texts participants read, per
/// language, and the policy version the study expects. Unknown keys are an error at every level, so a
/// typo never silently drops a text or a URL. Nothing here is secret; every value is shown to
/// participants as plain text (never as HTML).
public struct StudyProfile: Sendable, Equatable {
    public static let format = "anki-submit-study"
    public static let supportedVersion = 1

    public struct Texts: Sendable, Equatable {
        /// What the study is about and what happens with the data.
        public var information: String
        /// What the participant agrees to by sending.
        public var consent: String
    }

    public var name: String
    public var contact: String
    public var intakeURL: URL?
    public var withdrawalURL: URL?
    public var policyVersion: Int
    /// Languages offered, in the study's order of preference (ISO 639 codes).
    public var languages: [String]
    /// Texts per offered language.
    public var texts: [String: Texts]

    /// "Name (contact)", for messages.
    public var contactLine: String { "\(name) (\(contact))" }

    /// The texts in the first of `preferred` the study offers, else in its first language.
    public func texts(for preferred: [String]) -> (language: String, texts: Texts) {
        for language in preferred {
            let lower = language.lowercased()
            let base = String(lower.prefix { $0 != "-" && $0 != "_" })
            if let texts = texts[lower] { return (lower, texts) }
            if let texts = texts[base] { return (base, texts) }
        }
        let first = languages[0]
        return (first, texts[first]!)
    }

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public static let maxFileBytes = 256 * 1024

    public static func load(_ url: URL) throws -> StudyProfile {
        var info = stat()
        guard stat(url.path, &info) == 0 else { throw Invalid("the study profile \(url.path) does not exist") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw Invalid("the study profile \(url.path) is not a regular file") }
        guard info.st_size <= maxFileBytes else {
            throw Invalid("the study profile \(url.path) is larger than \(maxFileBytes / 1024) KiB")
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw Invalid("the study profile \(url.path) cannot be read")
        }
        do { return try StudyProfile(json: data) } catch let error as Invalid {
            throw Invalid("the study profile \(url.path): \(error.description)")
        }
    }

    public init(json data: Data) throws {
        guard data.count <= Self.maxFileBytes else { throw Invalid("larger than \(Self.maxFileBytes / 1024) KiB") }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw Invalid("not a JSON object")
        }
        try Self.onlyKeys(root, ["format", "version", "name", "contact", "intake_url", "withdrawal_url",
                                  "policy_version", "languages", "texts"], in: "the profile")
        guard root["format"] as? String == Self.format else { throw Invalid("\"format\" must be \"\(Self.format)\"") }
        guard let version = Self.integer(root["version"]) else { throw Invalid("\"version\" must be a number") }
        guard version == Self.supportedVersion else {
            throw Invalid("version \(version); this tool reads version \(Self.supportedVersion)")
        }
        name = try Self.text(root["name"], "name", limit: 200)
        contact = try Self.text(root["contact"], "contact", limit: 200)
        intakeURL = try Self.url(root["intake_url"], "intake_url")
        withdrawalURL = try Self.url(root["withdrawal_url"], "withdrawal_url")
        guard let policy = Self.integer(root["policy_version"]), policy >= 1 else {
            throw Invalid("\"policy_version\" must be a positive number")
        }
        policyVersion = policy
        guard let languages = root["languages"] as? [Any], !languages.isEmpty, languages.count <= 50 else {
            throw Invalid("\"languages\" must be a list of 1 to 50 language codes")
        }
        var offered: [String] = []
        for item in languages {
            guard let code = item as? String, Self.isLanguageCode(code) else {
                throw Invalid("\"languages\" holds something that is not an ISO 639 code (like \"en\" or \"de\")")
            }
            guard !offered.contains(code) else { throw Invalid("\"languages\" names \(code) twice") }
            offered.append(code)
        }
        self.languages = offered
        guard let textsObject = root["texts"] as? [String: Any] else {
            throw Invalid("\"texts\" must be an object with one entry per language")
        }
        var texts: [String: Texts] = [:]
        for (language, value) in textsObject {
            guard offered.contains(language) else {
                throw Invalid("\"texts\" has an entry for \(Self.printable(language)), which \"languages\" does not offer")
            }
            guard let entry = value as? [String: Any] else { throw Invalid("\"texts\".\(language) must be an object") }
            try Self.onlyKeys(entry, ["information", "consent"], in: "\"texts\".\(language)")
            texts[language] = Texts(
                information: try Self.text(entry["information"], "texts.\(language).information", limit: 20_000, multiline: true),
                consent: try Self.text(entry["consent"], "texts.\(language).consent", limit: 20_000, multiline: true))
        }
        for language in offered where texts[language] == nil {
            throw Invalid("\"texts\" has no entry for the offered language \(language)")
        }
        self.texts = texts
    }

    /// The profile as the page receives it (plain values; the page inserts them as text).
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "name": name, "contact": contact, "policy_version": policyVersion, "languages": languages,
            "texts": texts.mapValues { ["information": $0.information, "consent": $0.consent] },
        ]
        if let intakeURL { object["intake_url"] = intakeURL.absoluteString }
        if let withdrawalURL { object["withdrawal_url"] = withdrawalURL.absoluteString }
        return object
    }

    // MARK: - Checks

    private static func onlyKeys(_ object: [String: Any], _ allowed: Set<String>, in place: String) throws {
        let unknown = object.keys.filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw Invalid("unknown key\(unknown.count == 1 ? "" : "s") in \(place): "
                          + unknown.prefix(5).map { "\"\(printable($0))\"" }.joined(separator: ", "))
        }
    }

    private static func integer(_ value: Any?) -> Int? {
        guard let value, type(of: value) != Bool.self, let number = value as? NSNumber,
              String(cString: number.objCType) != "c" else { return nil }
        let double = number.doubleValue
        guard double == double.rounded(), abs(double) < 1e9 else { return nil }
        return Int(double)
    }

    private static func text(_ value: Any?, _ key: String, limit: Int, multiline: Bool = false) throws -> String {
        guard let text = value as? String else { throw Invalid("\"\(key)\" must be text") }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw Invalid("\"\(key)\" is empty") }
        guard trimmed.count <= limit else { throw Invalid("\"\(key)\" is longer than \(limit) characters") }
        let control = trimmed.unicodeScalars.contains {
            $0.properties.generalCategory == .control && !(multiline && ($0 == "\n" || $0 == "\t"))
        }
        guard !control else { throw Invalid("\"\(key)\" holds control characters") }
        return trimmed
    }

    private static func url(_ value: Any?, _ key: String) throws -> URL? {
        guard let value else { return nil }
        guard let text = value as? String, text.count <= 2000, let url = URL(string: text),
              let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http",
              let host = url.host, !host.isEmpty, url.user == nil, url.password == nil
        else {
            throw Invalid("\"\(key)\" must be an http(s) address without user name or password")
        }
        return url
    }

    static func isLanguageCode(_ code: String) -> Bool {
        (2...3).contains(code.unicodeScalars.count) && code.unicodeScalars.allSatisfy { (97...122).contains($0.value) }
    }

    static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(40).map {
            $0.properties.generalCategory == .control ? "?" : $0
        }))
    }
}
