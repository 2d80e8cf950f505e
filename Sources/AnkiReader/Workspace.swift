import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private temporary folder (mode 0700, under the system temp folder) that holds the unpacked copy
/// of a participant's collection. It is removed when `remove()` is called, when the object goes away,
/// and when the process is interrupted (SIGINT, SIGTERM, SIGHUP) once `Workspace.installSignalCleanup()`
/// has run.
public final class Workspace: @unchecked Sendable {
    public let url: URL
    private let lock = NSLock()
    private var removed = false

    /// Creates a new folder under `parent` (default: the system temp folder, honouring `TMPDIR`).
    public init(parent: URL? = nil) throws {
        let base = parent ?? URL(fileURLWithPath: NSTemporaryDirectory(), isDirectory: true)
        var template = Array(base.appendingPathComponent("anki-submit-XXXXXX").path.utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else {
            throw ReaderError(.workspaceFailure,
                              "Could not create a temporary folder in \(base.path) (\(String(cString: strerror(errno)))).")
        }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        url = URL(fileURLWithPath: path, isDirectory: true)
        WorkspaceRegistry.shared.add(path)
    }

    deinit { remove() }

    /// A path inside the workspace for a file named `name` (a plain name, never a path).
    public func file(_ name: String) -> URL {
        precondition(!name.contains("/") && name != ".." && name != ".", "workspace file names are plain names")
        return url.appendingPathComponent(name, isDirectory: false)
    }

    /// Deletes the folder and everything in it. Safe to call more than once.
    public func remove() {
        lock.lock()
        defer { lock.unlock() }
        guard !removed else { return }
        removed = true
        WorkspaceRegistry.shared.removeTree(url.path)
        WorkspaceRegistry.shared.forget(url.path)
    }

    /// Installs handlers so that an interrupted run removes every live workspace before exiting with
    /// 128 + the signal number (130 for Ctrl-C). Idempotent.
    public static func installSignalCleanup() {
        WorkspaceRegistry.shared.installHandlers()
    }

    /// Registers a file being written outside a workspace (a partial output) so that an interruption
    /// removes it too, with its SQLite side files.
    public static func trackTemporaryFile(_ path: String) {
        WorkspaceRegistry.shared.addFile(path)
    }

    /// The file is complete (or already removed): stop tracking it.
    public static func untrackTemporaryFile(_ path: String) {
        WorkspaceRegistry.shared.forgetFile(path)
    }
}

/// The live workspaces of this process, reachable from a signal handler.
final class WorkspaceRegistry: @unchecked Sendable {
    static let shared = WorkspaceRegistry()

    private let lock = NSLock()
    private var paths: Set<String> = []
    private var files: Set<String> = []
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "anki-submit.signals")

    func add(_ path: String) {
        lock.lock(); paths.insert(path); lock.unlock()
    }

    func forget(_ path: String) {
        lock.lock(); paths.remove(path); lock.unlock()
    }

    func addFile(_ path: String) {
        lock.lock(); files.insert(path); lock.unlock()
    }

    func forgetFile(_ path: String) {
        lock.lock(); files.remove(path); lock.unlock()
    }

    func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    func removeAll() {
        lock.lock()
        let all = paths
        let partial = files
        paths.removeAll()
        files.removeAll()
        lock.unlock()
        for path in all { removeTree(path) }
        for path in partial {
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(path + suffix) }
        }
    }

    func installHandlers() {
        lock.lock()
        defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { [weak self] in
                self?.removeAll()
                let message = sig == SIGINT
                    ? "Interrupted; temporary files were removed.\n"
                    : "Stopped by signal \(sig); temporary files were removed.\n"
                FileHandle.standardError.write(Data(message.utf8))
                _exit(128 + sig)
            }
            source.resume()
            sources.append(source)
        }
        atexit { WorkspaceRegistry.shared.removeAll() }
    }
}
