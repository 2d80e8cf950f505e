#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension String {
    /// Byte-wise substring test on UTF-8. Foundation's `contains` on Linux converts to UTF-16
    /// and is an order of magnitude slower; exact byte equality is also what a leak check wants.
    public func containsBytes(_ needle: String) -> Bool {
        if needle.isEmpty { return true }
        var haystack = self
        var pattern = needle
        return haystack.withUTF8 { h in
            pattern.withUTF8 { p in
                guard h.count >= p.count, let hb = h.baseAddress, let pb = p.baseAddress else { return false }
                // memchr for the first byte, memcmp for the rest (memmem is a GNU extension Swift cannot see).
                let first = Int32(pb.pointee)
                var offset = 0
                let last = h.count - p.count
                while offset <= last {
                    guard let hit = memchr(hb + offset, first, last - offset + 1) else { return false }
                    let position = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - hb
                    if memcmp(hb + position, pb, p.count) == 0 { return true }
                    offset = position + 1
                }
                return false
            }
        }
    }
}
