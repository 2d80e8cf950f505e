import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// A collection opened from any file a participant can hand us: `.apkg`/`.colpkg` of every generation,
/// or a bare collection database. The source file is never modified: packages are unpacked, and bare
/// collections copied, into a private `Workspace` that is removed by `close()`, on deinit, and on
/// interruption.
///
/// Small tables are loaded at open; notes, cards, revlog and graves are streamed with `forEach…`.
public final class AnkiCollection {
    public let sourceURL: URL
    public let format: SourceFormat
    /// The package's `meta` version, when it had one.
    public let packageVersion: Int?
    public let config: CollectionConfig
    /// Sorted by id.
    public let noteTypes: [NoteType]
    /// Sorted by id, parent links resolved.
    public let decks: [Deck]
    /// Sorted by id.
    public let presets: [DeckPreset]
    /// Media listed in the package, in entry order; empty for bare collections.
    public let media: [MediaFile]
    /// The working copy, opened read-only (for pipelines that ATTACH it or read it in bulk).
    public let database: DatabaseQueue
    /// Path of the read-only working copy of the collection database.
    public let databaseURL: URL

    private let workspace: Workspace
    private let archive: PackageArchive?
    private let queryBudget: ForeignDatabase.Budget

    /// Opens `url`. Throws `ReaderError` for anything hostile, broken or unsupported.
    public static func open(_ url: URL, limits: ReaderLimits = .default,
                            workspaceParent: URL? = nil) throws -> AnkiCollection {
        let kind = try InputSniffer.sniff(url)
        let workspace = try Workspace(parent: workspaceParent)
        do {
            return try AnkiCollection(url: url, kind: kind, limits: limits, workspace: workspace)
        } catch {
            workspace.remove()
            throw error
        }
    }

    private init(url: URL, kind: InputKind, limits: ReaderLimits, workspace: Workspace) throws {
        sourceURL = url
        self.workspace = workspace
        queryBudget = limits.queryBudget
        let dbURL = workspace.file("collection.sqlite")
        databaseURL = dbURL

        switch kind {
        case .zipPackage:
            let archive = try PackageArchive(url: url, limits: limits)
            self.archive = archive
            format = archive.format
            packageVersion = archive.metaVersion
            media = try archive.mediaFiles()
            try archive.extractCollection(to: dbURL)
            // The unpacked copy's own name never reaches a message: only what it is not.
            guard (try? InputSniffer.sniff(dbURL)) == .sqliteDatabase else {
                throw ReaderError(.notAnAnkiCollection, "The package's collection is not a database.")
            }
        case .sqliteDatabase:
            archive = nil
            format = .collection
            packageVersion = nil
            media = []
            try Self.copyBareCollection(url, to: dbURL, limits: limits)
        }

        try CollectionDatabase.normalizeJournal(at: dbURL, budget: limits.queryBudget)
        let database = try CollectionDatabase.open(at: dbURL, budget: limits.queryBudget)
        self.database = database
        let loaded = try CollectionDatabase.mapErrors {
            try database.read { db in try SchemaLoader.load(db) }
        }
        config = loaded.config
        noteTypes = loaded.noteTypes
        decks = loaded.decks
        presets = loaded.presets
    }

    deinit { close() }

    /// Prepares a connection that ATTACHes `databaseURL`: `ForeignDatabase.harden` (the collection's
    /// schema is trusted with nothing) and the `unicase` collation Anki's tables need.
    public static func prepareConnection(_ db: Database) throws {
        try ForeignDatabase.harden(db)
        db.add(collation: CollectionDatabase.unicase)
    }

    /// Removes the working copy. The collection cannot be read afterwards.
    public func close() {
        try? database.close()
        workspace.remove()
    }

    /// A bare collection is copied with its `-wal` (which may hold the latest changes); the original
    /// and its folder are only read. Both must be regular files: each is opened without blocking and
    /// checked on the open descriptor, so a pipe or device put there (even after the file was first
    /// looked at) is refused instead of waited on.
    private static func copyBareCollection(_ source: URL, to destination: URL, limits: ReaderLimits) throws {
        var total: UInt64 = 0
        try copyRegularFile(source.path, to: destination.path, total: &total, limits: limits, what: "The collection")
        try copyRegularFile(source.path + "-wal", to: destination.path + "-wal", total: &total, limits: limits,
                            what: "The collection's -wal file beside it", optional: true)
    }

