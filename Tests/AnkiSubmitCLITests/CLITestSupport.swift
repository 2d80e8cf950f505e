import Foundation
import Testing

/// Runs the built `anki-submit` binary the way a participant would: in its own working folder, with
/// its own TMPDIR, so the tests can see everything it writes.
struct CLI {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let generated = root.appendingPathComponent("Tests/Fixtures/generated")
    static let hostile = root.appendingPathComponent("Tests/Fixtures/hostile")

    /// The built binary beside the tests (or `ANKI_SUBMIT_TEST_BINARY`, to run the tests against another build).
    static let binary: URL = {
        if let other = ProcessInfo.processInfo.environment["ANKI_SUBMIT_TEST_BINARY"] { return URL(fileURLWithPath: other) }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("anki-submit")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return root.appendingPathComponent(".build/debug/anki-submit")
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// What was left in the run's TMPDIR and working folder afterwards.
        var leftInTemp: [String]
        var leftInWorkingDirectory: [String]
    }

    let temp: URL
    let cwd: URL

    init() throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("anki-cli-\(UUID().uuidString)")
        temp = base.appendingPathComponent("tmp")
        cwd = base.appendingPathComponent("cwd")
        for dir in [temp, cwd] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
    }

    func cleanUp() { try? FileManager.default.removeItem(at: temp.deletingLastPathComponent()) }

    func process(_ arguments: [String]) -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = cwd
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = temp.path
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        return (process, out, err)
    }

    func run(_ arguments: [String]) throws -> Result {
        let (process, out, err) = process(arguments)
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return result(process, stdout, stderr)
    }

    func result(_ process: Process, _ stdout: Data, _ stderr: Data) -> Result {
        let list = { (url: URL) in ((try? FileManager.default.subpathsOfDirectory(atPath: url.path)) ?? []).sorted() }
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self), leftInTemp: list(temp),
                      leftInWorkingDirectory: list(cwd))
    }
}
