import CAnkiZstd
import Foundation

/// What went wrong while (de)compressing zstd data.
public struct ZstdError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: Equatable, Sendable {
        /// The input ended in the middle of a frame.
        case truncated
        /// The input is not zstd data, or it is damaged.
        case corrupt
        /// Decompressing would produce more bytes than the caller allows.
        case outputLimitExceeded
        /// The library could not allocate its context.
        case outOfMemory
        /// Compression failed.
        case compressionFailed
    }

    public let kind: Kind
    /// zstd's own explanation; never contains the data.
    public let detail: String

    public init(_ kind: Kind, detail: String = "") {
        self.kind = kind
        self.detail = detail
    }

    public static func == (lhs: ZstdError, rhs: ZstdError) -> Bool { lhs.kind == rhs.kind }

    public var description: String {
        switch kind {
        case .truncated: return "zstd data ends in the middle of a frame"
        case .corrupt: return "zstd data is damaged" + (detail.isEmpty ? "" : " (\(detail))")
        case .outputLimitExceeded: return "zstd data expands beyond the allowed size"
        case .outOfMemory: return "zstd could not allocate memory"
        case .compressionFailed: return "zstd compression failed" + (detail.isEmpty ? "" : " (\(detail))")
        }
    }

    static func fromCode(_ code: Int) -> ZstdError {
        let name = String(cString: ZSTD_getErrorName(code))
        switch ZSTD_getErrorCode(code) {
        case ZSTD_error_memory_allocation: return ZstdError(.outOfMemory, detail: name)
        case ZSTD_error_srcSize_wrong: return ZstdError(.truncated, detail: name)
        default: return ZstdError(.corrupt, detail: name)
        }
    }
}

/// Streaming zstd decompressor. Feed it input chunks; it hands decompressed chunks to a sink, so
/// neither side has to fit in memory. Call `finish()` at the end of the input: it throws `.truncated`
/// when the last frame is incomplete.
public final class ZstdDecompressor {
    private let stream: OpaquePointer
    private var output: [UInt8]
    private var frameOpen = false
    private var sawInput = false
    /// Total decompressed bytes produced so far.
    public private(set) var producedBytes: UInt64 = 0
    /// Total compressed bytes consumed so far.
    public private(set) var consumedBytes: UInt64 = 0
    /// Refuse to produce more than this many bytes in total.
    public let outputLimit: UInt64

    public init(outputLimit: UInt64 = .max) throws {
        guard let stream = ZSTD_createDStream() else { throw ZstdError(.outOfMemory) }
        self.stream = stream
        self.outputLimit = outputLimit
        self.output = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
        let rc = ZSTD_initDStream(stream)
        if ZSTD_isError(rc) != 0 {
            ZSTD_freeDStream(stream)
            throw ZstdError.fromCode(rc)
        }
        // Refuse frames that ask for an absurd window (a memory bomb); 2^27 = 128 MiB is zstd's default cap.
        _ = ZSTD_DCtx_setParameter(stream, ZSTD_d_windowLogMax, 27)
    }

    deinit { ZSTD_freeDStream(stream) }

    /// Decompresses one chunk of input, calling `sink` for each chunk of output.
    public func feed(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard input.count > 0, let base = input.baseAddress else { return }
        sawInput = true
        consumedBytes += UInt64(input.count)
        var inBuf = ZSTD_inBuffer(src: base, size: input.count, pos: 0)
        try output.withUnsafeMutableBytes { out in
            // Keep going while input remains or the output buffer was filled (more may be pending).
            while true {
                var outBuf = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let rc = ZSTD_decompressStream(stream, &outBuf, &inBuf)
                if ZSTD_isError(rc) != 0 { throw ZstdError.fromCode(rc) }
                frameOpen = rc != 0
                if outBuf.pos > 0 {
                    producedBytes += UInt64(outBuf.pos)
                    if producedBytes > outputLimit { throw ZstdError(.outputLimitExceeded) }
                    try sink(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<outBuf.pos]))
                }
                let outputFull = outBuf.pos == outBuf.size
                if inBuf.pos == inBuf.size && !outputFull { break }
            }
        }
    }

    /// Convenience for `Data` chunks.
    public func feed(_ input: Data, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try input.withUnsafeBytes { try feed($0, sink: sink) }
    }

    /// Confirms the input ended on a frame boundary.
    public func finish() throws {
        if !sawInput { throw ZstdError(.truncated, detail: "no data") }
        if frameOpen { throw ZstdError(.truncated) }
    }
}

/// One-shot helpers for small payloads (metadata, media maps, tests).
public enum Zstd {
    /// True when the bytes start with the zstd frame magic number.
    public static func hasFrameMagic(_ prefix: some Collection<UInt8>) -> Bool {
        Array(prefix.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD]
    }

    /// Decompresses a whole buffer, refusing to produce more than `limit` bytes.
    public static func decompress(_ data: Data, limit: UInt64) throws -> Data {
        let decompressor = try ZstdDecompressor(outputLimit: limit)
        var result = Data()
        try decompressor.feed(data) { result.append(contentsOf: $0) }
        try decompressor.finish()
        return result
    }

    /// Compresses a whole buffer into one frame (used by tests and by writers of fixtures).
    public static func compress(_ data: Data, level: Int32 = 3) throws -> Data {
        let bound = ZSTD_compressBound(data.count)
        var out = Data(count: bound)
        let written = try out.withUnsafeMutableBytes { dst -> Int in
            try data.withUnsafeBytes { src -> Int in
                let rc = ZSTD_compress(dst.baseAddress, bound, src.baseAddress, src.count, level)
                if ZSTD_isError(rc) != 0 {
                    throw ZstdError(.compressionFailed, detail: String(cString: ZSTD_getErrorName(rc)))
                }
                return rc
            }
        }
        out.count = written
        return out
    }
}

/// One-shot compression with a context kept between calls (many small buffers, e.g. Parquet pages).
public final class ZstdCompressor {
    private let context: OpaquePointer
    public let level: Int32

    public init(level: Int32 = 3) throws {
        guard let context = ZSTD_createCCtx() else { throw ZstdError(.outOfMemory) }
        self.context = context
        self.level = level
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input` into one frame appended to `output`.
    public func compress(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws {
        let bound = ZSTD_compressBound(input.count)
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: bound))
        let written = try output.withUnsafeMutableBytes { dst -> Int in
            let rc = ZSTD_compressCCtx(context, dst.baseAddress! + start, bound, input.baseAddress, input.count, level)
            if ZSTD_isError(rc) != 0 {
                throw ZstdError(.compressionFailed, detail: String(cString: ZSTD_getErrorName(rc)))
            }
            return rc
        }
        output.removeLast(bound - written)
    }
}
