import Foundation

/// Something the researcher has to act on, with its own exit code and a message in plain words.
/// Messages never contain a token, a token hash, a key or card content.
public struct ResearchError: Error, CustomStringConvertible, Sendable {
    public struct Code: RawRepresentable, Hashable, Sendable, CaseIterable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// Another research command holds the dataset's lock.
        public static let datasetLocked = Code(rawValue: 60)
        /// The key file is missing, unreadable, readable by others, or not this dataset's key.
        public static let keyFile = Code(rawValue: 61)
        /// The dataset is not an anki-submit dataset, is from a newer tool, or cannot be opened.
        public static let dataset = Code(rawValue: 62)
        /// The withdrawal journal is missing, unreadable, or was replaced by a shorter file.
        public static let journal = Code(rawValue: 63)
        /// A withdrawal token given on the command line is malformed.
        public static let invalidToken = Code(rawValue: 65)
        /// The release folder already exists.
        public static let releaseExists = Code(rawValue: 66)
        /// No participant consented to the public release.
        public static let nothingToRelease = Code(rawValue: 67)
        /// Writing failed (disk full, permissions).
        public static let writeFailure = Code(rawValue: 68)
        /// The HTTP endpoint could not start (address in use, bad address).
        public static let serverFailure = Code(rawValue: 69)
        /// Ingest finished, but some files were quarantined (listed in the report).
        public static let quarantined = Code(rawValue: 70)
        /// `research serve`: the spool folder cannot be created, is not a folder, or is not writable.
        public static let spool = Code(rawValue: 71)
        /// `research serve`: the study profile (`--study`) cannot be read or is invalid.
        public static let studyProfile = Code(rawValue: 72)

        public static let allCases: [Code] = [
            .datasetLocked, .keyFile, .dataset, .journal, .invalidToken, .releaseExists, .nothingToRelease,
            .writeFailure, .serverFailure, .quarantined, .spool, .studyProfile,
        ]

        public var summary: String {
            switch self {
            case .datasetLocked: return "another research command is using the dataset"
            case .keyFile: return "the researcher key file is missing, unsafe, or not this dataset's"
            case .dataset: return "the dataset cannot be opened or is not an anki-submit dataset"
            case .journal: return "the withdrawal journal cannot be read or was replaced"
            case .invalidToken: return "the withdrawal token is malformed"
            case .releaseExists: return "the release folder already exists"
            case .nothingToRelease: return "no participant consented to the public release"
            case .writeFailure: return "writing failed (disk full?)"
            case .serverFailure: return "the study's server (`research serve`, `serve-withdrawals`) could not start"
            case .quarantined: return "ingest finished, but some files were quarantined"
            case .spool: return "the spool folder of `research serve` cannot be used"
            case .studyProfile: return "the study profile cannot be read or is invalid"
            default: return "research error"
            }
        }
    }

    public let code: Code
    public let description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}

/// Small shared helpers: time stamps, hex, durable writes.
enum Clock {
    static func isoNow() -> String { iso(Date()) }

    /// `yyyy-MM-ddTHH:mm:ssZ` in UTC, the whole second (what `ISO8601DateFormatter` with
    /// `.withInternetDateTime` writes), without building a formatter per call: ingest stamps two
    /// rows per submission and a formatter cost more than the rest of a small file's bookkeeping.
    static func iso(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "1970-01-01T00:00:00Z" }
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let year = Int(parts.tm_year) + 1900
        let yearText = year >= 0 && year < 1000 ? String(repeating: "0", count: 4 - String(year).count) + String(year)
            : String(year)
        return "\(yearText)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    static func day(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }
}

extension Sequence where Element == UInt8 {
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

enum Durable {
    /// Writes `data` to `url` through a temporary name, fsyncs, renames, fsyncs the folder.
    static func write(_ data: Data, to url: URL, mode: mode_t = 0o644) throws {
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw ResearchError(.writeFailure, "Cannot write \(url.path).") }
        fchmod(fd, mode)
        let ok = data.withUnsafeBytes { writeAll(fd, $0) } && fsync(fd) == 0
        close(fd)
        guard ok, rename(temp.path, url.path) == 0 else {
            unlink(temp.path)
            throw ResearchError(.writeFailure, "Cannot write \(url.path) (disk full?).")
        }
        syncDirectory(url.deletingLastPathComponent())
    }

    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let n = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    static func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}

/// Replaces control characters so names from strangers' files cannot garble a terminal or a report.
func printable(_ text: String, limit: Int = 200) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        if out.unicodeScalars.count >= limit {
            out += "…"
            break
        }
        if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
            out += "?"
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// `ANKI_SUBMIT_RESEARCH_TIMINGS=1` prints the wall time of each ingest phase per file on stderr
/// (for benchmarking; never any content).
enum Timings {
    static let enabled = ProcessInfo.processInfo.environment["ANKI_SUBMIT_RESEARCH_TIMINGS"] == "1"

    static func measure<T>(_ label: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            FileHandle.standardError.write(Data(String(format: "  [timing] %@ %.0f ms\n", label(), ms).utf8))
        }
        return try body()
    }
}
