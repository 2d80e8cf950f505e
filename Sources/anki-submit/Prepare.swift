import AnkiPipeline
import AnkiReader
import AnkiReview
import AnkiScanner
import AnkiSend
import AnkiSubmission
import ArgumentParser
import Foundation

extension AnkiSubmit {
    struct Prepare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn your Anki export into an anonymized submission file and a withdrawal token.",
            discussion: """
                Everything happens on this machine. The submission keeps your cards' text (except notes \
                you exclude), their scheduling and your review history; it drops ids, sync data, deck \
                names, styling and media, and moves every time by one secret random offset of years \
                while keeping each review's day exactly as your Anki counted it.

                Stages, in order:
                \(Pipeline.standard.stages.map { "  \(type(of: $0).name): \(type(of: $0).summary)" }.joined(separator: "\n"))
                """
        )

        @Argument(help: "Your .apkg/.colpkg export or collection.anki2.")
        var file: String

        @Option(help: ArgumentHelp("Folder for the submission and the token file.", valueName: "dir"))
        var out: String = "."

        @Option(help: ArgumentHelp("Your time zone (IANA name, e.g. Europe/Berlin); default: this machine's.",
                                   valueName: "zone"))
        var timezone: String?

        @Option(help: ArgumentHelp("Hour your Anki day starts (0-23); default: the collection's own setting, else 4.",
                                   valueName: "hour"))
        var rollover: Int?

        @Option(help: ArgumentHelp("How to review the cards before writing: page (a local page in your browser) or none "
                                   + "(scripts: decisions come from the options below).", valueName: "mode"))
        var review: ReviewMode = .page

        @Flag(name: .customLong("no-browser"), help: "Do not open a browser; only print the review page's address.")
        var noBrowser = false

        @Option(name: .customLong("review-port"), help: ArgumentHelp("Port for the review page (default: a free one).",
                                                                     valueName: "port"))
        var reviewPort: Int = 0

        @Option(name: .customLong("exclude-note"), help: ArgumentHelp("Leave out this note (original id). Repeatable.",
                                                                      valueName: "id"))
        var excludeNote: [Int64] = []

        @Flag(name: .customLong("exclude-flagged"), help: "Leave out every note the personal-data scanner flags.")
        var excludeFlagged = false

        @Flag(name: .customLong("confirm-special-categories"),
              help: "Confirm you want to share notes that mention health, religion or politics.")
        var confirmSpecialCategories = false

        @Option(name: .customLong("remove-tag"), help: ArgumentHelp("Remove this tag from every note. Repeatable.",
                                                                    valueName: "tag"))
        var removeTag: [String] = []

        @Option(help: ArgumentHelp("A language you speak at C1 or above (ISO 639 code). Repeatable.", valueName: "iso"))
        var language: [String] = []

        @Option(help: ArgumentHelp("Your interests or domain, in a few words.", valueName: "text"))
        var domain: String?

        @Flag(name: .customLong("keep-domain"),
              help: "Keep your interests answer exactly as written, though prepare pointed out a word in it.")
        var keepDomain = false

        @Option(name: .customLong("consent-public"),
                help: ArgumentHelp("May your anonymized data be part of the public release? yes or no.", valueName: "yes|no"))
        var consentPublic: YesNo?

        @Option(help: ArgumentHelp("Decisions saved from the review page (JSON).", valueName: "file"))
        var decisions: String?

        @Option(name: .customLong("token-file"),
                help: ArgumentHelp("Where to save your withdrawal token (default: next to the submission).", valueName: "path"))
        var tokenFile: String?

        @Option(help: ArgumentHelp("A policy file (default: the built-in research policy).", valueName: "file"))
        var policy: String?

        @Option(name: .customLong("data-dir"), help: ArgumentHelp("Folder with Config/ and Wordlists/ to use instead of the built-in copy (development).", valueName: "dir"))
        var dataDir: String?

        @Option(help: ArgumentHelp("The study's profile (JSON): its name, contact, addresses and texts.", valueName: "file"))
        var study: String?

        @Option(name: .customLong("send-to"),
                help: ArgumentHelp("Send the finished submission to the study's intake at this address "
                                   + "(https://…/submissions; default with --study: the profile's intake_url).",
                                   valueName: "url"))
        var sendTo: String?

        @Option(name: .customLong("ca-file"),
                help: ArgumentHelp("Also trust the certificate authorities in this PEM file when sending.", valueName: "file"))
        var caFile: String?

        @Flag(help: "Print the result as one JSON object.")
        var json = false

        @Flag(help: "Print how long each stage took (to standard error).")
        var timings = false

        @OptionGroup var reader: ReaderOptions

        enum ReviewMode: String, ExpressibleByArgument, CaseIterable { case page, none }
        enum YesNo: String, ExpressibleByArgument, CaseIterable { case yes, no }

        func validate() throws {
            if let rollover, !(0...23).contains(rollover) { throw ValidationError("--rollover takes an hour from 0 to 23.") }
            guard (0...65535).contains(reviewPort) else { throw ValidationError("--review-port takes 0 to 65535.") }
            if let timezone, TimeZone(identifier: timezone) == nil {
                throw ValidationError("--timezone: \"\(timezone)\" is not an IANA time zone name (like Europe/Berlin).")
            }
        }

        func run() throws {
            // Everything about the input that can be checked without the collection is checked first,
            // so bad decisions never leave anything behind.
            let (policy, decisions, data, languages) = try loadInputs()
            let (studyProfile, sender) = loadStudy(policy: policy)
            if let studyProfile { failureContact = studyProfile }
            // The word lists and patterns load on the second core while the package is unpacked.
            let scannerLoad = InBackground { try AnkiScanner.Scanner(dataDirectory: data) }
            func loadedScanner() -> AnkiScanner.Scanner {
                do { return try scannerLoad.value() } catch {
                    fail("\(error)", code: PrepareError.Code.invalidOptions.rawValue)
                }
            }
            var options = PrepareOptions(
                outputDirectory: URL(fileURLWithPath: out, isDirectory: true),
                timeZone: timezone.flatMap(TimeZone.init(identifier:)) ?? .current,
                rolloverHour: rollover,
                tokenFile: tokenFile.map { URL(fileURLWithPath: $0) },
                toolVersion: AnkiSubmitVersion.current)
            options.excludeFlagged = excludeFlagged
            if review == .page {
                let pageReceipt = ReceiptHolder()
                let context = try reviewOnPage(policy: policy, decisions: decisions, scanner: loadedScanner(),
                                               languages: languages, options: options, study: studyProfile,
                                               sender: sender, receipt: pageReceipt)
                if timings { FileHandle.standardError.write(Data("Stage timings:\n\(context.report.timingText)\n".utf8)) }
                report(context, sent: pageReceipt.value)
                if sender != nil, pageReceipt.value == nil, let submission = context.submissionURL {
                    fail("The submission was not sent to \(studyProfile?.name ?? "the study"). "
                         + StudySending.fallback(submission: submission, study: studyProfile),
                         code: PrepareError.Code.sendFailed.rawValue)
                }
                return
            }
            let progress = TerminalProgress(enabled: !json)
            var clock = StageClock()
            let context = try withCollection(file, options: reader) { collection in
                let context = PipelineContext(source: collection, policy: policy, options: options, decisions: decisions,
                                              scanner: loadedScanner())
                context.report.finished("open (unpack, read the schema, load the scanner)", clock.lap())
                do {
                    try Pipeline.standard.run(context) { progress.stage($0) }
                } catch let error as PrepareError {
                    progress.finish()
                    fail(error.description, code: error.code.rawValue)
                }
                progress.finish()
                return context
            }
            if timings { FileHandle.standardError.write(Data("Stage timings:\n\(context.report.timingText)\n".utf8)) }
            guard let sender, let submission = context.submissionURL else {
                report(context, sent: nil)
                return
            }
            report(context, sent: send(submission, with: sender, study: studyProfile))
        }

        /// The study profile and the sender (`--send-to`, else the profile's intake address), checked
        /// before anything is written.
        private func loadStudy(policy: Policy) -> (StudyProfile?, SubmissionSender?) {
            let code = PrepareError.Code.studyProfile.rawValue
            var profile: StudyProfile?
            if let study {
                do { profile = try StudyProfile.load(URL(fileURLWithPath: study)) } catch {
                    fail("\(error)", code: code)
                }
                if let profile, profile.policyVersion != policy.version {
                    fail("The study \(profile.name) expects data policy version \(profile.policyVersion); this anki-submit "
                         + "applies version \(policy.version). Ask \(profile.contact) for the right version of the tool.",
                         code: code)
                }
            }
            if caFile != nil && sendTo == nil && profile?.intakeURL == nil {
                fail("--ca-file is only used for sending: give --send-to URL (or a --study profile with an intake_url).",
                     code: code)
            }
            guard let address = sendTo ?? profile?.intakeURL?.absoluteString else { return (profile, nil) }
            guard let url = URL(string: address) else { fail("--send-to: \"\(address)\" is not an address.", code: code) }
            do { try SubmissionSender.check(url) } catch { fail("--send-to: \(error.description).", code: code) }
            if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
                fail("--ca-file: \(caFile) cannot be read.", code: code)
            }
            return (profile, SubmissionSender(url: url, caFile: caFile))
        }

        /// Uploads the finished submission with a progress bar; on failure says where the file is and
        /// whom to contact, and exits 48 (could not send) or 49 (refused). The file stays either way.
        private func send(_ submission: URL, with sender: SubmissionSender, study: StudyProfile?) -> SubmissionSender.Receipt {
            let bar = TerminalProgress(enabled: !json)
            let result = ResultBox()
            let done = DispatchSemaphore(value: 0)
            Task.detached {
                do {
                    let receipt = try await sender.send(submission) { sent, total in
                        bar.bar("Sending to the study", Int(sent / 1024), of: Int(max(total, 1) / 1024), detail: "KiB")
                    }
                    result.set(.success(receipt))
                } catch {
                    result.set(.failure(error as? SubmissionSender.Failure
                        ?? SubmissionSender.Failure(kind: .unreachable, description: "an unexpected error")))
                }
                done.signal()
            }
            done.wait()
            bar.finish()
            switch result.value! {
            case .success(let receipt):
                do { try StudySending.saveReceipt(receipt, url: sender.url, for: submission) } catch {
                    FileHandle.standardError.write(Data(("anki-submit: the study's receipt could not be saved beside "
                        + "the submission; note it down: \(receipt.number)\n").utf8))
                }
                return receipt
            case .failure(let failure):
                let note = "Your withdrawal token was saved as usual (see above or the token file)."
                fail("The submission could not be sent to \(study?.name ?? "the study") (\(failure.description)). "
                     + StudySending.fallback(submission: submission, study: study) + " " + note,
                     code: failure.kind == .refused ? PrepareError.Code.sendRefused.rawValue
                                                    : PrepareError.Code.sendFailed.rawValue)
            }
        }

        private func loadInputs() throws -> (Policy, Decisions, DataDirectory, LanguageList) {
            if let tokenFile {
                var isFolder: ObjCBool = false
                if tokenFile.hasSuffix("/")
                    || (FileManager.default.fileExists(atPath: tokenFile, isDirectory: &isFolder) && isFolder.boolValue) {
                    fail("--token-file: \(tokenFile) is a folder; give the name of the file to save the token in "
                         + "(like \(tokenFile.hasSuffix("/") ? tokenFile : tokenFile + "/")my-token.txt).",
                         code: PrepareError.Code.invalidOptions.rawValue)
                }
            }
            let policy: Policy
            do {
                policy = try self.policy.map { try Policy.load(URL(fileURLWithPath: $0)) } ?? .standard
            } catch let error as PolicyError {
                fail(error.description, code: PrepareError.Code.invalidOptions.rawValue)
            }
            var decisions = Decisions()
            let data: DataDirectory
            do { data = try DataDirectory.locate(explicit: dataDir) } catch {
                fail("\(error)", code: PrepareError.Code.invalidOptions.rawValue)
            }
            let languages: LanguageList
            do { languages = try LanguageList.load(from: data) } catch {
                fail("\(error)", code: PrepareError.Code.invalidOptions.rawValue)
            }
            do {
                if let path = self.decisions {
                    guard let bytes = FileManager.default.contents(atPath: path) else {
                        throw Decisions.Invalid("cannot read \(path)")
                    }
                    decisions = try Decisions(json: bytes, languages: languages)
                }
                decisions.merge(excludedNotes: excludeNote, removedTags: removeTag,
                                languages: try Decisions.canonicalLanguages(language, list: languages),
                                domain: domain, consentPublic: consentPublic.map { $0 == .yes })
                if confirmSpecialCategories { decisions.specialCategoryConfirmed = true }
                if keepDomain { decisions.domainConfirmed = true }
            } catch let error as Decisions.Invalid {
                fail(error.description, code: PrepareError.Code.invalidDecisions.rawValue)
            }
            return (policy, decisions, data, languages)
        }

        private func report(_ context: PipelineContext, sent: SubmissionSender.Receipt?) {
            let submission = context.submissionURL?.path ?? "?"
            let tokenPath = context.tokenURL?.path ?? "?"
            let report = context.report
            if json {
                let object: [String: Any] = [
                    "submission": submission, "token_file": tokenPath,
                    "notes": report.value("write", "notes") ?? 0, "cards": report.value("write", "cards") ?? 0,
                    "revlog": report.value("write", "revlog") ?? 0,
                    "report": (try? JSONSerialization.jsonObject(with: Data(report.json.utf8))) ?? [],
                ].merging(sent.map { receipt -> [String: Any] in
                    ["receipt": receipt.number,
                     "receipt_file": context.submissionURL.map { StudySending.receiptURL(for: $0).path } ?? ""]
                } ?? [:]) { a, _ in a }
                let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("""

                What was done:
                \(report.text)

                Your submission:  \(submission)
                  \(report.value("write", "notes") ?? 0) notes, \(report.value("write", "cards") ?? 0) cards, \
                \(report.value("write", "revlog") ?? 0) reviews, \(report.value("write", "decks") ?? 0) decks

                Your withdrawal token (also saved to \(tokenPath)):

                    \(context.token.text)

                Keep it private and safe. It is the only way to withdraw your data later, and nobody,
                not even the researchers, can recover it for you.
                """)
            if let sent, let file = context.submissionURL {
                print("""

                    Received by \(failureContact?.name ?? "the study"). Receipt: \(sent.number)
                    (saved as \(StudySending.receiptURL(for: file).path); it names exactly this file).
                    """)
            } else {
                print("Send the submission file as the study's instructions say; never send the token with it.")
            }
        }
    }
}


