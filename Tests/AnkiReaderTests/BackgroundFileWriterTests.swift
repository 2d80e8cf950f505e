@testable import AnkiReader
import Foundation
import Testing

/// The collection is written to its working copy by a second thread: every byte in order, a failed
/// write reported, and a cancelled writer stopped without hanging.
@Suite struct BackgroundFileWriterTests {
    /// A new file in the temporary folder, open for writing (or, `readOnly`, open so that writes
    /// fail); closed and removed when the value goes away.
    final class ScratchFile {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("writer-\(UUID().uuidString)")
        let fd: Int32

        init(readOnly: Bool = false) throws {
            try #require(FileManager.default.createFile(atPath: url.path, contents: Data()))
            fd = open(url.path, readOnly ? O_RDONLY : O_WRONLY)
            try #require(fd >= 0)
        }

        deinit {
            if fd >= 0 { close(fd) }
            try? FileManager.default.removeItem(at: url)
        }
    }

    @Test("bytes in pieces of every size arrive in order, across buffer boundaries")
    func roundTrip() throws {
        let file = try ScratchFile()
        var expected = Data()
        var state: UInt64 = 42
        do {
            let writer = BackgroundFileWriter(fd: file.fd, bufferSize: 4096, buffers: 2)
            for round in 0..<600 {
                // Sizes from 0 to three buffers and a bit, varied by a fixed generator.
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let size = round % 50 == 0 ? 0 : Int((state >> 33) % 13_000)
                let piece = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ round) })
                expected.append(piece)
                try piece.withUnsafeBytes { try writer.append($0) }
            }
            try writer.finish()
            try writer.finish()   // twice is harmless
        }
        #expect(try Data(contentsOf: file.url) == expected)
        #expect(expected.count > 1_000_000)
    }

    @Test("a write that fails is reported, by append or by finish")
    func failure() throws {
        let file = try ScratchFile(readOnly: true)
        let writer = BackgroundFileWriter(fd: file.fd, bufferSize: 1024, buffers: 2)
        let piece = Data(repeating: 7, count: 10_000)
        #expect(throws: BackgroundFileWriter.WriteFailed.self) {
            for _ in 0..<100 { try piece.withUnsafeBytes { try writer.append($0) } }
            try writer.finish()
        }
    }

    @Test("a writer cancelled halfway stops (and one dropped unfinished does too)")
    func cancel() throws {
        let file = try ScratchFile()
        let piece = Data(repeating: 1, count: 5000)
        let writer = BackgroundFileWriter(fd: file.fd, bufferSize: 1024, buffers: 2)
        for _ in 0..<20 { try piece.withUnsafeBytes { try writer.append($0) } }
        writer.cancel()
        writer.cancel()
        do {
            let dropped = BackgroundFileWriter(fd: file.fd, bufferSize: 1024, buffers: 2)
            try piece.withUnsafeBytes { try dropped.append($0) }
        }
        #expect(try Data(contentsOf: file.url).count <= 200_000)
    }
}
