import AnkiSchemas
import AnkiZstd
import Foundation
import SwiftProtobuf

/// An `.apkg`/`.colpkg` opened for reading: entry names checked, generation decided, and entries
/// unpacked on request under the size and ratio limits.
final class PackageArchive {
    /// Entry names Anki writes; anything else at the root is a media file named by its index.
    static let latestCollectionEntry = "collection.anki21b"
    static let legacy2CollectionEntry = "collection.anki21"
    static let legacy1CollectionEntry = "collection.anki2"

    let url: URL
    private let zip: ZipFile
    private let entries: [String: ZipFile.Entry]
    let limits: ReaderLimits
    private var budget: UnpackBudget
    /// The `meta` version when present (1 legacy1, 2 legacy2, 3 latest).
    let metaVersion: Int?
    let format: SourceFormat

    init(url: URL, limits: ReaderLimits) throws {
        self.url = url
        self.limits = limits
        self.budget = UnpackBudget(limits: limits)
        let zip: ZipFile
        do {
            // A directory entry takes at least 46 bytes plus its name: the metadata limit bounds both.
            zip = try ZipFile(url: url, maxDirectoryBytes: max(limits.maxMetadataBytes, 64 << 20))
        } catch ZipFile.Failure.unreadable {
            throw ReaderError(.unreadableFile, "The package cannot be read (input/output error or no permission).")
        } catch {
            throw ReaderError(.damagedArchive,
                              "The package is damaged or incomplete (its zip directory cannot be read); "
                              + "try exporting it from Anki again.")
        }
        self.zip = zip

        var entries: [String: ZipFile.Entry] = [:]
        entries.reserveCapacity(zip.entries.count)
        var declaredTotal: UInt64 = 0
        for entry in zip.entries {
            try Self.checkEntryName(entry.name, isFile: entry.isFileType)
            if entries.updateValue(entry, forKey: entry.name) != nil {
                throw ReaderError(.duplicateEntryName,
                                  "The package lists the same file twice, which Anki never does; it may have been tampered with.")
            }
            declaredTotal &+= entry.uncompressedSize
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
            let bytes = try Self.readSmallEntry(zip, meta, limit: 1 << 16)
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
    static func checkEntryName(_ name: String, isFile: Bool) throws {
        let bytes = name.utf8
        var unsafe = bytes.isEmpty || name == "." || name == ".."
        // `X:` at the start (a drive letter), separators and control characters, byte by byte.
        if !unsafe, name.dropFirst().first == ":" { unsafe = true }
        if !unsafe {
            for byte in bytes where byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") {
                unsafe = true
                break
            }
        }
        if unsafe || !isFile {
            throw ReaderError(.unsafeEntryName,
                              "The package contains a file whose name points outside the package "
                              + "(like ../ or a folder path); Anki never writes such names, so it was refused.")
        }
    }

    static let encrypted = ReaderError(
        .unsupportedCompression,
        "The package is encrypted, which Anki never does, so it was not made by Anki or was repacked by another "
            + "program; export it from Anki again.")

    static let unsupportedCompression = ReaderError(
        .unsupportedCompression,
        "The package is compressed with a method Anki never uses (like bzip2 or LZMA), so it was not made by Anki "
            + "or was repacked by another program; export it from Anki again.")

    private static func readSmallEntry(_ zip: ZipFile, _ entry: ZipFile.Entry, limit: UInt64) throws -> Data {
        guard entry.uncompressedSize <= limit else {
            throw ReaderError(.unpackedSizeLimit, "A small information entry of the package is implausibly large.")
        }
        var data = Data()
        var checksum = EntryChecksum()
        do {
            try zip.extract(entry, chunkSize: 1 << 16) { chunk in
                data.append(contentsOf: chunk)
                if UInt64(data.count) > limit {
                    throw ReaderError(.unpackedSizeLimit, "A small information entry of the package is implausibly large.")
                }
                checksum.update(chunk)
            }
            try checksum.verify(expected: entry.crc32)
        } catch let error as ReaderError {
            throw error
        } catch ZipFile.Failure.unsupportedMethod {
            throw unsupportedCompression
        } catch ZipFile.Failure.encrypted {
            throw encrypted
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
            try zip.extract(entry, chunkSize: 1 << 20) { chunk in
                zipOutput += UInt64(chunk.count)
                try budget.checkRatio(output: zipOutput, input: packed)
                checksum.update(chunk)
                if let decompressor {
                    try decompressor.feed(chunk) { out in
                        finalOutput += UInt64(out.count)
                        try budget.add(out.count, entryOutput: finalOutput, entryInput: packed)
                        try sink(out)
                    }
                } else {
                    finalOutput += UInt64(chunk.count)
                    try budget.add(chunk.count, entryOutput: finalOutput, entryInput: packed)
                    try sink(chunk)
                }
            }
            try checksum.verify(expected: entry.crc32)
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
        } catch ZipFile.Failure.unsupportedMethod {
            throw Self.unsupportedCompression
        } catch ZipFile.Failure.encrypted {
            throw Self.encrypted
        } catch ZipFile.Failure.unreadable {
            throw ReaderError(.unreadableFile, "The package cannot be read (input/output error).")
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
            // The common case decoded straight into strings; anything else again, to say what is wrong.
            let map: [String: String]
            if let decoded = raw.withUnsafeBytes({ MediaMapJSON.parse($0) })
                ?? (try? JSONDecoder().decode([String: String].self, from: raw)) {
                map = decoded
            } else {
                let object: Any
                do { object = try JSONSerialization.jsonObject(with: raw) } catch {
                    throw ReaderError(.damagedArchive, "The package's media list is damaged (not valid JSON).")
                }
                guard let dictionary = object as? [String: Any] else {
                    throw ReaderError(.damagedArchive, "The package's media list is damaged (not a JSON object).")
                }
                var names: [String: String] = [:]
                for (key, value) in dictionary {
                    guard let name = value as? String else {
                        throw ReaderError(.damagedArchive, "The package's media list is damaged (a name is not text).")
                    }
                    names[key] = name
                }
                map = names
            }
            // In entry order: numbered entries by number, then the rest by name. Anki and genanki number
            // the entries 0, 1, 2, ...: those are placed directly, without comparing.
            var slots = [MediaFile?](repeating: nil, count: map.count)
            var others: [MediaFile] = []
            for (key, name) in map {
                let file = MediaFile(entryName: key, name: name, size: entries[key]?.uncompressedSize ?? 0)
                if let number = Int(key), number >= 0, number < slots.count, String(number) == key {
                    slots[number] = file
                } else {
                    others.append(file)
                }
            }
            files = slots.compactMap { $0 }
            if !others.isEmpty {
                files += others
                files.sort { (Int($0.entryName) ?? .max, $0.entryName) < (Int($1.entryName) ?? .max, $1.entryName) }
            }
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
