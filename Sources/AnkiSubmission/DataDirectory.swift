import Foundation

/// Finds the folder that holds `Config/` and `Wordlists/` (data too large to compile into the binary).
/// Order: an explicit `--data-dir`, `$ANKI_SUBMIT_DATA`, `<prefix>/share/anki-submit` beside an installed
/// binary, then the folders above the executable (a build inside the source tree), then the working folder.
public struct DataDirectory: Sendable {
    public let url: URL

    public init(url: URL) { self.url = url }

    public var config: URL { url.appendingPathComponent("Config", isDirectory: true) }
    public var wordlists: URL { url.appendingPathComponent("Wordlists", isDirectory: true) }

    public struct NotFound: Error, CustomStringConvertible {
        public let searched: [String]
        public var description: String {
            "Could not find anki-submit's data folder (with Config/ and Wordlists/); looked in: "
                + searched.joined(separator: ", ") + ". Pass --data-dir or set ANKI_SUBMIT_DATA."
        }
    }

    public static func locate(explicit: String? = nil) throws -> DataDirectory {
        var candidates: [URL] = []
        if let explicit { candidates.append(URL(fileURLWithPath: explicit)) }
        if let env = ProcessInfo.processInfo.environment["ANKI_SUBMIT_DATA"], !env.isEmpty {
            candidates.append(URL(fileURLWithPath: env))
        }
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        var dir = executable.deletingLastPathComponent()
        candidates.append(dir.deletingLastPathComponent().appendingPathComponent("share/anki-submit"))
        for _ in 0..<6 {
            candidates.append(dir)
            dir = dir.deletingLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        for candidate in candidates
        where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("Config/policy.json").path) {
            return DataDirectory(url: candidate)
        }
        if explicit != nil { throw NotFound(searched: [explicit!]) }
        throw NotFound(searched: candidates.map(\.path))
    }
}

/// ISO 639 languages the survey accepts (`Config/languages.tsv`): two-letter ISO 639-1 codes where a
/// language has one, else three-letter ISO 639-3 codes.
public struct LanguageList: Sendable {
    public struct Language: Sendable, Equatable {
        public let alpha2: String?
        public let alpha3: String
        public let name: String
        /// The language's name in itself ("Deutsch", "日本語"), when CLDR has one.
        public var ownName: String? = nil
        /// 1 for the most spoken language, 2 for the next...; 0 for the others.
        public var rank = 0
        /// The code stored in submissions: alpha-2 when it exists.
        public var code: String { alpha2 ?? alpha3 }
    }

    public let languages: [Language]
    private let byCode: [String: Int]

    public init(tsv: String) {
        var list: [Language] = []
        var index: [String: Int] = [:]
        for line in tsv.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 || parts.count == 5 else { continue }
            var language = Language(alpha2: parts[0].isEmpty ? nil : parts[0], alpha3: parts[1], name: parts[2])
            if parts.count == 5 {
                language.ownName = parts[3].isEmpty ? nil : parts[3]
                language.rank = Int(parts[4]) ?? 0
            }
            index[language.alpha3] = list.count
            if let a2 = language.alpha2 { index[a2] = list.count }
            list.append(language)
        }
        languages = list
        byCode = index
    }

    public static func load(from data: DataDirectory) throws -> LanguageList {
        let url = data.config.appendingPathComponent("languages.tsv")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw DataDirectory.NotFound(searched: [url.path])
        }
        return LanguageList(tsv: text)
    }

    /// The canonical code for what a participant typed (`DE`, `deu`, `de`), or nil when unknown.
    public func canonical(_ code: String) -> String? {
        byCode[code.lowercased().trimmingCharacters(in: .whitespaces)].map { languages[$0].code }
    }
}
