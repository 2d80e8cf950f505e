import AnkiReader
import Foundation
import GRDB
import Testing
import ZIPFoundation

/// Every malformed, hostile or surprising file is refused with its own error code, one plain line,
/// no file left behind and the source untouched.
@Suite("Hostile and broken input")
struct HostileInputTests {
    static let expectations: [(String, ReaderError.Code)] = [
        ("zip-slip-dotdot.apkg", .unsafeEntryName),
        ("zip-slip-absolute.apkg", .unsafeEntryName),
        ("zip-slip-subdir.apkg", .unsafeEntryName),
        ("zip-slip-backslash.apkg", .unsafeEntryName),
        ("zstd-bomb.apkg", .compressionRatioLimit),
        ("zstd-bomb-declared.apkg", .compressionRatioLimit),
        ("truncated.apkg", .damagedArchive),
        ("truncated-zstd.apkg", .damagedCompressedData),
        ("meta-too-new.apkg", .packageTooNew),
        ("meta-unknown.apkg", .packageTooNew),
        ("schema-too-old.apkg", .schemaTooOld),
        ("schema-too-new.apkg", .schemaTooNew),
        ("schema-12.apkg", .schemaTooOld),
        ("no-collection.apkg", .collectionMissing),
        ("placeholder-only.apkg", .collectionMissing),
        ("not-anki.sqlite", .notAnAnkiCollection),
        ("not-anki.apkg", .notAnAnkiCollection),
        ("corrupt.anki2", .damagedDatabase),
        ("not-a-zip.apkg", .unknownFormat),
        ("big-id.apkg", .idOutOfRange),
        ("bad-utf8.apkg", .invalidText),
        ("media-missing.apkg", .mediaMissing),
        ("empty.apkg", .emptyFile),
    ]

    /// Opens (and validates) a file, returning the reader's error; checks the no-trace rules.
    static func refusal(_ file: URL, limits: ReaderLimits = .default) throws -> ReaderError? {
        let scratch = try ScratchDirectory()
        let before = FileManager.default.fileExists(atPath: file.path) && !file.hasDirectoryPath
            ? try? Data(contentsOf: file) : nil
        var caught: ReaderError?
        do {
            let collection = try AnkiCollection.open(file, limits: limits, workspaceParent: scratch.url)
            defer { collection.close() }
            try collection.validate()
        } catch let error as ReaderError {
            caught = error
        }
        #expect(scratch.contents.isEmpty, "no file may be left behind")
        if let before { #expect(try Data(contentsOf: file) == before, "the source must not change") }
        if let caught {
            #expect(!caught.message.contains("\n"), "one line")
            #expect(caught.message.count < 300)
        }
        return caught
    }

    @Test("committed hostile fixtures", arguments: expectations)
    func fixture(_ name: String, _ code: ReaderError.Code) throws {
        let file = Paths.hostile.appendingPathComponent(name)
        try #require(FileManager.default.fileExists(atPath: file.path), "missing fixture \(name)")
        let error = try Self.refusal(file)
        #expect(error?.code == code, "\(name)")
    }

    @Test("a deflate bomb stops at the size limit and at the ratio limit")
    func deflateBomb() throws {
        let file = Paths.hostile.appendingPathComponent("deflate-bomb.apkg")
        var small = ReaderLimits.default
        small.maxUnpackedBytes = 10 << 20
        // The central directory already declares more than the cap.
        #expect(try Self.refusal(file, limits: small)?.code == .unpackedSizeLimit)
        var strict = ReaderLimits.default
        strict.ratioGraceBytes = 1 << 20
        strict.maxCompressionRatio = 100
        #expect(try Self.refusal(file, limits: strict)?.code == .compressionRatioLimit)
    }

    @Test("a zstd bomb is stopped by the total size cap too")
    func zstdBombSizeCap() throws {
        var limits = ReaderLimits.default
        limits.maxCompressionRatio = .max
        limits.maxUnpackedBytes = 8 << 20
        #expect(try Self.refusal(Paths.hostile.appendingPathComponent("zstd-bomb.apkg"), limits: limits)?.code
                == .unpackedSizeLimit)
    }

