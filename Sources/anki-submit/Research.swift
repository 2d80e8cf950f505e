import AnkiReader
import AnkiResearch
import AnkiSubmission
import ArgumentParser
import Foundation

extension AnkiSubmit {
    struct Research: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Researcher side: ingest submissions, take and apply withdrawals, publish a release.",
            discussion: """
                A typical round: `ingest` a folder of submissions into the working dataset (creating the \
                key file on first use), run `serve` for participants (uploads into a spool folder that \
                `ingest` takes as it is, and withdrawal requests), `withdraw` what arrived in its journal \
                before each `release`, and `stats` at any time.

                Exit codes of the research commands:
                \(ResearchError.Code.allCases.map { "  \($0.rawValue)  \($0.summary)" }.joined(separator: "\n"))
                """,
            subcommands: [IngestCommand.self, ServeCommand.self, WithdrawCommand.self,
                          ReleaseCommand.self, StatsCommand.self]
        )
    }
}

/// Runs a research command body; a `ResearchError` becomes one line on stderr and its exit code.
private func research<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ResearchError {
        FileHandle.standardError.write(Data("anki-submit: \(error.description)\n".utf8))
        throw ExitCode(error.code.rawValue)
    }
}

private func printJSON(_ object: Any) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    print(String(decoding: data, as: UTF8.self))
}

struct DatasetOption: ParsableArguments {
    @Option(help: ArgumentHelp("The working dataset (an SQLite file).", valueName: "path"))
    var dataset: String

    var url: URL { URL(fileURLWithPath: dataset) }
}

