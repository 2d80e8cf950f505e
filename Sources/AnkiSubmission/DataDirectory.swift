import AnkiEmbeddedData
import Foundation

/// Where `Config/` and `Wordlists/` are read from: by default the copy compiled into the program
/// (`EmbeddedFiles`, regenerated from the source tree at every build), so that the executable needs
/// no folder beside it. For development, a folder given with `--data-dir` or `$ANKI_SUBMIT_DATA`
/// replaces it (it must hold `Config/policy.json`, `Config/` and `Wordlists/`).
public struct DataDirectory: Sendable {
    /// The folder read from, or nil for the embedded copy.
    public let url: URL?

    public init(url: URL) { self.url = url }
    private init() { url = nil }

    /// The copy compiled into the program.
    public static let embedded = DataDirectory()

    /// The file extensions that are embedded (the EmbedDataPlugin's list; a test keeps them equal).
    public static let embeddedExtensions: Set<String> = ["txt", "json", "tsv"]

    public struct NotFound: Error, CustomStringConvertible {
        public let searched: [String]
        public var description: String {
            "Could not find anki-submit's data folder (with Config/ and Wordlists/); looked in: "
                + searched.joined(separator: ", ") + ". Pass --data-dir or set ANKI_SUBMIT_DATA, or leave both out "
                + "to use the data built into the program."
        }
    }

    /// The folder from `--data-dir` (`explicit`), else from `$ANKI_SUBMIT_DATA`, else the embedded copy.
    /// A folder that was asked for but does not hold the data is an error, never silently replaced.
    public static func locate(explicit: String? = nil,
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DataDirectory {
        let asked = explicit ?? environment["ANKI_SUBMIT_DATA"].flatMap { $0.isEmpty ? nil : $0 }
        guard let asked else { return .embedded }
        let folder = URL(fileURLWithPath: asked)
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("Config/policy.json").path) else {
            throw NotFound(searched: [folder.path])
        }
        return DataDirectory(url: folder)
    }

    /// The contents of `path` (relative, like "Config/languages.tsv"), or nil when it does not exist.
    public func contents(_ path: String) -> Data? {
        guard let url else { return EmbeddedFiles.contents(path).map { Data($0) } }
        return FileManager.default.contents(atPath: url.appendingPathComponent(path).path)
    }

    /// Whether `path` (relative) exists.
    public func exists(_ path: String) -> Bool {
        guard let url else { return EmbeddedFiles.contents(path) != nil }
        return FileManager.default.fileExists(atPath: url.appendingPathComponent(path).path)
    }

    /// How `path` is named in messages: its full path in a folder, "(built in) path" for the embedded copy.
    public func describe(_ path: String) -> String {
        url.map { $0.appendingPathComponent(path).path } ?? "(built in) \(path)"
    }
}

/// The folder the running executable is in (symbolic links resolved), for files shipped next to it
/// in the download (a study profile, say): `fileNextToExecutable("study.json")`.
public enum ExecutableLocation {
    /// The executable's folder, or nil when the system does not say.
    public static func folder() -> URL? {
        #if os(Linux)
        // /proc/self/exe is the file actually running, whatever argv[0] and the working folder are.
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path).deletingLastPathComponent()
        }
        #endif
        // macOS and Windows: Foundation asks the system (_NSGetExecutablePath, GetModuleFileNameW).
        return Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// `name` in the executable's folder when such a regular file exists there, else nil.
    public static func fileNextToExecutable(_ name: String) -> URL? {
        guard let url = folder()?.appendingPathComponent(name) else { return nil }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue else { return nil }
        return url
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
        let path = "Config/languages.tsv"
        guard let bytes = data.contents(path), let text = String(data: bytes, encoding: .utf8) else {
            throw DataDirectory.NotFound(searched: [data.describe(path)])
        }
        return LanguageList(tsv: text)
    }

    /// The canonical code for what a participant typed (`DE`, `deu`, `de`), or nil when unknown.
    public func canonical(_ code: String) -> String? {
        byCode[code.lowercased().trimmingCharacters(in: .whitespaces)].map { languages[$0].code }
    }
}
