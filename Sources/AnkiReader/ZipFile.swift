import CAnkiZlib
import Foundation

/// A zip file read for unpacking: its central directory parsed in one read, and entries streamed
/// through zlib on request.
///
/// Not ZIPFoundation's `Archive`: to list entries it reads every entry's local header as well, with a
/// seek and several small reads each, which made opening a package with 50,000 media files take a
/// second (100,000 system calls) where this takes a few milliseconds. Only what Anki writes is
/// supported: stored and deflated entries, ZIP64 sizes and offsets; no encryption.
final class ZipFile {
    struct Entry {
        /// The name as written, decoded as UTF-8 (Anki writes ASCII names).
        let name: String
        let method: UInt16
        let flags: UInt16
        let crc32: UInt32
        let compressedSize: UInt64
        let uncompressedSize: UInt64
        let localHeaderOffset: UInt64
        /// A folder or a symbolic link (from the Unix mode bits, or a name ending in `/`).
        let isFileType: Bool

        var isEncrypted: Bool { flags & 1 != 0 }
    }

    enum Failure: Error {
        /// Not a zip file, or its directory is cut short or inconsistent.
        case damaged
        /// An entry compressed with something other than stored or deflate.
        case unsupportedMethod
        /// An encrypted entry (Anki never encrypts).
        case encrypted
        /// The file could not be read (I/O error).
        case unreadable
    }

    static let stored: UInt16 = 0
    static let deflated: UInt16 = 8

    private let fd: Int32
    let fileSize: UInt64
    /// Entries in directory order.
    let entries: [Entry]
    /// Where the central directory starts: no entry's data may reach past it.
    private let directoryOffset: UInt64

