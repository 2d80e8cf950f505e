import AnkiBuildInfo
import AnkiReader
import AnkiPipeline
import AnkiSubmission
import ArgumentParser
import Foundation

@main
struct AnkiSubmit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anki-submit",
        abstract: "Donate your Anki review data to research, anonymized on your own machine.",
        discussion: """
            Exit codes:
              0  success
              1  other error
              64  wrong command-line usage
            \(ReaderError.exitCodeTable)
            \(PrepareError.Code.allCases.map { "  \($0.rawValue)  \($0.summary)" }.joined(separator: "\n"))
            """,
        version: AnkiSubmitVersion.text,
        subcommands: [Inspect.self, Prepare.self, Audit.self, Research.self, Scan.self]
    )
}

enum AnkiSubmitVersion {
    /// The release (`make dist` names the archive after it; submissions record it as tool_version).
    static let current = "0.1.0"

    /// What `--version` prints: the release, the commit built from, the data policy applied.
    static var text: String {
        "anki-submit \(current)\ncommit \(BuildInfo.commit)\ndata policy version \(Policy.standard.version)"
    }
}

/// Options shared by every command that opens a participant's file.
struct ReaderOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Most bytes a package may unpack to, e.g. 32G or 512M.", valueName: "size"))
    var maxUnpackedSize: String = "32G"

    @Option(name: .long, help: ArgumentHelp(
        "Most an entry may expand compared to its packed size (zip-bomb guard).", valueName: "ratio"))
    var maxRatio: UInt64 = ReaderLimits.default.maxCompressionRatio

    func validate() throws {
        guard ReaderLimits.parseSize(maxUnpackedSize) != nil else {
            throw ValidationError("--max-unpacked-size takes a size such as 32G, 512M or 1048576.")
        }
        guard maxRatio > 0 else { throw ValidationError("--max-ratio must be at least 1.") }
    }

    var limits: ReaderLimits {
        var limits = ReaderLimits.default
        limits.maxUnpackedBytes = ReaderLimits.parseSize(maxUnpackedSize) ?? limits.maxUnpackedBytes
        limits.maxCompressionRatio = maxRatio
        return limits
    }
}

/// Opens a participant's file with cleanup on every path, and turns reader errors into one line on
/// stderr plus the documented exit code.
func withCollection<T>(_ path: String, options: ReaderOptions, _ body: (AnkiCollection) throws -> T) throws -> T {
    Workspace.installSignalCleanup()
    let url = URL(fileURLWithPath: path)
    do {
        let collection = try AnkiCollection.open(url, limits: options.limits)
        defer { collection.close() }
        return try body(collection)
    } catch let error as ReaderError {
        FileHandle.standardError.write(Data("anki-submit: \(error.message)\n".utf8))
        throw ExitCode(error.exitCode)
    }
}