/// The study whose contact a failure names (set once from `--study`, before any work).
nonisolated(unsafe) var failureContact: StudyProfile?

/// Prints one line on stderr and exits with `code`. With a study profile, a fault the participant
/// cannot fix ("Please report this", a failed self-audit) names the study and its contact.
func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("anki-submit: \(namingContact(message, code: code))\n".utf8))
    Foundation.exit(code)
}

/// `message` with the study's contact where it asks to report a fault (terminal and page alike).
func namingContact(_ message: String, code: Int32) -> String {
    guard let study = failureContact else { return message }
    let reportTo = "Please report this to \(study.contactLine)."
    if message.contains("Please report this.") {
        return message.replacingOccurrences(of: "Please report this.", with: reportTo)
    } else if message.contains("please report this") {
        return message.replacingOccurrences(of: "please report this", with: "please report this to \(study.contactLine)")
    } else if code == PrepareError.Code.auditFailed.rawValue {
        return message + " " + reportTo
    }
    return message
}

/// The receipt "Send to the study" got on the page, if it did.
final class ReceiptHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: SubmissionSender.Receipt?
    var value: SubmissionSender.Receipt? { lock.withLock { stored } }
    func set(_ value: SubmissionSender.Receipt?) { lock.withLock { stored = value } }
}

/// The outcome of an upload, handed from its task to the waiting command.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<SubmissionSender.Receipt, SubmissionSender.Failure>?
    var value: Result<SubmissionSender.Receipt, SubmissionSender.Failure>? { lock.withLock { stored } }
    func set(_ value: Result<SubmissionSender.Receipt, SubmissionSender.Failure>) { lock.withLock { stored = value } }
}
