import Foundation
import Testing

/// Paths and helpers shared by the reader tests.
enum Paths {
    /// The package root, found from this file's location.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/Fixtures")
    static let generated = fixtures.appendingPathComponent("generated")
    static let hostile = fixtures.appendingPathComponent("hostile")
    static let fuzzCorpus = fixtures.appendingPathComponent("fuzz-corpus")
    /// `../shared` beside the checkout: present on developer machines and in CI, absent elsewhere.
    static let shared = root.deletingLastPathComponent().appendingPathComponent("shared")
    static var sharedAvailable: Bool {
        FileManager.default.fileExists(atPath: shared.appendingPathComponent("fixtures").path)
    }

    static func files(in dir: URL, extensions: Set<String>) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().map { dir.appendingPathComponent($0) }.filter { extensions.contains($0.pathExtension) }
    }
}

/// A fresh folder per test, removed afterwards; tests never share scratch space.
final class ScratchDirectory {
    let url: URL

    init() throws {
        url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("anki-submit-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    var contents: [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: url.path)) ?? []).sorted()
    }

    func copy(_ file: URL, as name: String? = nil) throws -> URL {
        let destination = url.appendingPathComponent(name ?? file.lastPathComponent)
        try FileManager.default.copyItem(at: file, to: destination)
        return destination
    }
}

/// Runs a command-line tool and returns its standard output.
@discardableResult
func shell(_ arguments: [String], input: Data? = nil, stdin: String? = nil) throws
    -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let inPipe = Pipe()
    process.standardInput = inPipe
    try process.run()
    if let text = stdin { inPipe.fileHandleForWriting.write(Data(text.utf8)) }
    try inPipe.fileHandleForWriting.close()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// Counts computed independently of the reader: `unzip`, the `zstd` tool and the `sqlite3` shell.
struct ShellCounts: Equatable, CustomStringConvertible {
    var notes = 0, cards = 0, revlog = 0, decks = 0, noteTypes = 0, media = 0, schema = 0

    var description: String {
        "notes \(notes) cards \(cards) revlog \(revlog) decks \(decks) note_types \(noteTypes) media \(media) schema \(schema)"
    }

    static func of(_ file: URL, scratch: ScratchDirectory) throws -> ShellCounts {
        let db = scratch.url.appendingPathComponent("shell-copy.db")
        var media = 0
        let listing = try shell(["unzip", "-Z1", file.path])
        if listing.status == 0 {
            let entries = Set(listing.stdout.split(separator: "\n").map(String.init))
            let name = ["collection.anki21b", "collection.anki21", "collection.anki2"].first { entries.contains($0) }!
            let raw = scratch.url.appendingPathComponent("entry.bin")
            try shell(["sh", "-c", "unzip -p '\(file.path)' \(name) > '\(raw.path)'"])
            if name.hasSuffix("b") {
                try shell(["zstd", "-q", "-d", "-f", raw.path, "-o", db.path])
            } else {
                try FileManager.default.moveItem(at: raw, to: db)
            }
            if entries.contains("media") {
                let mediaRaw = scratch.url.appendingPathComponent("media.bin")
                try shell(["sh", "-c", "unzip -p '\(file.path)' media > '\(mediaRaw.path)'"])
                if name.hasSuffix("b") {
                    // Protobuf: one field-1 record per entry; `protoc --decode_raw` would also do, but
                    // counting top-level tags keeps the test free of protoc.
                    let decoded = try shell(["sh", "-c", "zstd -q -d -c '\(mediaRaw.path)' | od -An -v -tx1"])
                    media = countTopLevelRecords(hex: decoded.stdout)
                } else {
                    let json = try shell(["sqlite3", ":memory:",
                                          "SELECT count(*) FROM json_each(readfile('\(mediaRaw.path)'))"])
                    media = Int(json.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
                }
            }
        } else {
            try FileManager.default.copyItem(at: file, to: db)
        }
        func q(_ sql: String) throws -> Int {
            let r = try shell(["sqlite3", "-readonly", db.path, sql])
            return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let modern = try q("SELECT count(*) FROM sqlite_master WHERE name = 'notetypes'") == 1
        return ShellCounts(
            notes: try q("SELECT count(*) FROM notes"), cards: try q("SELECT count(*) FROM cards"),
            revlog: try q("SELECT count(*) FROM revlog"),
            decks: try q(modern ? "SELECT count(*) FROM decks NOT INDEXED" : "SELECT count(*) FROM json_each((SELECT decks FROM col))"),
            noteTypes: try q(modern ? "SELECT count(*) FROM notetypes NOT INDEXED"
                                    : "SELECT count(*) FROM json_each((SELECT models FROM col))"),
            media: media, schema: try q("SELECT ver FROM col"))
    }

    /// Counts length-delimited field-1 records at the top level of a protobuf message given as hex.
    static func countTopLevelRecords(hex: String) -> Int {
        let bytes = hex.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { UInt8($0, radix: 16) }
        var i = 0, count = 0
        while i < bytes.count {
            let tag = bytes[i]; i += 1
            guard tag == 0x0A else { return -1 }
            var length = 0, shift = 0
            while i < bytes.count {
                let b = bytes[i]; i += 1
                length |= Int(b & 0x7F) << shift
                shift += 7
                if b & 0x80 == 0 { break }
            }
            i += length
            count += 1
        }
        return count
    }
}
