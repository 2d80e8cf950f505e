@testable import AnkiReader
import Foundation
import Testing

/// The reader's own zip directory parser (`ZipFile`) on packages made by an independent producer
/// (Python's `zipfile`) and on directories altered byte by byte.
@Suite("Zip packages: many entries, ZIP64, lying directories")
struct ZipFileTests {
    static let source = Paths.generated.appendingPathComponent("berlin-legacy1.apkg")

    /// Python's zipfile writes a ZIP64 end record once a package holds more than 65,535 entries, as a
    /// collection with tens of thousands of media files does.
    @Test("a package with 70,000 media files (ZIP64 end record, made by Python's zipfile) opens with every file")
    func zip64ManyEntries() throws {
        let scratch = try ScratchDirectory()
        let out = scratch.url.appendingPathComponent("many.apkg")
        let script = """
        import json, sys, zipfile
        src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
        with zipfile.ZipFile(src) as z:
            names = z.namelist()
            media = json.loads(z.read("media"))
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as o:
                for name in names:
                    if name != "media":
                        o.writestr(name, z.read(name))
                start = len(media)
                for i in range(n):
                    key = str(start + i)
                    media[key] = "extra_%06d.mp3" % i
                    o.writestr(zipfile.ZipInfo(key), b"ID3" + bytes([i % 256]))
                o.writestr("media", json.dumps(media))
        """
        try shell(["/usr/bin/python3", "-c", script, Self.source.path, out.path, "70000"])
        let bytes = [UInt8](try Data(contentsOf: out))
        #expect(bytes.withUnsafeBytes { Data($0).range(of: Data([0x50, 0x4B, 6, 6])) } != nil, "a ZIP64 end record")
        let original = try AnkiCollection.open(Self.source)
        let expected = original.media.count + 70_000
        original.close()
        let collection = try AnkiCollection.open(out)
        defer { collection.close() }
        #expect(collection.media.count == expected)
        #expect(collection.media.last?.name == "extra_069999.mp3")
    }

    /// Offsets of the end record and of the central record of the entry named `name`.
    static func directory(_ bytes: [UInt8], entry name: String) throws -> (end: Int, record: Int) {
        let u16 = ArchiveErrorTests.u16, u32 = ArchiveErrorTests.u32
        let end = try #require((0...(bytes.count - 22)).reversed().first { u32(bytes, $0) == 0x0605_4B50 })
        var at = u32(bytes, end + 16)
        while u32(bytes, at) == 0x0201_4B50 {
            let length = u16(bytes, at + 28)
            if String(decoding: bytes[(at + 46)..<(at + 46 + length)], as: UTF8.self) == name { return (end, at) }
            at += 46 + length + u16(bytes, at + 30) + u16(bytes, at + 32)
        }
        throw ReaderError(.damagedArchive, "no entry \(name) in the fixture")
    }

    @Test("a directory whose sizes, offsets or signatures lie is damage (15), never a crash or a read elsewhere",
          arguments: ["compressed size past the directory", "offset past the directory", "local signature",
                      "uncompressed size too small", "uncompressed size too large", "entry count too large"])
    func lyingDirectory(_ lie: String) throws {
        var bytes = [UInt8](try Data(contentsOf: Self.source))
        // The media list: read on opening, and not the first entry (whose signature is the file's magic).
        let (end, record) = try Self.directory(bytes, entry: "media")
        let u32 = ArchiveErrorTests.u32
        switch lie {
        case "compressed size past the directory": ArchiveErrorTests.put32(&bytes, record + 20, 0x7FFF_0000)
        case "offset past the directory": ArchiveErrorTests.put32(&bytes, record + 42, u32(bytes, end + 16) + 10)
        case "local signature": bytes[u32(bytes, record + 42)] ^= 0xFF
        case "uncompressed size too small": ArchiveErrorTests.put32(&bytes, record + 24, u32(bytes, record + 24) / 2)
        case "uncompressed size too large": ArchiveErrorTests.put32(&bytes, record + 24, u32(bytes, record + 24) + 1)
        default:
            let count = ArchiveErrorTests.u16(bytes, end + 10) + 1
            bytes[end + 8] = UInt8(count & 0xFF); bytes[end + 9] = UInt8(count >> 8)
            bytes[end + 10] = UInt8(count & 0xFF); bytes[end + 11] = UInt8(count >> 8)
        }
        let error = try ArchiveErrorTests.refusal(bytes)
        #expect(error?.code == .damagedArchive, "\(lie): \(String(describing: error?.code))")
    }

    @Test("an encrypted entry is refused as not made by Anki (33)")
    func encrypted() throws {
        var bytes = [UInt8](try Data(contentsOf: Self.source))
        let (_, record) = try Self.directory(bytes, entry: "collection.anki2")
        bytes[record + 8] |= 1
        bytes[ArchiveErrorTests.u32(bytes, record + 42) + 6] |= 1
        let error = try ArchiveErrorTests.refusal(bytes)
        #expect(error?.code == .unsupportedCompression, "\(String(describing: error?.code))")
    }
}

/// The media list's own reader agrees with Foundation's on every list it accepts, and leaves every
/// other text to Foundation (nil).
@Suite("Media list JSON")
struct MediaMapJSONTests {
    @Test("plain lists agree with JSONSerialization", arguments: [
        #"{"0": "a.jpg", "1": "b c.mp3"}"#, "{}", " {\n\"10\":\"ü.png\" } ",
    ])
    func agrees(_ text: String) throws {
        let ours = Array(text.utf8).withUnsafeBytes { MediaMapJSON.parse($0) }
        let foundation = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        #expect(ours != nil)
        #expect(ours == foundation)
    }

    @Test("escapes, other values, a key twice and damage are left to Foundation", arguments: [
        #"{"0":"x","0":"y"}"#, #"{"0": "a\"b.jpg"}"#, #"{"0": 1}"#, #"{"0": "a.jpg",}"#, #"{"0": "a.jpg"} x"#,
        #"["a"]"#, #"{"0": "a"#, "", "{\"0\": \"a\tb\"}",
    ])
    func leftToFoundation(_ text: String) {
        #expect(Array(text.utf8).withUnsafeBytes { MediaMapJSON.parse($0) } == nil)
    }
}
