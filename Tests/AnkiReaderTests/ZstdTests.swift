import AnkiZstd
import Foundation
import Testing

@Suite("zstd wrapper")
struct ZstdTests {
    let sample = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 / 7) })

    @Test func roundTrip() throws {
        let packed = try Zstd.compress(sample)
        #expect(Zstd.hasFrameMagic(packed))
        #expect(try Zstd.decompress(packed, limit: 1 << 20) == sample)
    }

    @Test("streaming in tiny chunks gives the same bytes")
    func streaming() throws {
        let packed = try Zstd.compress(sample)
        let decompressor = try ZstdDecompressor()
        var out = Data()
        var offset = 0
        while offset < packed.count {
            let end = min(offset + 7, packed.count)
            try decompressor.feed(packed[offset..<end]) { out.append(contentsOf: $0) }
            offset = end
        }
        try decompressor.finish()
        #expect(out == sample)
        #expect(decompressor.producedBytes == UInt64(sample.count))
    }

    @Test("a frame cut short is reported as truncated")
    func truncated() throws {
        let packed = try Zstd.compress(sample)
        #expect(throws: ZstdError(.truncated)) {
            _ = try Zstd.decompress(packed.prefix(packed.count / 2), limit: 1 << 20)
        }
        #expect(throws: ZstdError(.truncated)) { _ = try Zstd.decompress(Data(), limit: 1 << 20) }
    }

    @Test("garbage is reported as corrupt")
    func corrupt() throws {
        #expect(throws: ZstdError(.corrupt)) {
            _ = try Zstd.decompress(Data("not zstd at all, just text".utf8), limit: 1 << 20)
        }
    }

    @Test("the output limit stops a bomb before it is written")
    func outputLimit() throws {
        let bomb = try Zstd.compress(Data(count: 50 << 20), level: 19)
        #expect(bomb.count < 10_000)
        #expect(throws: ZstdError(.outputLimitExceeded)) { _ = try Zstd.decompress(bomb, limit: 1 << 20) }
    }
}
