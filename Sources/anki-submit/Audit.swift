import AnkiAudit
import AnkiReader
import AnkiSubmission
import ArgumentParser
import Foundation

extension AnkiSubmit {
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a submission against the data policy; exit 0 only when it is clean.",
            discussion: """
                Without --source: the schema has only allowed tables and columns, ids are dense, deck names \
                neutral, card data holds only FSRS keys, and no media file is named. With --source (the \
                export the submission was made from): also that no original id, timestamp, guid, deck or \
                note-type name, CSS or template text survives, that every time moved by one constant of at \
                least a year that is not a whole number of days, and that review days match the learner's.
                """
        )

        @Argument(help: "The submission (.sqlite) to check.")
        var submission: String

        @Option(help: ArgumentHelp("The export the submission was made from.", valueName: "file"))
        var source: String?

        @Option(help: ArgumentHelp("Time zone the review days were computed in (default: this machine's).",
                                   valueName: "zone"))
        var timezone: String?

        @Option(help: ArgumentHelp("A policy file (default: the built-in research policy).", valueName: "file"))
        var policy: String?

        @OptionGroup var reader: ReaderOptions

        func validate() throws {
            if let timezone, TimeZone(identifier: timezone) == nil {
                throw ValidationError("--timezone: \"\(timezone)\" is not an IANA time zone name.")
            }
        }

        func run() throws {
            let policy: Policy
            do { policy = try self.policy.map { try Policy.load(URL(fileURLWithPath: $0)) } ?? .standard } catch {
                fail("\(error)", code: 44)
            }
            let audit = SubmissionAudit(policy: policy)
            let url = URL(fileURLWithPath: submission)
            let zone = timezone.flatMap(TimeZone.init(identifier:)) ?? .current
            let findings: [AuditFinding]
            do {
                if let source {
                    findings = try withCollection(source, options: reader) { collection in
                        try audit.audit(submission: url, source: .init(collection: collection, timeZone: zone))
                    }
                } else {
                    findings = try audit.audit(submission: url)
                }
            } catch let error as SubmissionAudit.Unreadable {
                fail(error.description, code: 2)
            }
            if findings.isEmpty {
                print("Clean: \(url.lastPathComponent) follows the data policy"
                      + (source == nil ? " (checked without the source)." : ", checked against its source."))
                return
            }
            for finding in findings { print(finding) }
            print("\(findings.count) finding(s).")
            throw ExitCode(1)
        }
    }
}
