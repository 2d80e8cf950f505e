import AnkiSchemas
import AnkiZstd
import Foundation
import SwiftProtobuf
import ZIPFoundation

/// An `.apkg`/`.colpkg` opened for reading: entry names checked, generation decided, and entries
/// unpacked on request under the size and ratio limits.
final class PackageArchive {
    /// Entry names Anki writes; anything else at the root is a media file named by its index.
    static let latestCollectionEntry = "collection.anki21b"
    static let legacy2CollectionEntry = "collection.anki21"
    static let legacy1CollectionEntry = "collection.anki2"

    let url: URL
    private let archive: Archive
    private let entries: [String: Entry]
    let limits: ReaderLimits
    private var budget: UnpackBudget
    /// The `meta` version when present (1 legacy1, 2 legacy2, 3 latest).
    let metaVersion: Int?
    let format: SourceFormat

    init(url: URL, limits: ReaderLimits) throws {
        self.url = url
        self.limits = limits
        self.budget = UnpackBudget(limits: limits)
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw ReaderError(.damagedArchive,
                              "The package is damaged or incomplete (its zip directory cannot be read); "
                              + "try exporting it from Anki again.")
        }
        self.archive = archive

        var entries: [String: Entry] = [:]
        var declaredTotal: UInt64 = 0
        var count = 0
        for entry in archive {
            count += 1
            let name = entry.path(using: .utf8)
            try Self.checkEntryName(name, type: entry.type)
            if entries[name] != nil {
                throw ReaderError(.duplicateEntryName,
                                  "The package lists the same file twice, which Anki never does; it may have been tampered with.")
            }
            entries[name] = entry
            declaredTotal &+= entry.uncompressedSize
        }
        // A directory cut short lists fewer entries than its end record counts: that is damage, not a
        // package without a collection.
        if let expected = Self.declaredEntryCount(url), expected != UInt64(count) {
            throw ReaderError(.damagedArchive,
                              "The package is damaged or incomplete (its zip directory lists \(expected) files, "
                              + "but only \(count) can be read); try exporting it from Anki again.")
        }
        self.entries = entries
        if declaredTotal > limits.maxUnpackedBytes {
            throw ReaderError(.unpackedSizeLimit,
                              "The package says it unpacks to \(formatBytes(declaredTotal)), more than the limit of "
                              + "\(formatBytes(limits.maxUnpackedBytes)) (raise it with --max-unpacked-size if this is real).")
        }

        // `meta` is authoritative when present; without it, the entries tell the generation.
        var metaVersion: Int?
        if let meta = entries["meta"] {
            let bytes = try Self.readSmallEntry(archive, meta, limit: 1 << 16)
            let decoded: AnkiPackageMetadata
            do {
                decoded = try AnkiPackageMetadata(serializedBytes: bytes)
            } catch {
                throw ReaderError(.damagedArchive, "The package's version information (meta) is damaged.")
            }
            metaVersion = decoded.version.rawValue
        }
        self.metaVersion = metaVersion