    private static func copyRegularFile(_ from: String, to: String, total: inout UInt64, limits: ReaderLimits,
                                        what: String, optional: Bool = false) throws {
        // The -wal (`optional`) was not named by the participant: a link there is never followed.
        let input = Glibc.open(from, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (optional ? O_NOFOLLOW : 0))
        if input < 0 {
            if optional && errno == ENOENT { return }
            if optional && errno == ELOOP {
                throw ReaderError(.unreadableFile,
                                  "\(what) is a link, so it is not read; open and close the collection in Anki, then try again.")
            }
            throw ReaderError(.unreadableFile, "\(what) cannot be read (check its permissions).")
        }
        defer { Glibc.close(input) }
        var info = stat()
        guard fstat(input, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw ReaderError(.notAFile, "\(what) is a folder, a pipe or a device, not a file.")
        }
        let output = Glibc.open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else {
            throw ReaderError(.workspaceFailure, "Could not make a temporary copy of the collection (disk full?).")
        }
        defer { Glibc.close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw ReaderError(.unreadableFile, "\(what) cannot be read (I/O error).") }
            if n == 0 { return }
            total += UInt64(n)
            if total > limits.maxUnpackedBytes {
                throw ReaderError(.unpackedSizeLimit,
                                  "The collection is larger than the limit of \(formatBytes(limits.maxUnpackedBytes)).")
            }
            var written = 0
            while written < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + written, n - written) }
                if w < 0 && errno == EINTR { continue }
                guard w > 0 else {
                    throw ReaderError(.workspaceFailure, "Could not make a temporary copy of the collection (disk full?).")
                }
                written += w
            }
        }
    }

    // MARK: - Checks and counts

    /// Row counts the way Anki shows them.
    public func counts() throws -> CollectionCounts {
        try CollectionDatabase.mapErrors {
            try database.read { db in
                func count(_ table: String) throws -> Int {
                    guard try SchemaLoader.hasTable(db, table) else { return 0 }
                    return try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0
                }
                return CollectionCounts(notes: try count("notes"), cards: try count("cards"),
                                        revlog: try count("revlog"), decks: decks.count,
                                        noteTypes: noteTypes.count, presets: presets.count,
                                        graves: try count("graves"), media: media.count)
            }
        }
    }

    /// Whole-file checks that reading alone does not do: page-level integrity, ids in range, and
    /// text that is valid UTF-8. `inspect` and `prepare` run it before trusting the content.
    ///
    /// The integrity check (`PRAGMA quick_check`, every page of every table and index) is most of the
    /// cost, so it runs on a second read-only connection on another thread while this one checks ids
    /// and text. Both always finish, and a failed integrity check is reported first, so the outcome
    /// is the same as running them one after the other.
    public func validate() throws {
        let integrity = IntegrityCheck.start(databaseURL, budget: queryBudget)
        let contentResult = Result { try validateContent() }
        try integrity.wait()
        try contentResult.get()
    }

    /// Starts SQLite's integrity check of the working copy on another thread (`validate()` without
    /// waiting for it): the caller overlaps it with its own work and waits before trusting the result.
    /// `checkValueTypes` also refuses text, blobs or NULL in the numeric columns of notes and cards a
    /// submission copies (`IntegrityCheck.numericColumns`), for prepare, whose copy of the review log
    /// checks the log's (`IntegrityCheck.reviewLogNumericColumns`).
    public func startIntegrityCheck(checkValueTypes: Bool = false) -> IntegrityCheck {
        IntegrityCheck.start(databaseURL, budget: queryBudget, checkValueTypes: checkValueTypes)
    }

    /// The checks of `validate()` other than the integrity check: id ranges and UTF-8 text.
    public func validateContent() throws {
        // Times are shifted by years in milliseconds: a creation time no clock could have written would
        // only overflow there.
        if config.creationTime.magnitude > UInt64(CollectionDatabase.maxSafeID / 1000) {
            throw ReaderError(.idOutOfRange,
                              "The collection's creation time is not a real date; the file was altered or damaged.")
        }
        try CollectionDatabase.mapErrors {
            try database.read { db in
                for table in ["notes", "cards", "revlog"] {
                    // Two sub-queries, so SQLite reads each end of the rowid b-tree instead of scanning it.
                    let row = try Row.fetchOne(db, sql: "SELECT (SELECT max(id) FROM \(table)), (SELECT min(id) FROM \(table))")
                    let maxID: Int64 = row?[0] ?? 0, minID: Int64 = row?[1] ?? 0
                    if maxID > CollectionDatabase.maxSafeID || minID < -CollectionDatabase.maxSafeID {
                        throw LegacySchema.idOutOfRange()
                    }
                }
                let badNotes = try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM notes
                    WHERE anki_submit_invalid_utf8(flds) OR anki_submit_invalid_utf8(tags)
                    """) ?? 0
                if badNotes > 0 {
                    throw ReaderError(.invalidText,
                                      "\(badNotes) note(s) contain text that is not valid UTF-8; "
                                      + "run Tools > Check Database in Anki and export again.")
                }
            }
        }
    }

    /// Throws `.emptyCollection` when there is nothing to submit.
    public func requireNotes() throws {
        if try counts().notes == 0 {
            throw ReaderError(.emptyCollection, "The collection contains no notes, so there is nothing to submit.")
        }
    }

    // MARK: - Streaming rows

    public func forEachNote(_ body: (Note) throws -> Void) throws {
        try stream(table: "notes",
                   sql: "SELECT id, guid, mid, mod, usn, tags, flds, sfld, csum, flags, data FROM notes ORDER BY id") { r in
            try body(Note(id: r.int(0), guid: r.text(1), noteTypeID: r.int(2), modified: r.int(3), usn: r.int(4),
                          tags: r.text(5), fields: Note.splitFields(r.text(6)),
                          sortField: r.text(7), checksum: r.int(8), flags: r.int(9), data: r.text(10)))
        }
    }

    public func forEachCard(_ body: (Card) throws -> Void) throws {
        try stream(table: "cards", sql: """
            SELECT id, nid, did, ord, mod, usn, type, queue, due, ivl, factor, reps, lapses, left, odue, odid,
                   flags, data FROM cards ORDER BY id
            """) { r in
            try body(Card(id: r.int(0), noteID: r.int(1), deckID: r.int(2), ord: r.int(3), modified: r.int(4),
                          usn: r.int(5), type: r.int(6), queue: r.int(7), due: r.int(8), interval: r.int(9),
                          factor: r.int(10), reps: r.int(11), lapses: r.int(12), left: r.int(13),
                          originalDue: r.int(14), originalDeckID: r.int(15), flags: r.int(16), data: r.text(17)))
        }
    }

    public func forEachReview(_ body: (Review) throws -> Void) throws {
        try stream(table: "revlog",
                   sql: "SELECT id, cid, usn, ease, ivl, lastIvl, factor, time, type FROM revlog ORDER BY id") { r in
            try body(Review(id: r.int(0), cardID: r.int(1), usn: r.int(2), ease: r.int(3), interval: r.int(4),
                            lastInterval: r.int(5), factor: r.int(6), time: r.int(7), type: r.int(8)))
        }
    }

    public func forEachGrave(_ body: (Grave) throws -> Void) throws {
        let hasGraves = try CollectionDatabase.mapErrors { try database.read { try SchemaLoader.hasTable($0, "graves") } }
        guard hasGraves else { return }
        try stream(table: "graves", sql: "SELECT usn, oid, type FROM graves") { r in
            try body(Grave(usn: r.int(0), objectID: r.int(1), type: r.int(2)))
        }
    }

    private func stream(table: String, sql: String, _ body: (Row) throws -> Void) throws {
        try CollectionDatabase.mapErrors {
            try database.read { db in
                let rows = try Row.fetchCursor(db, sql: sql)
                while let row = try rows.next() {
                    do {
                        try body(row)
                    } catch is RowDecodingError {
                        throw ReaderError.invalidData(.table(table), detail: "a row has a missing value")
                    }
                }
            }
        }
    }

    // MARK: - Media

    /// Streams a media file's bytes from the package without loading the package into memory.
    public func readMedia(_ file: MediaFile, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let archive else { return }
        try archive.readMedia(file, sink: sink)
    }
}
