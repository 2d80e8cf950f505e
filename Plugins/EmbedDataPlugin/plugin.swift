import Foundation
import PackagePlugin

/// Compiles the data the program reads at run time (Config/ and Wordlists/) into AnkiEmbeddedData, or
/// the commit the build comes from into AnkiBuildInfo. The list of files is taken from the source tree
/// at every build, and every file is an input of the generating command, so the embedded copy is
/// regenerated whenever a file changes, appears or goes (never stale).
@main
struct EmbedDataPlugin: BuildToolPlugin {
    /// What the program reads: `DataDirectory.embeddedExtensions` must agree (a test checks it).
    static let folders = ["Config", "Wordlists"]
    static let extensions: Set<String> = ["txt", "json", "tsv"]

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        var relative: [String] = []
        for folder in Self.folders {
            let base = root.appendingPathComponent(folder, isDirectory: true)
            guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else {
                throw PluginError("cannot list \(base.path)")
            }
            for case let url as URL in walker where Self.extensions.contains(url.pathExtension) {
                let path = url.standardizedFileURL.path
                let prefix = root.standardizedFileURL.path + "/"
                guard path.hasPrefix(prefix) else { continue }
                relative.append(String(path.dropFirst(prefix.count)))
            }
        }
        relative.sort()
        let tool = try context.tool(named: "AnkiEmbedDataTool").url
        let work = context.pluginWorkDirectoryURL
        if target.name == "AnkiBuildInfo" {
            // The commit is an argument: the command runs again when it changes.
            let infoOutput = work.appendingPathComponent("GeneratedBuildInfo.swift")
            return [.buildCommand(
                displayName: "Recording the build's commit",
                executable: tool,
                arguments: ["build-info", infoOutput.path, Self.commit(packageRoot: root)],
                inputFiles: [],
                outputFiles: [infoOutput])]
        }
        let dataOutput = work.appendingPathComponent("GeneratedFiles.swift")
        return [.buildCommand(
            displayName: "Embedding \(relative.count) data files",
            executable: tool,
            arguments: ["files", root.path, dataOutput.path] + relative,
            inputFiles: relative.map { root.appendingPathComponent($0) },
            outputFiles: [dataOutput])]
    }

    /// The checked-out commit, read from the git metadata (no git binary needed); "unknown" outside
    /// a git checkout (a source tarball).
    static func commit(packageRoot: URL) -> String {
        let fm = FileManager.default
        var gitDir = packageRoot.appendingPathComponent(".git")
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: gitDir.path, isDirectory: &isFolder) else { return "unknown" }
        if !isFolder.boolValue {
            // A worktree or submodule: ".git" is a file "gitdir: <path>".
            guard let text = try? String(contentsOf: gitDir, encoding: .utf8),
                  let line = text.split(separator: "\n").first, line.hasPrefix("gitdir: ") else { return "unknown" }
            let target = String(line.dropFirst("gitdir: ".count))
            gitDir = target.hasPrefix("/") ? URL(fileURLWithPath: target) : packageRoot.appendingPathComponent(target)
        }
        func read(_ url: URL) -> String? {
            (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let head = read(gitDir.appendingPathComponent("HEAD")) else { return "unknown" }
        guard head.hasPrefix("ref: ") else { return Self.validHash(head) ?? "unknown" }
        let ref = String(head.dropFirst("ref: ".count))
        var common = gitDir
        if let commonDir = read(gitDir.appendingPathComponent("commondir")) {
            common = commonDir.hasPrefix("/") ? URL(fileURLWithPath: commonDir) : gitDir.appendingPathComponent(commonDir)
        }
        for dir in [gitDir, common] {
            if let hash = read(dir.appendingPathComponent(ref)).flatMap(Self.validHash) { return hash }
        }
        if let packed = try? String(contentsOf: common.appendingPathComponent("packed-refs"), encoding: .utf8) {
            for line in packed.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, parts[1] == ref, let hash = Self.validHash(String(parts[0])) { return hash }
            }
        }
        return "unknown"
    }

    static func validHash(_ text: String) -> String? {
        text.count == 40 && text.allSatisfy(\.isHexDigit) ? text.lowercased() : nil
    }
}

struct PluginError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
