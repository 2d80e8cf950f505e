#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exact byte search: what a leak check wants, and much faster than Foundation's `contains`, which on
/// Linux converts both texts to UTF-16 first.
public enum ByteSearch {
    /// True when `needle` occurs in `haystack` (an empty needle always does).
    public static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: UnsafeRawBufferPointer) -> Bool {
        if needle.isEmpty { return true }
        guard haystack.count >= needle.count, let hb = haystack.baseAddress, let pb = needle.baseAddress else {
            return false
        }
        // memchr for the first byte, memcmp for the rest (memmem is a GNU extension Swift cannot see).
        let first = Int32(pb.load(as: UInt8.self))
        var offset = 0
        let last = haystack.count - needle.count
        while offset <= last {
            guard let hit = memchr(hb + offset, first, last - offset + 1) else { return false }
            let position = UnsafeRawPointer(hit) - hb
            if memcmp(hb + position, pb, needle.count) == 0 { return true }
            offset = position + 1
        }
        return false
    }
}

extension String {
    /// Byte-wise substring test on UTF-8 (see `ByteSearch`).
    public func containsBytes(_ needle: String) -> Bool {
        if needle.isEmpty { return true }
        var haystack = self
        var pattern = needle
        return haystack.withUTF8 { h in
            pattern.withUTF8 { p in ByteSearch.contains(UnsafeRawBufferPointer(h), UnsafeRawBufferPointer(p)) }
        }
    }
}
