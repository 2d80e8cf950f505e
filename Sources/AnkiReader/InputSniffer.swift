import Foundation

/// Decides from its first bytes what kind of file the participant gave us, before anything is unpacked.
enum InputKind: Equatable {
    case zipPackage
    case sqliteDatabase
}

enum InputSniffer {
    static let zipMagics: [[UInt8]] = [[0x50, 0x4B, 0x03, 0x04], [0x50, 0x4B, 0x05, 0x06]]
    static let sqliteMagic = Array("SQLite format 3\0".utf8)

    static func sniff(_ url: URL) throws -> InputKind {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ReaderError(.fileNotFound, "No file at \(url.path).")
        }
        if isDirectory.boolValue {
            throw ReaderError(.notAFile, "\(url.path) is a folder; give the .apkg or .colpkg file exported from Anki.")
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        if let type = attributes?[.type] as? FileAttributeType, type != .typeRegular {
            throw ReaderError(.notAFile, "\(url.path) is not a regular file.")
        }
        if let size = attributes?[.size] as? NSNumber, size.int64Value == 0 {
            throw ReaderError(.emptyFile, "\(url.path) is empty (0 bytes); export the deck from Anki again.")
        }
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw ReaderError(.unreadableFile, "\(url.path) cannot be read (check its permissions).")
        }
        defer { try? handle.close() }
        let head: [UInt8]
        do {
            head = Array(try handle.read(upToCount: 16) ?? Data())
        } catch {
            throw ReaderError(.unreadableFile, "\(url.path) cannot be read (I/O error).")
        }
        if head.isEmpty {
            throw ReaderError(.emptyFile, "\(url.path) is empty (0 bytes); export the deck from Anki again.")
        }
        if zipMagics.contains(where: { head.starts(with: $0) }) { return .zipPackage }
        if head == sqliteMagic { return .sqliteDatabase }
        throw ReaderError(.unknownFormat,
                          "\(url.lastPathComponent) is not an Anki export: expected an .apkg or .colpkg package "
                          + "(a zip file) or an Anki collection database.")
    }
}
