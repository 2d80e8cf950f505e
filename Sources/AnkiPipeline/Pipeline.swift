import AnkiReader
import AnkiScanner
import AnkiSubmission
import Foundation
import GRDB

/// One step of `prepare`. Like a lint rule: a static name, reads the policy from the context, does its
/// part, and reports what it did (counts, never content) instead of printing.
public protocol PipelineStage: Sendable {
    static var name: String { get }
    /// One line for the report and `--help`: what this stage guarantees.
    static var summary: String { get }
    func run(_ context: PipelineContext) throws
}

/// What each stage did, in order. Printed by `prepare` and stored in the submission's manifest.
public final class PipelineReport: @unchecked Sendable {
    public struct Entry: Sendable, Equatable {
        public let stage: String
        public var counts: [(String, Int)]
        public var notes: [String]

        public static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.stage == rhs.stage && lhs.notes == rhs.notes
                && lhs.counts.map(\.0) == rhs.counts.map(\.0) && lhs.counts.map(\.1) == rhs.counts.map(\.1)
        }
    }

    public private(set) var entries: [Entry] = []
    /// Wall-clock, process CPU and calling-thread CPU seconds per stage (printed with `--timings`;
    /// never stored in the submission). Process CPU above wall means the stage used both cores; the
    /// thread's share is what the stage itself cost on the thread that runs the pipeline.
    public private(set) var durations: [(stage: String, lap: StageClock.Lap)] = []

    public func finished(_ stage: String, _ lap: StageClock.Lap) { durations.append((stage, lap)) }

    public var timingText: String {
        durations.map {
            "  \($0.stage): " + String(format: "%.3f s wall, %.3f s CPU (this thread %.3f s)",
                                        $0.lap.wall, $0.lap.processCPU, $0.lap.threadCPU)
        }.joined(separator: "\n")
    }

    func begin(_ stage: String) { entries.append(Entry(stage: stage, counts: [], notes: [])) }

    /// Records a count for the running stage.
    public func count(_ key: String, _ value: Int) { entries[entries.count - 1].counts.append((key, value)) }

    /// Records a count for an earlier stage (work it started that finished later).
    func count(_ key: String, _ value: Int, stage: String) {
        guard let index = entries.lastIndex(where: { $0.stage == stage }) else { return count(key, value) }
        entries[index].counts.append((key, value))
    }

    /// Records a remark for the running stage (no card content, ids or secrets).
    public func note(_ text: String) { entries[entries.count - 1].notes.append(text) }

    public func value(_ stage: String, _ key: String) -> Int? {
        entries.first { $0.stage == stage }?.counts.first { $0.0 == key }?.1
    }

    public var text: String {
        entries.map { entry in
            var line = "  \(entry.stage):"
            if !entry.counts.isEmpty { line += " " + entry.counts.map { "\($0.0) \($0.1)" }.joined(separator: ", ") }
            for note in entry.notes { line += (entry.counts.isEmpty ? " " : "; ") + note }
            return line
        }.joined(separator: "\n")
    }

    public var json: String {
        let array: [[String: Any]] = entries.map { entry in
            var counts: [String: Int] = [:]
            for (key, value) in entry.counts { counts[key] = value }
            return ["stage": entry.stage, "counts": counts, "notes": entry.notes]
        }
        let data = (try? JSONSerialization.data(withJSONObject: array, options: [.sortedKeys])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Everything `prepare` was asked to do.
public struct PrepareOptions: Sendable {
    public var outputDirectory: URL
    /// Leave out every note the scanner flags.
    public var excludeFlagged = false
    public var timeZone: TimeZone
    /// nil: the collection's own setting, else the policy's default.
    public var rolloverHour: Int?
    public var tokenFile: URL?
    public var toolVersion: String

    public init(outputDirectory: URL, timeZone: TimeZone = .current, rolloverHour: Int? = nil,
                tokenFile: URL? = nil, toolVersion: String) {
        self.outputDirectory = outputDirectory
        self.timeZone = timeZone
        self.rolloverHour = rolloverHour
        self.tokenFile = tokenFile
        self.toolVersion = toolVersion
    }
}

/// The shared state stages read and fill in.
public final class PipelineContext {
    public let source: AnkiCollection
    public let policy: Policy
    public let options: PrepareOptions
    /// The participant's decisions; the scan stage may add flagged notes to the exclusions.
    public internal(set) var decisions: Decisions
    public let scanner: AnkiScanner.Scanner
    /// What the scanner found (original note ids), for the report and the review page.
    public internal(set) var scanReport: ScanReport?
    public let report = PipelineReport()
    public let token: WithdrawalToken

    /// The submission being built (a hidden temporary file in the output folder until it is complete).
    public internal(set) var output: DatabaseQueue?
    var partialURL: URL?
    /// Output folders this run created, deepest first (removed on failure while still empty).
    var createdFolders: [String] = []
    /// Where the finished submission and token ended up.
    public internal(set) var submissionURL: URL?
    public internal(set) var tokenURL: URL?

    var shift: TimeShift?
    var calendar: ReviewDayCalendar?
    var firstReviewDay: Int64 = 0
    var mediaNeutralizer: MediaNeutralizer?
    var cardMap: CardMap?
    /// The collection's integrity check, running since check-source (see `CheckSource`).
    var integrityCheck: IntegrityCheck?

    /// Waits for the integrity check; throws when the collection is damaged.
    func finishIntegrityCheck() throws {
        guard let check = integrityCheck else { return }
        integrityCheck = nil
        try check.wait()
    }
    /// The scan running on the second core while the submission is built (see `ScanContent`).
    var pendingScan: InBackground<ScanReport>?

    public init(source: AnkiCollection, policy: Policy, options: PrepareOptions, decisions: Decisions,
                scanner: AnkiScanner.Scanner, token: WithdrawalToken = .generate(), scan: ScanReport? = nil) {
        self.source = source
        self.scanReport = scan
        self.scanner = scanner
        self.policy = policy
        self.options = options
        self.decisions = decisions
        self.token = token
    }

    func requireOutput() -> DatabaseQueue {
        guard let output else { preconditionFailure("OpenSubmission must run before this stage") }
        return output
    }

    func requireShift() -> TimeShift {
        guard let shift else { preconditionFailure("ShiftTimestamps must run before this stage") }
        return shift
    }

    /// The rollover hour in force: the command line, else the collection's own, else the policy default.
    var rolloverHour: Int {
        options.rolloverHour ?? source.config.rolloverHour ?? policy.defaultRolloverHour
    }

    /// Removes the partial output (on any failure).
    func discardOutput() {
        try? output?.close()
        output = nil
        if let partialURL {
            for suffix in ["", "-journal", "-wal", "-shm"] {
                try? FileManager.default.removeItem(atPath: partialURL.path + suffix)
            }
            Workspace.untrackTemporaryFile(partialURL.path)
        }
        partialURL = nil
        if submissionURL == nil {
            for folder in createdFolders { rmdir(folder) }
        }
        createdFolders = []
    }
}

/// Runs the stages in their fixed order; on any error the partial submission is removed.
public struct Pipeline: Sendable {
    public let stages: [any PipelineStage]

    /// The order is part of the policy: decisions resolve before ids are assigned, days are computed
    /// before any time moves, and the audit runs before the file is renamed into place.
    public static let standard = Pipeline(stages: [
        CheckSource(),
        ResolveDecisions(),
        ScanContent(),
        OpenSubmission(),
        DropExcludedFields(),
        ApplyDecisions(),
        RemapIDs(),
        ComputeReviewDays(),
        ShiftTimestamps(),
        NeutralizeDecks(),
        ReduceNoteTypes(),
        NeutralizeMedia(),
        WriteSubmission(),
    ])

    public init(stages: [any PipelineStage]) { self.stages = stages }

    public var stageNames: [String] { stages.map { type(of: $0).name } }

    public func run(_ context: PipelineContext, progress: (String) -> Void = { _ in }) throws {
        do {
            let pauseBefore = ProcessInfo.processInfo.environment["ANKI_SUBMIT_TEST_PAUSE_BEFORE"]
            for stage in stages {
                let name = type(of: stage).name
                progress(name)
                if pauseBefore == name {
                    // Test hook: lets the interruption tests stop a run at a known point.
                    FileHandle.standardError.write(Data("paused before \(name)\n".utf8))
                    Thread.sleep(forTimeInterval: 60)
                }
                context.report.begin(name)
                var clock = StageClock()
                try stage.run(context)
                context.report.finished(name, clock.lap())
            }
        } catch {
            _ = try? context.pendingScan?.value()   // no thread may read the collection after this
            context.pendingScan = nil
            // A damaged collection can make any later stage fail; the integrity check says why.
            var error = error
            do { try context.finishIntegrityCheck() } catch let damaged { error = damaged }
            if let tokenURL = context.tokenURL, context.submissionURL == nil {
                try? FileManager.default.removeItem(at: tokenURL)
            }
            context.discardOutput()
            if let error = error as? DatabaseError {
                // Only the result code: GRDB keeps values out of messages, but SQL text is not for participants.
                throw PrepareError(error.resultCode == .SQLITE_FULL ? .outputFailure : .auditFailed,
                                   error.resultCode == .SQLITE_FULL
                                       ? "The disk is full; the submission could not be written."
                                       : "Writing the submission failed (SQLite \(error.resultCode)); nothing was written. "
                                         + "Please report this.")
            }
            throw error
        }
    }
}

/// A pipeline failure in words the participant understands (no content, ids or secrets).
public struct PrepareError: Error, CustomStringConvertible, Sendable {
    public enum Code: Int32, Sendable, CaseIterable {
        case invalidDecisions = 40
        case outputFailure = 41
        case auditFailed = 42
        case specialCategoryUnconfirmed = 43
        case invalidOptions = 44
        case reviewCancelled = 45
        case reviewServerFailure = 46
        case studyProfile = 47
        case sendFailed = 48
        case sendRefused = 49

        public var summary: String {
            switch self {
            case .invalidDecisions: return "the decisions (excluded notes, tags, survey answers) are invalid"
            case .outputFailure: return "the submission could not be written to the output folder"
            case .auditFailed: return "the finished submission failed its own policy audit (nothing was written)"
            case .specialCategoryUnconfirmed: return "special-category content needs the participant's confirmation"
            case .invalidOptions: return "an option value is invalid (time zone, rollover hour, policy file)"
            case .reviewCancelled: return "the review page was closed with \"Quit without submitting\" (nothing was written)"
            case .reviewServerFailure: return "the local review page could not be started"
            case .studyProfile: return "the study profile (--study) or the sending options (--send-to, --ca-file) are invalid (nothing was written)"
            case .sendFailed: return "the submission was written but could not be sent (no connection, TLS, server busy); the file stays"
            case .sendRefused: return "the study's server refused the submission; the file stays"
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

/// Wall clock, process CPU and the calling thread's CPU, read together: `lap()` returns what each
/// advanced since the last lap (or since the clock was made).
public struct StageClock: Sendable {
    public struct Lap: Sendable {
        public var wall: Double
        public var processCPU: Double
        public var threadCPU: Double
    }

    private var last: Lap

    public init() { last = Self.now() }

    public mutating func lap() -> Lap {
        let now = Self.now()
        defer { last = now }
        return Lap(wall: now.wall - last.wall, processCPU: now.processCPU - last.processCPU,
                   threadCPU: now.threadCPU - last.threadCPU)
    }

    private static func now() -> Lap {
        func seconds(_ clock: clockid_t) -> Double {
            var spec = timespec()
            clock_gettime(clock, &spec)
            return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
        }
        return Lap(wall: seconds(CLOCK_MONOTONIC), processCPU: seconds(CLOCK_PROCESS_CPUTIME_ID),
                   threadCPU: seconds(CLOCK_THREAD_CPUTIME_ID))
    }
}
