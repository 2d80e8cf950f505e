import CAnkiPCRE2
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from compiling or running a PCRE2 pattern. Never carries the subject text.
public struct PCRE2Error: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: Equatable, Sendable {
        /// The pattern does not compile; `offset` is where PCRE2 stopped.
        case compile(offset: Int)
        /// The match hit the configured match or depth limit (a pathological pattern/subject pair).
        case limitExceeded
        /// The subject is not valid UTF-8.
        case invalidUTF8
        /// Any other matching failure.
        case match
        /// Allocation failed.
        case outOfMemory
    }

    public let kind: Kind
    public let code: Int32
    public let message: String

    init(_ kind: Kind, code: Int32) {
        self.kind = kind
        self.code = code
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBufferPointer { pcre2_get_error_message_8(code, $0.baseAddress, 256) }
        self.message = n > 0 ? String(decoding: buffer[0..<Int(n)], as: UTF8.self) : "PCRE2 error \(code)"
    }

    public var description: String {
        switch kind {
        case .compile(let offset): return "pattern does not compile at offset \(offset): \(message)"
        case .limitExceeded: return "pattern matching gave up (match or depth limit reached)"
        case .invalidUTF8: return "text is not valid UTF-8"
        case .match, .outOfMemory: return message
        }
    }
}

/// Match data kept per thread and reused by every pattern: creating and freeing it for each call
/// cost more than most matches. Freed when the thread ends.
private enum ThreadMatchData {
    static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { pointer in
            pcre2_match_data_free_8(OpaquePointer(pointer))
        }
        precondition(status == 0, "pthread_key_create failed")
        return key
    }()

    /// This thread's match data, with room for at least `pairs` offset pairs; nil when out of memory.
    @inline(__always)
    static func get(pairs: UInt32) -> OpaquePointer? {
        if let raw = pthread_getspecific(key) {
            let data = OpaquePointer(raw)
            if pcre2_get_ovector_count_8(data) >= pairs { return data }
            pcre2_match_data_free_8(data)
            pthread_setspecific(key, nil)
        }
        guard let data = pcre2_match_data_create_8(max(pairs, 16), nil) else { return nil }
        pthread_setspecific(key, UnsafeRawPointer(data))
        return data
    }
}

