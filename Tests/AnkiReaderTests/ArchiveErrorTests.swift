import AnkiReader
import Foundation
import Testing

/// Broken packages get the code of what is really wrong with them, in plain words that name no file
/// of the tool's own.
@Suite("Package errors are named right")
struct ArchiveErrorTests {
    static let source = Paths.generated.appendingPathComponent("berlin-legacy1.apkg")

    static func u16(_ bytes: [UInt8], _ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
    static func u32(_ bytes: [UInt8], _ i: Int) -> Int { u16(bytes, i) | u16(bytes, i + 2) << 16 }
    static func put32(_ bytes: inout [UInt8], _ i: Int, _ value: Int) {
        for k in 0..<4 { bytes[i + k] = UInt8((value >> (8 * k)) & 0xFF) }
    }

    /// Writes `bytes` to a scratch file and returns the reader's refusal.
    static func refusal(_ bytes: [UInt8]) throws -> ReaderError? {
        let scratch = try ScratchDirectory()
        let file = scratch.url.appendingPathComponent("broken.apkg")
        try Data(bytes).write(to: file)
        return try HostileInputTests.refusal(file)
    }

    @Test("a central directory cut short is damage (15), not a package without a collection (21)")
    func truncatedCentralDirectory() throws {
        var bytes = [UInt8](try Data(contentsOf: Self.source))
        let end = try #require((0...(bytes.count - 22)).reversed().first { Self.u32(bytes, $0) == 0x0605_4B50 })
        let size = Self.u32(bytes, end + 12), offset = Self.u32(bytes, end + 16)
        // Drop the directory's first record (the collection); the end record still counts it.
        let first = 46 + Self.u16(bytes, offset + 28) + Self.u16(bytes, offset + 30) + Self.u16(bytes, offset + 32)
        bytes.removeSubrange(offset..<(offset + first))
        let newEnd = end - first
        Self.put32(&bytes, newEnd + 12, size - first)
        let error = try Self.refusal(bytes)
        #expect(error?.code == .damagedArchive, "\(String(describing: error?.code))")
    }

    @Test("bzip2 and LZMA entries are unsupported (33), not damaged", arguments: [12, 14])
    func unsupportedCompression(_ method: Int) throws {
        var bytes = [UInt8](try Data(contentsOf: Self.source))
        // Every local header and central record says the entry uses `method`.
        var i = 0
        while i + 46 < bytes.count {
            if Self.u32(bytes, i) == 0x0403_4B50 { bytes[i + 8] = UInt8(method); bytes[i + 9] = 0 }
            if Self.u32(bytes, i) == 0x0201_4B50 { bytes[i + 10] = UInt8(method); bytes[i + 11] = 0 }
            i += 1
        }
        let error = try Self.refusal(bytes)
        #expect(error?.code == .unsupportedCompression, "\(String(describing: error?.code))")
        #expect(error?.message.contains("compress") == true)
    }

    @Test("a collection that unpacks to zeros is not a database (25), and no internal name is shown")
    func zeros() throws {
        let error = try HostileInputTests.refusal(Paths.hostile.appendingPathComponent("deflate-bomb.apkg"))
        #expect(error?.code == .notAnAnkiCollection, "\(String(describing: error?.code))")
        #expect(error?.message.contains("collection.sqlite") == false, "\(error?.message ?? "")")
    }
}