    /// Found by setting every column of a collection to extreme values: a creation time no clock could
    /// have written made prepare's time shift overflow.
    @Test("a creation time at the 64-bit limits is refused as altered", arguments: [Int64.min, Int64.max])
    func creationTimeAtTheLimit(_ crt: Int64) throws {
        let scratch = try ScratchDirectory()
        let bare = scratch.url.appendingPathComponent("collection.anki2")
        do {
            let collection = try AnkiCollection.open(Paths.generated.appendingPathComponent("berlin-legacy2.apkg"))
            defer { collection.close() }
            try FileManager.default.copyItem(at: collection.databaseURL, to: bare)
        }
        try DatabaseQueue(path: bare.path).write { try $0.execute(sql: "UPDATE col SET crt = ?", arguments: [crt]) }
        let work = try ScratchDirectory()
        var caught: ReaderError?
        do {
            let collection = try AnkiCollection.open(bare, workspaceParent: work.url)
            defer { collection.close() }
            try collection.validate()
        } catch let error as ReaderError {
            caught = error
        }
        #expect(caught?.code == .idOutOfRange)
        #expect(work.contents.isEmpty, "no file may be left behind")
    }

    @Test("text in a numeric column: readable for inspect, refused by the value-type check prepare runs")
    func textInNumber() throws {
        let file = Paths.hostile.appendingPathComponent("text-in-number.apkg")
        #expect(try Self.refusal(file) == nil)
        let collection = try AnkiCollection.open(file)
        defer { collection.close() }
        #expect(throws: Never.self) { try collection.startIntegrityCheck().wait() }
        var caught: ReaderError?
        do { try collection.startIntegrityCheck(checkValueTypes: true).wait() } catch let error as ReaderError { caught = error }
        #expect(caught?.code == .invalidCollectionData)
        #expect(caught.map { !$0.message.contains("sieben") } ?? false, "the message never quotes content")
    }

    @Test("a folder, a missing path")
    func notFiles() throws {
        let scratch = try ScratchDirectory()
        #expect(try Self.refusal(scratch.url)?.code == .notAFile)
        #expect(try Self.refusal(scratch.url.appendingPathComponent("nope.apkg"))?.code == .fileNotFound)
    }

    @Test("the same entry name twice")
    func duplicateEntries() throws {
        let scratch = try ScratchDirectory()
        let file = scratch.url.appendingPathComponent("dup.apkg")
        let archive = try Archive(url: file, accessMode: .create)
        for _ in 0..<2 {
            let payload = Data("x".utf8)
            try archive.addEntry(with: "collection.anki2", type: .file, uncompressedSize: Int64(payload.count),
                                 provider: { _, _ in payload })
        }
        #expect(try Self.refusal(file)?.code == .duplicateEntryName)
    }

    /// A copy of `fixture` with one byte of the stored data of entry `name` changed (the zip directory
    /// and its CRC-32 left as they were).
    static func flippingByte(of name: String, in fixture: URL, at position: (Int) -> Int,
                             scratch: ScratchDirectory) throws -> URL {
        var bytes = [UInt8](try Data(contentsOf: fixture))
        let nameBytes = Array(name.utf8)
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        // The local file header (PK\3\4) whose name is `name`.
        func isLocalHeader(_ i: Int) -> Bool {
            guard bytes[i] == 0x50, bytes[i + 1] == 0x4B, bytes[i + 2] == 3, bytes[i + 3] == 4,
                  u16(i + 26) == nameBytes.count else { return false }
            return Array(bytes[(i + 30)..<(i + 30 + nameBytes.count)]) == nameBytes
        }
        let found: Int? = (0..<(bytes.count - 30)).first(where: isLocalHeader)
        let header = try #require(found)
        let dataStart = header + 30 + u16(header + 26) + u16(header + 28)
        let size = u32(header + 18)
        try #require(u16(header + 8) == 0, "\(name) must be stored, not deflated, for this test")
        bytes[dataStart + position(size)] ^= 0x01
        let out = scratch.url.appendingPathComponent("flipped-" + fixture.lastPathComponent)
        try Data(bytes).write(to: out)
        return out
    }