/// A compiled, JIT-accelerated PCRE2 pattern in UTF + UCP mode with match and depth limits,
/// safe to use from several threads (each thread has its own match data).
public final class PCRE2Regex: @unchecked Sendable {
    public struct Options: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let caseless = Options(rawValue: UInt32(PCRE2_CASELESS))
        public static let multiline = Options(rawValue: UInt32(PCRE2_MULTILINE))
        public static let extended = Options(rawValue: UInt32(PCRE2_EXTENDED))
        public static let dotAll = Options(rawValue: UInt32(PCRE2_DOTALL))
    }

    private let code: OpaquePointer
    private let matchContext: OpaquePointer
    /// True when JIT compilation succeeded (it can be unavailable on some CPUs).
    public let isJITCompiled: Bool
    public let pattern: String
    /// Capture groups in the pattern.
    public let captureCount: Int

    /// Compiles `pattern`. Limits bound the work one match may do on hostile text.
    public init(_ pattern: String, options: Options = [], matchLimit: UInt32 = 1_000_000,
                depthLimit: UInt32 = 10_000) throws {
        self.pattern = pattern
        var errorCode: Int32 = 0
        var errorOffset = 0
        let flags = UInt32(PCRE2_UTF) | UInt32(PCRE2_UCP) | options.rawValue
        let compiled = pattern.withCString { ptr in
            ptr.withMemoryRebound(to: UInt8.self, capacity: pattern.utf8.count) {
                pcre2_compile_8($0, pattern.utf8.count, flags, &errorCode, &errorOffset, nil)
            }
        }
        guard let compiled else { throw PCRE2Error(.compile(offset: errorOffset), code: errorCode) }
        guard let context = pcre2_match_context_create_8(nil) else {
            pcre2_code_free_8(compiled)
            throw PCRE2Error(.outOfMemory, code: PCRE2_ERROR_NOMEMORY)
        }
        pcre2_set_match_limit_8(context, matchLimit)
        pcre2_set_depth_limit_8(context, depthLimit)
        var captures: UInt32 = 0
        pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_CAPTURECOUNT), &captures)
        self.captureCount = Int(captures)
        self.code = compiled
        self.matchContext = context
        self.isJITCompiled = pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE)) == 0
    }

    deinit {
        pcre2_match_context_free_8(matchContext)
        pcre2_code_free_8(code)
    }

    /// Every non-overlapping match in `subject`, as UTF-8 byte ranges (with the ranges of each
    /// capture group, `nil` where a group did not take part). `subject` must be valid UTF-8;
    /// it is checked once, on the first call, unless `checkUTF8` is false (the caller vouches for it:
    /// invalid UTF-8 then has undefined results). Matching starts at `startOffset` (a character
    /// boundary): lookbehinds still see the bytes before it.
    public func matches(in subject: UnsafeBufferPointer<UInt8>, checkUTF8: Bool = true,
                        startOffset: Int = 0) throws -> [PCRE2Match] {
        guard let matchData = ThreadMatchData.get(pairs: UInt32(captureCount + 1)) else {
            throw PCRE2Error(.outOfMemory, code: PCRE2_ERROR_NOMEMORY)
        }
        let base = subject.baseAddress ?? UnsafePointer(bitPattern: 1)!
        var results: [PCRE2Match] = []
        var start = min(max(startOffset, 0), subject.count)
        var extraFlags: UInt32 = checkUTF8 ? 0 : UInt32(PCRE2_NO_UTF_CHECK)
        while start <= subject.count {
            let rc = pcre2_match_8(code, base, subject.count, start, extraFlags, matchData, matchContext)
            // Validate UTF-8 once; later calls on the same subject skip the check (it dominates cost).
            extraFlags |= UInt32(PCRE2_NO_UTF_CHECK)
            if rc == PCRE2_ERROR_NOMATCH { break }
            if rc < 0 { throw Self.error(for: rc) }
            let ovector = pcre2_get_ovector_pointer_8(matchData)!
            let pairs = captureCount + 1
            let unset = canki_pcre2_unset()
            var groups: [Range<Int>?] = []
            if pairs > 1 { groups.reserveCapacity(pairs - 1) }
            for i in stride(from: 1, to: pairs, by: 1) {
                let s = ovector[2 * i], e = ovector[2 * i + 1]
                groups.append(s == unset ? nil : Int(s)..<Int(e))
            }
            let matchStart = Int(ovector[0]), matchEnd = Int(ovector[1])
            results.append(PCRE2Match(range: matchStart..<matchEnd, groups: groups))
            if matchEnd > matchStart {
                start = matchEnd
            } else {
                // Empty match: step over one whole UTF-8 character.
                start = matchEnd + 1
                while start < subject.count && (subject[start] & 0xC0) == 0x80 { start += 1 }
            }
        }
        return results
    }

    /// Convenience for Swift strings (ranges are UTF-8 byte offsets).
    public func matches(in subject: String) throws -> [PCRE2Match] {
        var copy = subject
        return try copy.withUTF8 { try matches(in: $0) }
    }

    /// True when the pattern matches anywhere in `subject`.
    public func firstMatch(in subject: UnsafeBufferPointer<UInt8>) throws -> PCRE2Match? {
        guard let matchData = ThreadMatchData.get(pairs: UInt32(captureCount + 1)) else {
            throw PCRE2Error(.outOfMemory, code: PCRE2_ERROR_NOMEMORY)
        }
        let base = subject.baseAddress ?? UnsafePointer(bitPattern: 1)!
        let rc = pcre2_match_8(code, base, subject.count, 0, 0, matchData, matchContext)
        if rc == PCRE2_ERROR_NOMATCH { return nil }
        if rc < 0 { throw Self.error(for: rc) }
        let ovector = pcre2_get_ovector_pointer_8(matchData)!
        return PCRE2Match(range: Int(ovector[0])..<Int(ovector[1]), groups: [])
    }

    private static func error(for rc: Int32) -> PCRE2Error {
        switch rc {
        case PCRE2_ERROR_MATCHLIMIT, PCRE2_ERROR_DEPTHLIMIT, PCRE2_ERROR_HEAPLIMIT, PCRE2_ERROR_JIT_STACKLIMIT:
            return PCRE2Error(.limitExceeded, code: rc)
        case PCRE2_ERROR_NOMEMORY:
            return PCRE2Error(.outOfMemory, code: rc)
        case PCRE2_ERROR_UTF8_ERR21...PCRE2_ERROR_UTF8_ERR1:
            return PCRE2Error(.invalidUTF8, code: rc)
        default:
            return PCRE2Error(.match, code: rc)
        }
    }
}

/// One match: the whole range and the capture groups, as UTF-8 byte offsets.
public struct PCRE2Match: Equatable, Sendable {
    public let range: Range<Int>
    public let groups: [Range<Int>?]
}
