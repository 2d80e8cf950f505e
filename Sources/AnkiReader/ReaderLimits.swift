import Foundation

/// Caps that keep a hostile package from filling the disk or memory. The defaults are generous enough
/// for real collections of several gigabytes.
public struct ReaderLimits: Sendable, Equatable {
    /// Most bytes all unpacked entries together may produce.
    public var maxUnpackedBytes: UInt64
    /// Most an entry may expand (unpacked / packed), checked once it has produced `ratioGraceBytes`.
    public var maxCompressionRatio: UInt64
    /// Output below this size is never judged by its ratio (small SQLite files compress very well).
    public var ratioGraceBytes: UInt64
    /// Most bytes a small metadata entry (`meta`, `media`) may unpack to.
    public var maxMetadataBytes: UInt64
    /// The work any one query over the collection may do (see `ForeignDatabase.Budget`).
    public var queryBudget: ForeignDatabase.Budget

    public init(maxUnpackedBytes: UInt64 = 32 << 30, maxCompressionRatio: UInt64 = 1_000,
                ratioGraceBytes: UInt64 = 64 << 20, maxMetadataBytes: UInt64 = 64 << 20,
                queryBudget: ForeignDatabase.Budget = .default) {
        self.maxUnpackedBytes = maxUnpackedBytes
        self.maxCompressionRatio = maxCompressionRatio
        self.ratioGraceBytes = ratioGraceBytes
        self.maxMetadataBytes = maxMetadataBytes
        self.queryBudget = queryBudget
    }

    public static let `default` = ReaderLimits()

    /// Parses sizes such as `512M`, `32G`, `1048576`.
    public static func parseSize(_ text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, UInt64)] = [("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
                                         ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("B", 1)]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            guard let n = UInt64(trimmed.dropLast(suffix.count)) else { return nil }
            let (product, overflow) = n.multipliedReportingOverflow(by: factor)
            return overflow ? nil : product
        }
        return UInt64(trimmed)
    }
}

/// Counts bytes as entries unpack and stops at the limits.
struct UnpackBudget {
    let limits: ReaderLimits
    private(set) var totalBytes: UInt64 = 0

    init(limits: ReaderLimits) { self.limits = limits }

    /// Records `count` more output bytes of an entry that has so far produced `entryOutput` bytes
    /// from `entryInput` bytes of input.
    mutating func add(_ count: Int, entryOutput: UInt64, entryInput: UInt64) throws {
        totalBytes += UInt64(count)
        if totalBytes > limits.maxUnpackedBytes {
            throw ReaderError(.unpackedSizeLimit,
                              "The package unpacks to more than \(formatBytes(limits.maxUnpackedBytes)), "
                              + "the limit (raise it with --max-unpacked-size if this is a real collection).")
        }
        try checkRatio(output: entryOutput, input: entryInput)
    }

    func checkRatio(output: UInt64, input: UInt64) throws {
        guard output > limits.ratioGraceBytes else { return }
        if output / max(input, 1) > limits.maxCompressionRatio {
            throw ReaderError(.compressionRatioLimit,
                              "The package expands more than \(limits.maxCompressionRatio) times its packed size, "
                              + "which real collections never do; it looks like a zip bomb.")
        }
    }
}

/// `1.5 GB`-style sizes for messages.
public func formatBytes(_ bytes: UInt64) -> String {
    let units = ["bytes", "KB", "MB", "GB", "TB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) bytes" : "\(String(format: "%.1f", value)) \(units[unit])"
}