    /// Opens and lists `url`. `maxDirectoryBytes` bounds the central directory read into memory.
    init(url: URL, maxDirectoryBytes: UInt64) throws {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure.unreadable }
        var ok = false
        defer { if !ok { close(fd) } }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Failure.unreadable }
        let size = UInt64(info.st_size)
        guard size >= 22 else { throw Failure.damaged }

        // The end record: the last one whose comment reaches exactly to the end of the file.
        let tailLength = Int(min(size, 22 + 65535 + 20))
        let tail = try Self.read(fd, at: size - UInt64(tailLength), count: tailLength)
        var position = tail.count - 22
        while position >= 0 {
            if tail[position] == 0x50, tail[position + 1] == 0x4B, tail[position + 2] == 5, tail[position + 3] == 6,
               position + 22 + Int(Self.u16(tail, position + 20)) == tail.count {
                break
            }
            position -= 1
        }
        guard position >= 0 else { throw Failure.damaged }
        let endOffset = size - UInt64(tailLength) + UInt64(position)
        var count = UInt64(Self.u16(tail, position + 10))
        var directorySize = UInt64(Self.u32(tail, position + 12))
        var directoryOffset = UInt64(Self.u32(tail, position + 16))
        var directoryEnd = endOffset
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: the locator just before the end record gives the ZIP64 end record's offset.
            let locator = position - 20
            guard locator >= 0, Self.u32(tail, locator) == 0x0706_4B50 else { throw Failure.damaged }
            let recordOffset = Self.u64(tail, locator + 8)
            guard recordOffset <= endOffset &- 56, endOffset >= 56 + 20 else { throw Failure.damaged }
            let record = try Self.read(fd, at: recordOffset, count: 56)
            guard Self.u32(record, 0) == 0x0606_4B50 else { throw Failure.damaged }
            count = Self.u64(record, 32)
            directorySize = Self.u64(record, 40)
            directoryOffset = Self.u64(record, 48)
            directoryEnd = recordOffset
        }
        // Every directory entry takes at least 46 bytes; the directory lies before the end records.
        guard directorySize <= maxDirectoryBytes, directoryOffset <= directoryEnd,
              directorySize <= directoryEnd - directoryOffset, count <= directorySize / 46 else {
            throw Failure.damaged
        }
        let directory = try Self.read(fd, at: directoryOffset, count: Int(directorySize))

        var entries: [Entry] = []
        entries.reserveCapacity(Int(count))
        var at = 0
        for _ in 0..<count {
            guard at + 46 <= directory.count, Self.u32(directory, at) == 0x0201_4B50 else { throw Failure.damaged }
            let madeBy = Self.u16(directory, at + 4)
            let flags = Self.u16(directory, at + 8)
            let method = Self.u16(directory, at + 10)
            let crc = Self.u32(directory, at + 16)
            var compressed = UInt64(Self.u32(directory, at + 20))
            var uncompressed = UInt64(Self.u32(directory, at + 24))
            let nameLength = Int(Self.u16(directory, at + 28))
            let extraLength = Int(Self.u16(directory, at + 30))
            let commentLength = Int(Self.u16(directory, at + 32))
            let external = Self.u32(directory, at + 38)
            var offset = UInt64(Self.u32(directory, at + 42))
            let nameStart = at + 46
            let extraStart = nameStart + nameLength
            let next = extraStart + extraLength + commentLength
            guard next <= directory.count else { throw Failure.damaged }
            // ZIP64 extra field: the 64-bit values of exactly the fields saturated above, in this order.
            if compressed == 0xFFFF_FFFF || uncompressed == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
                var field = extraStart
                var found = false
                while field + 4 <= extraStart + extraLength {
                    let id = Self.u16(directory, field)
                    let length = Int(Self.u16(directory, field + 2))
                    guard field + 4 + length <= extraStart + extraLength else { throw Failure.damaged }
                    if id == 1 {
                        var value = field + 4
                        func take() throws -> UInt64 {
                            guard value + 8 <= field + 4 + length else { throw Failure.damaged }
                            defer { value += 8 }
                            return Self.u64(directory, value)
                        }
                        if uncompressed == 0xFFFF_FFFF { uncompressed = try take() }
                        if compressed == 0xFFFF_FFFF { compressed = try take() }
                        if offset == 0xFFFF_FFFF { offset = try take() }
                        found = true
                        break
                    }
                    field += 4 + length
                }
                guard found else { throw Failure.damaged }
            }
            let nameBytes = directory[nameStart..<extraStart]
            let name = String(decoding: nameBytes, as: UTF8.self)
            let mode = madeBy >> 8 == 3 ? external >> 16 : 0
            let fileType = mode & 0o170000
            let isFile = !(fileType == 0o040000 || fileType == 0o120000 || nameBytes.last == UInt8(ascii: "/"))
            entries.append(Entry(name: name, method: method, flags: flags, crc32: crc, compressedSize: compressed,
                                 uncompressedSize: uncompressed, localHeaderOffset: offset, isFileType: isFile))
            at = next
        }
        self.fd = fd
        self.fileSize = size
        self.entries = entries
        self.directoryOffset = directoryOffset
        ok = true
    }

    deinit { close(fd) }

    /// Streams the entry's unpacked bytes to `sink` in chunks of at most `chunkSize`. The caller checks
    /// the CRC-32 (it sees every byte). More output than the directory declares is damage.
    func extract(_ entry: Entry, chunkSize: Int = 1 << 20, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !entry.isEncrypted else { throw Failure.encrypted }
        guard entry.method == Self.stored || entry.method == Self.deflated else { throw Failure.unsupportedMethod }
        guard entry.localHeaderOffset <= directoryOffset &- 30, directoryOffset >= 30 else { throw Failure.damaged }
        let header = try Self.read(fd, at: entry.localHeaderOffset, count: 30)
        guard Self.u32(header, 0) == 0x0403_4B50 else { throw Failure.damaged }
        let dataOffset = entry.localHeaderOffset + 30 + UInt64(Self.u16(header, 26)) + UInt64(Self.u16(header, 28))
        guard dataOffset <= directoryOffset, entry.compressedSize <= directoryOffset - dataOffset else {
            throw Failure.damaged
        }
        var input = [UInt8](repeating: 0, count: min(chunkSize, Int(clamping: max(entry.compressedSize, 1))))
        var remaining = entry.compressedSize
        var position = dataOffset

        if entry.method == Self.stored {
            guard entry.compressedSize == entry.uncompressedSize else { throw Failure.damaged }
            while remaining > 0 {
                let want = Int(min(UInt64(input.count), remaining))
                try input.withUnsafeMutableBytes { buffer in
                    try Self.readFully(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: position)
                    try sink(UnsafeRawBufferPointer(rebasing: buffer[0..<want]))
                }
                remaining -= UInt64(want)
                position += UInt64(want)
            }
            return
        }

        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure.unreadable
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: chunkSize)
        var produced: UInt64 = 0
        var finished = false
        while !finished {
            let want = Int(min(UInt64(input.count), remaining))
            if want > 0 {
                try input.withUnsafeMutableBytes { buffer in
                    try Self.readFully(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: position)
                }
                remaining -= UInt64(want)
                position += UInt64(want)
            }
            try input.withUnsafeMutableBufferPointer { inputBuffer in
                stream.next_in = inputBuffer.baseAddress
                stream.avail_in = UInt32(want)
                repeat {
                    let status: Int32 = output.withUnsafeMutableBufferPointer { outputBuffer in
                        stream.next_out = outputBuffer.baseAddress
                        stream.avail_out = UInt32(outputBuffer.count)
                        return inflate(&stream, Z_NO_FLUSH)
                    }
                    let count = output.count - Int(stream.avail_out)
                    produced += UInt64(count)
                    guard produced <= entry.uncompressedSize else { throw Failure.damaged }
                    if count > 0 { try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<count])) } }
                    switch status {
                    case Z_STREAM_END: finished = true
                    case Z_OK: break
                    case Z_BUF_ERROR where count == 0: break   // needs more input
                    default: throw Failure.damaged
                    }
                } while !finished && stream.avail_out == 0
                // Input left over after the end of the stream, or the end never came: damage.
                if finished && stream.avail_in != 0 { throw Failure.damaged }
            }
            if !finished && want == 0 { throw Failure.damaged }
        }
        guard produced == entry.uncompressedSize, remaining == 0 else { throw Failure.damaged }
    }

    // MARK: - Reading

    private static func read(_ fd: Int32, at offset: UInt64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try readFully(fd, into: $0, at: offset) }
        return bytes
    }

    private static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure.unreadable
            }
            // The file ends before the directory says it does.
            guard n > 0 else { throw Failure.damaged }
            done += n
        }
    }

    private static func u16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    private static func u32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(u16(b, i)) | UInt32(u16(b, i + 2)) << 16 }
    private static func u64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(u32(b, i)) | UInt64(u32(b, i + 4)) << 32 }
}