    @Test("an entry whose bytes do not match the zip's CRC-32 is refused as a damaged package")
    func checksumMismatch() throws {
        let scratch = try ScratchDirectory()
        // `meta` 08 03 becomes 08 02: still a valid version (legacy 2, whose collection is missing here),
        // so only the checksum tells that the package was altered.
        let meta = try Self.flippingByte(of: "meta", in: Paths.generated.appendingPathComponent("berlin-latest.apkg"),
                                         at: { $0 - 1 }, scratch: scratch)
        #expect(try Self.refusal(meta)?.code == .damagedArchive)
        // A byte inside a legacy collection database (stored entry of a hand-made package): SQLite alone
        // would read it.
        let source = Paths.generated.appendingPathComponent("berlin-legacy2.apkg")
        let work = try ScratchDirectory()
        let collection = try AnkiCollection.open(source, workspaceParent: work.url)
        let database = try Data(contentsOf: collection.databaseURL)
        collection.close()
        let package = scratch.url.appendingPathComponent("stored-legacy2.apkg")
        let archive = try Archive(url: package, accessMode: .create)
        try archive.addEntry(with: "collection.anki21", type: .file, uncompressedSize: Int64(database.count),
                             compressionMethod: .none, provider: { position, size in
                                 database.subdata(in: Int(position)..<(Int(position) + size))
                             })
        #expect(try Self.refusal(package) == nil, "the hand-made package itself is sound")
        let flipped = try Self.flippingByte(of: "collection.anki21", in: package, at: { $0 - 100 }, scratch: scratch)
        #expect(try Self.refusal(flipped)?.code == .damagedArchive)
    }

    @Test("malformed settings are named with the right verb: 'deck list is', 'deck options are'")
    func malformedSettingsMessages() throws {
        let work = try ScratchDirectory()
        let collection = try AnkiCollection.open(Paths.generated.appendingPathComponent("berlin-legacy2.apkg"),
                                                 workspaceParent: work.url)
        let database = try Data(contentsOf: collection.databaseURL)
        collection.close()
        for (column, message) in [("decks", "The collection's deck list is malformed;"),
                                  ("dconf", "The collection's deck options are malformed;")] {
            let scratch = try ScratchDirectory()
            let bare = scratch.url.appendingPathComponent("collection.anki2")
            try database.write(to: bare)
            #expect(try shell(["sqlite3", bare.path, "UPDATE col SET \(column) = '[1, 2'"]).status == 0)
            let error = try Self.refusal(bare)
            #expect(error?.code == .invalidCollectionData)
            #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "no error")")
        }
    }

    @Test("an empty collection opens, and is refused as a submission",
          .enabled(if: Paths.sharedAvailable, "../shared/fixtures is absent; skipping"))
    func emptyDeck() throws {
        let file = Paths.shared.appendingPathComponent("fixtures/third-party/srsconv_empty-latest.apkg")
        let scratch = try ScratchDirectory()
        let collection = try AnkiCollection.open(file, workspaceParent: scratch.url)
        defer { collection.close() }
        #expect(try collection.counts().notes == 0)
        #expect(throws: ReaderError(.emptyCollection, "")) { try collection.requireNotes() }
    }

    @Test("a bare collection with a -wal is read with the WAL's rows, and neither file changes")
    func bareCollectionWithWAL() throws {
        let source = Paths.generated.appendingPathComponent("berlin-legacy2.apkg")
        let scratch = try ScratchDirectory()
        // Unpack a collection, put it in WAL mode, and add a row that stays in the -wal file.
        let collection = try AnkiCollection.open(source, workspaceParent: scratch.url)
        let baseline = try collection.counts().notes
        let profile = scratch.url.appendingPathComponent("profile", isDirectory: true)
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let live = profile.appendingPathComponent("collection.anki2")
        try FileManager.default.copyItem(at: collection.databaseURL, to: live)
        collection.close()
        let snapshot = scratch.url.appendingPathComponent("snapshot", isDirectory: true)
        try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
        let script = """
            PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
            INSERT INTO notes SELECT id + 1, guid || 'x', mid, mod, usn, tags, flds, sfld, csum, flags, data
              FROM notes ORDER BY id DESC LIMIT 1;
            .shell cp '\(live.path)' '\(live.path)-wal' '\(snapshot.path)/'
            """
        let result = try shell(["sqlite3", live.path], input: nil, stdin: script)
        #expect(result.status == 0)
        let bare = snapshot.appendingPathComponent("collection.anki2")
        #expect(FileManager.default.fileExists(atPath: bare.path + "-wal"))
        let listing = try FileManager.default.contentsOfDirectory(atPath: snapshot.path).sorted()
        let hashes = try listing.map { try Data(contentsOf: snapshot.appendingPathComponent($0)) }

        let work = try ScratchDirectory()
        let opened = try AnkiCollection.open(bare, workspaceParent: work.url)
        #expect(opened.format == .collection)
        #expect(try opened.counts().notes == baseline + 1)
        opened.close()
        #expect(work.contents.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: snapshot.path).sorted() == listing,
                "no -shm or other file may appear next to the collection")
        #expect(try listing.map { try Data(contentsOf: snapshot.appendingPathComponent($0)) } == hashes)
    }
}