        switch metaVersion {
        case .some(1): format = .legacy1
        case .some(2): format = .legacy2
        case .some(3): format = .latest
        case .some:
            throw ReaderError(.packageTooNew,
                              "This package was made by a newer version of Anki than this tool understands; "
                              + "update anki-submit, or export again with \"Support older Anki versions\" ticked.")
        case .none:
            if entries[Self.latestCollectionEntry] != nil {
                format = .latest
            } else if entries[Self.legacy2CollectionEntry] != nil {
                format = .legacy2
            } else {
                format = .legacy1
            }
        }
        guard entries[collectionEntryName] != nil else {
            throw ReaderError(.collectionMissing,
                              "The package contains no collection (\(collectionEntryName) is missing); "
                              + "export the deck from Anki again.")
        }
    }

    var collectionEntryName: String {
        switch format {
        case .latest: return Self.latestCollectionEntry
        case .legacy2: return Self.legacy2CollectionEntry
        case .legacy1, .collection: return Self.legacy1CollectionEntry
        }
    }

    /// Entry names must be plain file names at the root: no path separators, no `..`, nothing absolute,
    /// no control characters, no folders or links.
    static func checkEntryName(_ name: String, type: Entry.EntryType) throws {
        let unsafe = name.isEmpty || name == "." || name == ".."
            || name.contains("/") || name.contains("\\")
            || name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
            || (name.count >= 2 && name.dropFirst().first == ":")
        if unsafe || type != .file {
            throw ReaderError(.unsafeEntryName,
                              "The package contains a file whose name points outside the package "
                              + "(like ../ or a folder path); Anki never writes such names, so it was refused.")
        }
    }

    static let unsupportedCompression = ReaderError(
        .unsupportedCompression,
        "The package is compressed with a method Anki never uses (like bzip2 or LZMA), so it was not made by Anki "
            + "or was repacked by another program; export it from Anki again.")

    /// The number of entries the zip's end record (or its ZIP64 end record) declares, when it can be read.
    static func declaredEntryCount(_ url: URL) -> UInt64? {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size >= 22 else { return nil }
        let tailLength = min(size, 22 + 65535 + 20)
        guard (try? handle.seek(toOffset: size - tailLength)) != nil,
              let tail = try? handle.read(upToCount: Int(tailLength)), tail.count == Int(tailLength) else { return nil }
        let bytes = [UInt8](tail)
        func u16(_ i: Int) -> UInt64 { UInt64(bytes[i]) | UInt64(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> UInt64 { u16(i) | u16(i + 2) << 16 }
        // The last end record whose comment reaches exactly to the end of the file.
        var position = bytes.count - 22
        while position >= 0 {
            if bytes[position] == 0x50, bytes[position + 1] == 0x4B, bytes[position + 2] == 5, bytes[position + 3] == 6,
               position + 22 + Int(u16(position + 20)) == bytes.count {
                break
            }
            position -= 1
        }
        guard position >= 0 else { return nil }
        let total = u16(position + 10)
        guard total == 0xFFFF else { return total }
        // ZIP64: the locator just before the end record gives the ZIP64 end record's offset.
        let locator = position - 20
        guard locator >= 0, u32(locator) == 0x0706_4B50 else { return nil }
        let offset = u32(locator + 8) | u32(locator + 12) << 32
        guard offset < size, (try? handle.seek(toOffset: offset)) != nil,
              let record = try? handle.read(upToCount: 40), record.count == 40 else { return nil }
        let r = [UInt8](record)
        guard r[0] == 0x50, r[1] == 0x4B, r[2] == 6, r[3] == 6 else { return nil }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(r[32 + $1]) << (8 * UInt64($1)) }
    }

    private static func readSmallEntry(_ archive: Archive, _ entry: Entry, limit: UInt64) throws -> Data {
        guard entry.uncompressedSize <= limit else {
            throw ReaderError(.unpackedSizeLimit, "A small information entry of the package is implausibly large.")
        }
        var data = Data()
        var checksum = EntryChecksum()
        do {
            _ = try archive.extract(entry, skipCRC32: true) { chunk in
                data.append(chunk)
                if UInt64(data.count) > limit {
                    throw ReaderError(.unpackedSizeLimit, "A small information entry of the package is implausibly large.")
                }
                chunk.withUnsafeBytes { checksum.update($0) }
            }
            try checksum.verify(expected: entry.checksum)
        } catch let error as ReaderError {
            throw error
        } catch Archive.ArchiveError.invalidCompressionMethod {
            throw unsupportedCompression
        } catch {
            throw ReaderError(.damagedArchive, "The package is damaged (an entry cannot be unpacked).")
        }
        return data
    }

    /// Streams one entry's raw (zip-level decompressed) bytes to `sink`, counting them against the
    /// budget. `zstd` adds a zstd decoding layer (Latest packages). The entry's CRC-32 is checked once
    /// all of it has been read, before the zstd layer is declared complete.
    func stream(entryNamed name: String, zstd: Bool, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let entry = entries[name] else {
            throw ReaderError(.collectionMissing, "The package is missing an expected entry.")
        }
        let packed = max(entry.compressedSize, 1)
        var zipOutput: UInt64 = 0
        let decompressor = zstd ? try zstdDecompressor() : nil
        var finalOutput: UInt64 = 0
        var checksum = EntryChecksum()
        do {
            _ = try archive.extract(entry, bufferSize: 1 << 20, skipCRC32: true) { chunk in
                zipOutput += UInt64(chunk.count)
                try budget.checkRatio(output: zipOutput, input: packed)
                chunk.withUnsafeBytes { checksum.update($0) }
                if let decompressor {
                    try decompressor.feed(chunk) { out in
                        finalOutput += UInt64(out.count)
                        try budget.add(out.count, entryOutput: finalOutput, entryInput: packed)
                        try sink(out)
                    }
                } else {
                    finalOutput += UInt64(chunk.count)
                    try budget.add(chunk.count, entryOutput: finalOutput, entryInput: packed)
                    try chunk.withUnsafeBytes { try sink($0) }
                }
            }
            try checksum.verify(expected: entry.checksum)
            try decompressor?.finish()
        } catch let error as ReaderError {
            throw error
        } catch let error as ZstdError {
            switch error.kind {
            case .outputLimitExceeded:
                throw ReaderError(.unpackedSizeLimit, "Compressed data in the package expands beyond the size limit.")
            case .outOfMemory:
                throw ReaderError(.workspaceFailure, "Not enough memory to unpack the package.")
            default:
                throw ReaderError(.damagedCompressedData,
                                  "Compressed data inside the package is truncated or damaged; export it from Anki again.")
            }
        } catch Archive.ArchiveError.invalidCompressionMethod {
            throw Self.unsupportedCompression
        } catch let error as CocoaError where error.code == .fileWriteOutOfSpace {
            throw ReaderError(.workspaceFailure, "The disk is full; the package could not be unpacked.")
        } catch {
            throw ReaderError(.damagedArchive,
                              "The package is damaged (an entry cannot be unpacked or its checksum is wrong); "
                              + "export it from Anki again.")
        }
    }

    private func zstdDecompressor() throws -> ZstdDecompressor {
        do { return try ZstdDecompressor() } catch {
            throw ReaderError(.workspaceFailure, "Not enough memory to unpack the package.")
        }
    }

    /// Unpacks the collection database into `destination`. zstd's blocks are copied into large
    /// buffers that another thread writes to the file, so decompressing and writing (a quarter of
    /// the unpacking) run on two cores.
    func extractCollection(to destination: URL) throws {
        let fd = open(destination.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ReaderError(.workspaceFailure, "Could not write the temporary copy of the collection.")
        }
        defer { close(fd) }
        let writer = BackgroundFileWriter(fd: fd)
        defer { writer.cancel() }
        let failed = ReaderError(.workspaceFailure, "Could not write the temporary copy of the collection (disk full?).")
        try stream(entryNamed: collectionEntryName, zstd: format == .latest) { bytes in
            do { try writer.append(bytes) } catch { throw failed }
        }
        do { try writer.finish() } catch { throw failed }
    }

    /// Reads the media map and checks that every file it names is in the package.
    func mediaFiles() throws -> [MediaFile] {
        guard entries["media"] != nil else { return [] }
        var raw = Data()
        try stream(entryNamed: "media", zstd: format == .latest) { bytes in
            raw.append(contentsOf: bytes)
            if UInt64(raw.count) > limits.maxMetadataBytes {
                throw ReaderError(.unpackedSizeLimit, "The package's media list is implausibly large.")
            }
        }
        var files: [MediaFile] = []
        if format == .latest {
            let list: AnkiMediaEntries
            do { list = try AnkiMediaEntries(serializedBytes: raw) } catch {
                throw ReaderError(.damagedArchive, "The package's media list is damaged.")
            }
            for (index, item) in list.entries.enumerated() {
                let entryName = item.hasLegacyZipFilename ? String(item.legacyZipFilename) : String(index)
                files.append(MediaFile(entryName: entryName, name: item.name, size: UInt64(item.size)))
            }
        } else {
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: raw) } catch {
                throw ReaderError(.damagedArchive, "The package's media list is damaged (not valid JSON).")
            }
            guard let map = object as? [String: Any] else {
                throw ReaderError(.damagedArchive, "The package's media list is damaged (not a JSON object).")
            }
            for (key, value) in map {
                guard let name = value as? String else {
                    throw ReaderError(.damagedArchive, "The package's media list is damaged (a name is not text).")
                }
                files.append(MediaFile(entryName: key, name: name, size: entries[key]?.uncompressedSize ?? 0))
            }
            files.sort { (Int($0.entryName) ?? .max, $0.entryName) < (Int($1.entryName) ?? .max, $1.entryName) }
        }
        let missing = files.filter { entries[$0.entryName] == nil }.count
        if missing > 0 {
            throw ReaderError(.mediaMissing,
                              "The package's media list names \(missing) file(s) that are not in the package; "
                              + "it is incomplete or damaged. Export it from Anki again.")
        }
        return files
    }

    /// Streams one media file's bytes (never the whole package into memory).
    func readMedia(_ file: MediaFile, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try stream(entryNamed: file.entryName, zstd: format == .latest, sink: sink)
    }
}
