import Foundation
import GRDB

/// The working dataset: one SQLite file (schema `Schemas/dataset.sql`) plus, while a command writes
/// to it, an exclusive lock on `<dataset>.lock`. Deleted rows are overwritten (`secure_delete`), and
/// every commit is flushed to disk (`synchronous = FULL`).
public final class Dataset {
    public let url: URL
    let queue: DatabaseQueue
    private let lock: DatasetLock?

    public enum Mode: Sendable {
        /// Reading only, without the lock (stats).
        case read
        /// Read and write under the lock; the file must exist.
        case write
        /// Read and write under the lock; created when missing.
        case create
    }

    public static func open(_ url: URL, mode: Mode, command: String) throws -> Dataset {
        let lock = mode == .read ? nil : try DatasetLock(dataset: url, command: command)
        let exists = FileManager.default.fileExists(atPath: url.path)
        if !exists && mode != .create {
            throw ResearchError(.dataset, "There is no dataset at \(url.path) (`research ingest` creates it).")
        }
        var config = Configuration()
        config.label = "anki-submit.dataset"
        // Even `stats` opens read-write (it never writes): a run killed mid-transaction leaves a hot
        // journal that only a read-write connection can roll back before reading.
        config.readonly = false
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            try db.execute(sql: """
                PRAGMA secure_delete = ON;
                PRAGMA trusted_schema = OFF;
                PRAGMA temp_store = MEMORY;
                PRAGMA cache_size = -32768;
                """)
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: url.path, configuration: config)
        } catch {
            throw ResearchError(.dataset, "Cannot open the dataset \(url.path).")
        }
        let dataset = Dataset(url: url, queue: queue, lock: lock)
        try dataset.prepare(create: !exists)
        return dataset
    }

    private init(url: URL, queue: DatabaseQueue, lock: DatasetLock?) {
        self.url = url
        self.queue = queue
        self.lock = lock
    }

    public func close() {
        try? queue.close()
    }

    private func prepare(create: Bool) throws {
        do {
            if create {
                try queue.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA journal_mode = DELETE")
                    try db.inTransaction {
                        try db.execute(sql: DatasetSchema.sql)
                        try Self.setMeta(db, "schema_version", String(DatasetSchema.version))
                        try Self.setMeta(db, "created_at", Clock.isoNow())
                        try Self.setMeta(db, "next_participant", "1")
                        return .commit
                    }
                }
                Durable.syncDirectory(url.deletingLastPathComponent())
                return
            }
            let version = try queue.read { db -> String? in
                guard try db.tableExists("dataset_meta") else { return nil }
                return try String.fetchOne(db, sql: "SELECT value FROM dataset_meta WHERE key = 'schema_version'")
            }
            guard let version else {
                throw ResearchError(.dataset, "\(url.path) is not an anki-submit research dataset.")
            }
            guard version == String(DatasetSchema.version) else {
                throw ResearchError(.dataset, "\(url.path) has dataset schema version \(version); this tool "
                                    + "reads version \(DatasetSchema.version). Use the anki-submit that made it.")
            }
        } catch let error as ResearchError {
            throw error
        } catch {
            throw ResearchError(.dataset, "\(url.path) is not a readable anki-submit research dataset.")
        }
    }

    static func meta(_ db: Database, _ key: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT value FROM dataset_meta WHERE key = ?", arguments: [key])
    }

    static func setMeta(_ db: Database, _ key: String, _ value: String) throws {
        try db.execute(sql: "INSERT INTO dataset_meta (key, value) VALUES (?, ?) "
                       + "ON CONFLICT (key) DO UPDATE SET value = excluded.value", arguments: [key, value])
    }

    /// Loads the researcher key and proves it is the one this dataset was made with. The first command
    /// that needs a key on a dataset without one creates the key file (mode 0600) and records its check.
    public func researcherKey(_ keyFile: URL) throws -> (key: ResearcherKey, created: Bool) {
        let stored = try queue.read { try Self.meta($0, "key_check") }
        let (key, created) = try ResearcherKey.load(keyFile, create: stored == nil)
        if let stored {
            guard stored == key.check else {
                throw ResearchError(.keyFile, "\(keyFile.path) is not the key this dataset was made with; "
                                    + "with another key no token or submission can be matched.")
            }
        } else {
            try queue.write { try Self.setMeta($0, "key_check", key.check) }
        }
        return (key, created)
    }

    /// The date of the latest public release, if any.
    public func releasedAt() throws -> String? {
        try queue.read { try Self.meta($0, "released_at") }
    }
}

/// An exclusive `flock` on `<dataset>.lock`, released by the kernel when the process ends however it
/// ends, so a killed run never leaves a stale lock behind.
final class DatasetLock {
    private let fd: Int32

    init(dataset: URL, command: String) throws {
        let path = dataset.path + ".lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ResearchError(.dataset, "Cannot create the lock file \(path) (is the folder writable?).")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buffer = [UInt8](repeating: 0, count: 512)
            let n = pread(fd, &buffer, buffer.count, 0)
            let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            Foundation.close(fd)
            throw ResearchError(.datasetLocked, "The dataset \(dataset.path) is in use by another anki-submit research "
                                + "command\(holder.isEmpty ? "" : " (\(printable(holder)))"). Wait for it to finish, "
                                + "then run this again.")
        }
        let note = "\(command), process \(getpid()), since \(Clock.isoNow())\n"
        ftruncate(fd, 0)
        _ = Data(note.utf8).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit {
        ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        Foundation.close(fd)
    }
}
