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
        // Held for the workspace's life: a later run's sweep sees that this folder is in use.
        lockDescriptor = open(path + "/" + Self.lockName, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if lockDescriptor >= 0 { flock(lockDescriptor, LOCK_EX) }
        WorkspaceRegistry.shared.add(path)
        WorkspaceRegistry.shared.sweepOnce(base.path)
    }

    /// The name of the empty file whose lock marks a workspace as in use.
    static let lockName = ".in-use"
    private var lockDescriptor: Int32 = -1

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
        if lockDescriptor >= 0 { close(lockDescriptor) }
        lockDescriptor = -1
    }

    /// Installs handlers so that an interrupted run removes every live workspace before exiting with
    /// 128 + the signal number (130 for Ctrl-C). Idempotent.
    public static func installSignalCleanup() {
        WorkspaceRegistry.shared.installHandlers()
    }

    /// Registers a file being written outside a workspace (a partial output) so that an interruption
    /// removes it too, with its SQLite side files.
    public static func trackTemporaryFile(_ path: String) {
        WorkspaceRegistry.shared.addFile(path, descriptor: -1)
    }

    /// The file is complete (or already removed): stop tracking it (and release its lock, if
    /// `createPartialFile` made it).
    public static func untrackTemporaryFile(_ path: String) {
        WorkspaceRegistry.shared.forgetFile(path)
    }

    /// Creates a new, empty file `.<stem>-XXXXXXXX.partial` (8 random hex digits) in `folder` for output
    /// that is renamed into place when complete: never through a link and never over an existing file
    /// (`O_CREAT|O_EXCL|O_NOFOLLOW`), mode 0600, locked (`flock`) while this process lives so that a later
    /// run's sweep leaves it alone, and removed on interruption. Returns its path and an open descriptor
    /// (write-only), which stays valid until `untrackTemporaryFile`. Throws the `errno` on failure.
    public static func createPartialFile(in folder: URL, stem: String) throws(PartialFileError) -> (url: URL, descriptor: Int32) {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<16 {
            let suffix = String(format: "%08X", UInt32.random(in: 0...UInt32.max, using: &generator))
            let url = folder.appendingPathComponent(".\(stem)-\(suffix).partial", isDirectory: false)
            let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd < 0 {
                if errno == EEXIST { continue }
                throw PartialFileError(errno: errno)
            }
            flock(fd, LOCK_EX)
            fchmod(fd, 0o600)
            WorkspaceRegistry.shared.addFile(url.path, descriptor: fd)
            return (url, fd)
        }
        throw PartialFileError(errno: EEXIST)
    }

    /// Removes what a run of this tool that was killed (`kill -9`, power loss) left in `folder`: only
    /// regular files with the names `createPartialFile` gives (and their SQLite side files), owned by this
    /// user, not locked by a live process and unchanged for a few seconds. Links are never followed,
    /// anything else is left alone. Returns how many files went.
    @discardableResult
    public static func sweepAbandonedPartialFiles(in folder: URL) -> Int {
        StaleSweeper.sweepPartials(in: folder.path)
    }
}

/// Why a partial output file could not be created.
public struct PartialFileError: Error, Sendable {
    public let errno: Int32
    public init(errno: Int32) { self.errno = errno }
    /// "disk full", "not writable", ...: the reason in plain words.
    public var reason: String { StaleSweeper.reason(errno) }
}

/// Finds and removes what earlier, killed runs left behind. Everything it removes it recognises by
/// name, owner and type, and only when no live process holds its lock.
enum StaleSweeper {
    /// Files changed this recently are never judged abandoned (a run may be between creating and locking).
    static let minimumAge: time_t = 2
    /// A workspace without a lock file (made by a version before the lock) must be this old.
    static let unlockedWorkspaceAge: time_t = 86400

    static func reason(_ code: Int32) -> String {
        switch code {
        case ENOSPC, EDQUOT: return "disk full"
        case EACCES, EPERM, EROFS: return "not writable"
        case EISDIR: return "a folder is in the way"
        case ELOOP, EMLINK: return "a link is in the way"
        case ENOENT, ENOTDIR: return "the folder does not exist"
        default: return String(cString: strerror(code))
        }
    }

    static func isPartialName(_ name: String) -> Bool {
        name.range(of: #"^\.anki-submi(ssion|t-token)-[0-9A-F]{8}\.partial$"#, options: .regularExpression) != nil
    }

    /// A regular file (not a link) owned by this user, unchanged for `age` seconds.
    static func ownedRegularFile(_ path: String, olderThan age: time_t) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid() else { return false }
        return time(nil) - info.st_mtim.tv_sec >= age
    }

    /// True when nobody holds `path`'s lock (the file is opened without following a link).
    static func unlocked(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid() else { return false }
        return flock(fd, LOCK_EX | LOCK_NB) == 0
    }

    static func sweepPartials(in folder: String) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return 0 }
        var removed = 0
        for name in names where isPartialName(name) {
            let path = folder + "/" + name
            guard ownedRegularFile(path, olderThan: minimumAge), unlocked(path) else { continue }
            for suffix in ["-wal", "-shm", "-journal"] where ownedRegularFile(path + suffix, olderThan: 0) {
                if unlink(path + suffix) == 0 { removed += 1 }
            }
            if unlink(path) == 0 { removed += 1 }
        }
        return removed
    }

    /// Removes abandoned workspaces (`anki-submit-XXXXXX`) in `folder`: real folders owned by this user,
    /// private (mode 0700), whose lock file nobody holds, or without one and a day old.
    static func sweepWorkspaces(in folder: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.range(of: #"^anki-submit-[A-Za-z0-9]{6}$"#, options: .regularExpression) != nil {
            let path = folder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == geteuid(),
                  info.st_mode & 0o077 == 0 else { continue }
            let lock = path + "/" + Workspace.lockName
            var lockInfo = stat()
            if lstat(lock, &lockInfo) == 0 {
                guard time(nil) - info.st_mtim.tv_sec >= minimumAge, unlocked(lock) else { continue }
            } else {
                guard time(nil) - info.st_mtim.tv_sec >= unlockedWorkspaceAge else { continue }
            }
            WorkspaceRegistry.shared.removeTree(path)
        }
    }
}

/// The live workspaces of this process, reachable from a signal handler.
final class WorkspaceRegistry: @unchecked Sendable {
    static let shared = WorkspaceRegistry()

    private let lock = NSLock()
    private var paths: Set<String> = []
    /// Partial output files and the descriptor that holds each one's lock (-1: none).
    private var files: [String: Int32] = [:]
    private var swept: Set<String> = []
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "anki-submit.signals")

    func add(_ path: String) {
        lock.lock(); paths.insert(path); lock.unlock()
    }

    func forget(_ path: String) {
        lock.lock(); paths.remove(path); lock.unlock()
    }

    func addFile(_ path: String, descriptor: Int32) {
        lock.lock(); files[path] = descriptor; lock.unlock()
    }

    func forgetFile(_ path: String) {
        lock.lock()
        let descriptor = files.removeValue(forKey: path)
        lock.unlock()
        if let descriptor, descriptor >= 0 { close(descriptor) }
    }

    /// Sweeps abandoned workspaces from `folder` once per process.
    func sweepOnce(_ folder: String) {
        lock.lock()
        let first = swept.insert(folder).inserted
        lock.unlock()
        if first { StaleSweeper.sweepWorkspaces(in: folder) }
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
        for path in partial.keys {
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