extension AnkiSubmit.Research {
    struct IngestCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ingest",
            abstract: "Add every submission in a folder (recursively) to the working dataset.",
            discussion: """
                Each file is copied privately (the folder is only read), hashed, checked for the submission \
                schema version and put through the same policy audit as `anki-submit audit`. A file that \
                passes is added under a new participant number in one transaction, with every id assigned \
                anew as a dense counter and deck names rebuilt. Files already ingested (same content) or \
                withdrawn are skipped; bad files are quarantined: left in place and listed, with the reason, \
                in the final table and in the report. Exit 0 when nothing was quarantined, 70 otherwise.
                """
        )

        @Argument(help: "Folder of submissions (*.sqlite), searched recursively.")
        var folder: String

        @OptionGroup var dataset: DatasetOption

        @Option(name: .customLong("key-file"),
                help: ArgumentHelp("Researcher key; created (mode 0600) on first use. Keep it away from the dataset.",
                                   valueName: "path"))
        var keyFile: String

        @Option(help: ArgumentHelp("Files checked in parallel (default: one per core).", valueName: "n"))
        var jobs: Int?

        @Option(help: ArgumentHelp("Where to write the report of every file (default: <dataset>.ingest-report.tsv).",
                                   valueName: "path"))
        var report: String?

        @Option(help: ArgumentHelp("A policy file (default: the built-in research policy).", valueName: "file"))
        var policy: String?

        @Flag(help: "Print the result as one JSON object (no progress bar).")
        var json = false

        func validate() throws {
            if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1.") }
        }

        func run() throws {
            var options = IngestOptions()
            if let jobs { options.jobs = jobs }
            if let policy {
                do { options.policy = try Policy.load(URL(fileURLWithPath: policy)) } catch {
                    throw ValidationError("\(error)")
                }
            }
            let bar = TerminalProgress(enabled: !json)
            let summary = try research {
                try AnkiResearch.Ingest(dataset: dataset.url, keyFile: URL(fileURLWithPath: keyFile), options: options)
                    .run(folder: URL(fileURLWithPath: folder)) { p in
                        bar.bar("", p.done, of: p.total, detail: "ingested \(p.ingested)  skipped \(p.skipped)  "
                                    + "quarantined \(p.quarantined)  \(p.reviews) reviews")
                    }
            }
            bar.finish()
            let reportURL = URL(fileURLWithPath: report ?? dataset.dataset + ".ingest-report.tsv")
            try? Data(summary.report.utf8).write(to: reportURL, options: .atomic)
            if json {
                printJSON([
                    "ingested": summary.ingested.count, "skipped": summary.skipped.count,
                    "quarantined": summary.quarantined.count, "reviews": summary.reviewsIngested,
                    "seconds": summary.seconds, "report": reportURL.path, "key_created": summary.keyCreated,
                    "files": summary.results.map { r -> [String: Any] in
                        var o: [String: Any] = ["file": r.file, "reason": r.category, "detail": r.detail]
                        switch r.outcome {
                        case .ingested(let p):
                            o["outcome"] = "ingested"
                            o["participant"] = p
                            o["reviews"] = r.reviews
                        case .skipped: o["outcome"] = "skipped"
                        case .quarantined: o["outcome"] = "quarantined"
                        }
                        return o
                    },
                ])
            } else {
                if summary.keyCreated {
                    print("Created the researcher key file \(keyFile) (mode 0600). Back it up and keep it away from "
                          + "the dataset: without it no withdrawal can be matched.\n")
                }
                print(summary.table)
                print("\nReport: \(reportURL.path)")
            }
            if !summary.quarantined.isEmpty { throw ExitCode(ResearchError.Code.quarantined.rawValue) }
        }
    }

    struct ServeCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve",
            abstract: "Run the study's HTTP server: submissions (with --spool) and withdrawal requests.",
            discussion: """
                POST /submissions (with --spool) takes a submission file as the body (application/vnd.sqlite3 \
                or application/octet-stream). It is streamed into the spool folder under a hidden temporary \
                name, flushed to disk, checked quickly (SQLite, schema version, the audit's structural rules) \
                and renamed to <sha256>.sqlite, which `research ingest SPOOL` picks up; only then it answers \
                202 with a JSON receipt. The same bytes again get 200 and the same receipt (no second file); \
                a body that is not a submission gets 422 and leaves nothing; one over --max-upload gets 413 \
                as soon as that is known. An upload cut off (crash, kill -9) leaves only a hidden .part file, \
                which ingest ignores and the next start removes.

                POST /withdrawals with {"token": "..."} (JSON), token=... (form) or the bare token (text/plain) \
                answers 202 and a receipt number once the request is appended to the journal and flushed to \
                disk; a malformed token gets 400, a body over --max-body 413, too many requests from one \
                client 429. The answer is the same whether or not the token belongs to a submission. \
                GET / is a small form for participants, GET /health a health check (503 while the journal \
                or the spool cannot be written, e.g. on a full disk; it recovers by itself when space returns). \
                The journal holds only the SHA-256 of each token; apply it with `research withdraw --journal`. \
                At most --max-connections are open at once (over the limit the one idle longest is closed); \
                a connection without a request closes after --idle-timeout, a request must arrive and be \
                answered within --request-timeout of its first byte. Put a TLS-terminating reverse proxy in \
                front of it to serve the public (then pass --trust-forwarded-for). `serve-withdrawals` is \
                the same command.
                """,
            aliases: ["serve-withdrawals"]
        )

        @Option(help: ArgumentHelp("Folder for uploaded submissions (created, mode 0700); without it, no uploads.",
                                   valueName: "dir"))
        var spool: String?

        @Option(name: .customLong("max-upload"),
                help: ArgumentHelp("Largest submission upload, e.g. 256M or 1G.", valueName: "size"))
        var maxUpload = "256M"

        @Option(name: .customLong("upload-rate-limit"),
                help: ArgumentHelp("Uploads allowed per client and minute (--upload-burst more at once).", valueName: "n"))
        var uploadRateLimit = 6.0

        @Option(name: .customLong("upload-burst"), help: ArgumentHelp("Uploads a client may send at once above the rate.",
                                                                      valueName: "n"))
        var uploadBurst = 10

        @Option(help: ArgumentHelp("The study profile (JSON): its name and contact appear on the page and in errors.",
                                   valueName: "file"))
        var study: String?

        @Option(help: ArgumentHelp("The journal file (created, mode 0600, when missing).", valueName: "file"))
        var journal: String

        @Option(help: ArgumentHelp("Address to listen on.", valueName: "address"))
        var bind = "127.0.0.1"

        @Option(help: ArgumentHelp("Port to listen on (0: any free port).", valueName: "port"))
        var port = 8080

        @Option(name: .customLong("max-body"), help: ArgumentHelp("Largest request body, in bytes.", valueName: "bytes"))
        var maxBody = 2048

        @Option(name: .customLong("rate-limit"),
                help: ArgumentHelp("Withdrawal requests allowed per client and minute.", valueName: "n"))
        var rateLimit = 10.0

        @Option(help: ArgumentHelp("Requests a client may send at once above the rate.", valueName: "n"))
        var burst = 5

        @Flag(name: .customLong("trust-forwarded-for"),
              help: "Take the client address from X-Forwarded-For (only behind your own reverse proxy).")
        var trustForwardedFor = false

        @Option(name: .customLong("max-connections"),
                help: ArgumentHelp("Connections open at once (lowered to fit the open-file limit).", valueName: "n"))
        var maxConnections = 256

        @Option(name: .customLong("idle-timeout"),
                help: ArgumentHelp("Seconds a connection may stay open without a request.", valueName: "seconds"))
        var idleTimeout = 10.0

        @Option(name: .customLong("request-timeout"),
                help: ArgumentHelp("Seconds from a request's first byte to the end of its answer (default: 10, "
                                   + "with --spool 300, for uploads over slow lines).", valueName: "seconds"))
        var requestTimeout: Double?

        func validate() throws {
            guard (0...65535).contains(port) else { throw ValidationError("--port takes 0 to 65535.") }
            guard let size = ReaderLimits.parseSize(maxUpload), size >= 1024, size <= UInt64(Int64.max) else {
                throw ValidationError("--max-upload takes a size such as 256M, 1G or 1048576 (at least 1024 bytes).")
            }
            guard uploadRateLimit > 0, uploadBurst >= 1 else {
                throw ValidationError("--upload-rate-limit and --upload-burst must be positive.")
            }
            let requestTimeout = self.requestTimeout ?? 10
            guard maxBody >= 64 else { throw ValidationError("--max-body must be at least 64 bytes.") }
            guard rateLimit > 0, burst >= 1 else { throw ValidationError("--rate-limit and --burst must be positive.") }
            guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1.") }
            guard idleTimeout > 0, idleTimeout <= 86400, requestTimeout > 0, requestTimeout <= 86400 else {
                throw ValidationError("--idle-timeout and --request-timeout take 0 < seconds <= 86400.")
            }
        }

        /// The connection limit that fits the open-file limit (raised toward the hard limit first),
        /// with descriptors to spare for the journal, the listener and the event loops.
        static func fittingConnections(_ wanted: Int) -> Int {
            let spare: rlim_t = 64
            var limit = rlimit()
            guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return wanted }
            let needed = rlim_t(wanted) + spare
            if limit.rlim_cur < needed {
                var raised = limit
                raised.rlim_cur = min(needed, limit.rlim_max)
                if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
            }
            guard limit.rlim_cur < needed else { return wanted }
            return max(1, Int(limit.rlim_cur > spare ? limit.rlim_cur - spare : 1))
        }

        func run() throws {
            var options = WithdrawalServerOptions()
            options.host = bind
            options.port = port
            options.maxBodyBytes = maxBody
            options.requestsPerMinute = rateLimit
            options.burst = burst
            options.trustForwardedFor = trustForwardedFor
            options.limits.maxConnections = Self.fittingConnections(maxConnections)
            if options.limits.maxConnections < maxConnections {
                FileHandle.standardError.write(Data(("anki-submit: the open-file limit allows \(options.limits.maxConnections) "
                    + "connections, not --max-connections \(maxConnections); raise it with `ulimit -n`.\n").utf8))
            }
            options.limits.idleTimeout = idleTimeout
            options.limits.requestTimeout = requestTimeout ?? (spool == nil ? 10 : 300)
            if let study {
                do { options.study = try StudyProfile.load(URL(fileURLWithPath: study)) } catch {
                    FileHandle.standardError.write(Data("anki-submit: \(error)\n".utf8))
                    throw ExitCode(ResearchError.Code.studyProfile.rawValue)
                }
            }
            if let spool {
                var intake = IntakeOptions(spool: try research { try IntakeSpool(folder: URL(fileURLWithPath: spool)) })
                intake.maxUploadBytes = Int64(ReaderLimits.parseSize(maxUpload) ?? 0)
                intake.uploadsPerMinute = uploadRateLimit
                intake.uploadBurst = uploadBurst
                options.intake = intake
            }
            let writer = try research { try JournalWriter(url: URL(fileURLWithPath: journal)) }
            let host = bind.contains(":") ? "[\(bind)]" : bind
            let journalPath = journal
            let spoolPath = spool
            let app = WithdrawalServer.makeApplication(options: options, journal: writer) { port in
                let what = spoolPath.map { "Study server listening on http://\(host):\(port)/ (spool: \($0), journal: \(journalPath))." }
                    ?? "Withdrawal endpoint listening on http://\(host):\(port)/ (journal: \(journalPath))."
                FileHandle.standardOutput.write(Data((what + " Ctrl-C stops it.\n").utf8))
            }
            let outcome = ServerOutcome()
            let done = DispatchSemaphore(value: 0)
            Task.detached {
                do { try await app.runService() } catch { outcome.set("\(error)") }
                done.signal()
            }
            done.wait()
            writer.close()
            if let failure = outcome.failure {
                FileHandle.standardError.write(Data("anki-submit: the withdrawal endpoint could not run on \(bind):\(port) (\(failure)).\n".utf8))
                throw ExitCode(ResearchError.Code.serverFailure.rawValue)
            }
        }
    }

    struct WithdrawCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "withdraw",
            abstract: "Apply withdrawal requests: remove each participant's rows from the working dataset.",
            discussion: """
                With --journal, applies every request the endpoint recorded since the last run (the dataset \
                remembers how far each journal was applied). Each request is one transaction, so the command \
                can be stopped or killed at any point and simply run again. A token with no submission is \
                blocked, so its submission is refused should it arrive later. If a withdrawn participant was \
                already in a public release, the report says that published copies cannot be recalled.
                """
        )

        @OptionGroup var dataset: DatasetOption

        @Option(name: .customLong("key-file"), help: ArgumentHelp("The researcher key the dataset was made with.",
                                                                  valueName: "path"))
        var keyFile: String

        @Option(help: ArgumentHelp("The withdrawal endpoint's journal.", valueName: "file"))
        var journal: String?

        @Option(help: ArgumentHelp("One token, e.g. sent by letter or e-mail.", valueName: "token"))
        var token: String?

        @Flag(help: "Print the result as one JSON object.")
        var json = false

        func validate() throws {
            guard (journal == nil) != (token == nil) else {
                throw ValidationError("Give exactly one of --journal FILE or --token TOKEN.")
            }
        }

        func run() throws {
            let withdraw = AnkiResearch.Withdraw(dataset: dataset.url, keyFile: URL(fileURLWithPath: keyFile))
            let summary = try research {
                if let journal { return try withdraw.apply(journal: URL(fileURLWithPath: journal)) }
                return try withdraw.apply(token: token ?? "")
            }
            if json {
                printJSON([
                    "applied": summary.outcomes.count, "removed": summary.removed.count,
                    "damaged_lines": summary.damagedLines, "applied_before": summary.alreadyApplied,
                    "requests": summary.outcomes.map { o -> [String: Any] in
                        var object: [String: Any] = ["receipt": o.receipt, "outcome": o.kind.rawValue, "rows": o.rows]
                        if let p = o.participant { object["participant"] = p }
                        if let r = o.releasedAt { object["released_at"] = r }
                        return object
                    },
                ])
            } else {
                print(summary.text)
            }
        }
    }

    struct ReleaseCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "release",
            abstract: "Write the public release: consenting participants only, as SQLite, CSV and a data card.",
            discussion: """
                Apply pending withdrawals first (`research withdraw`). The release date is recorded in the \
                working dataset; later withdrawals of released participants are reported as already published.
                """
        )

        @OptionGroup var dataset: DatasetOption

        @Option(help: ArgumentHelp("New folder for the release.", valueName: "dir"))
        var out: String

        @Option(help: ArgumentHelp("Release date to record, YYYY-MM-DD (default: today, UTC).", valueName: "date"))
        var date: String?

        @Flag(help: "Also write every table as CSV (<table>/participant=N/data.csv and participants.csv).")
        var csv = false

        func validate() throws {
            if let date, Self.parse(date) == nil { throw ValidationError("--date takes a date like 2025-06-30.") }
        }

        static func parse(_ text: String) -> Date? {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd"
            return formatter.date(from: text)
        }

        func run() throws {
            let release = AnkiResearch.Release(dataset: dataset.url, out: URL(fileURLWithPath: out),
                                               date: date.flatMap(Self.parse) ?? Date(), csv: csv)
            let summary = try research { try release.run() }
            print(summary.text)
        }
    }

    struct StatsCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stats",
            abstract: "Participants, notes, cards, reviews, languages and consent in the working dataset."
        )

        @OptionGroup var dataset: DatasetOption

        @Flag(help: "Print the result as one JSON object.")
        var json = false

        func run() throws {
            let stats = try research { try DatasetStats.read(dataset: dataset.url) }
            print(json ? stats.json : stats.text)
        }
    }
}

private final class ServerOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var failure: String?
    func set(_ text: String) {
        lock.lock()
        failure = text
        lock.unlock()
    }
}

