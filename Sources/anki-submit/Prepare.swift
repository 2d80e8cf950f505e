import AnkiPipeline
import AnkiReader
import AnkiReview
import AnkiScanner
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
                let context = try reviewOnPage(policy: policy, decisions: decisions, scanner: loadedScanner(),
                                               languages: languages, options: options)
                if timings { FileHandle.standardError.write(Data("Stage timings:\n\(context.report.timingText)\n".utf8)) }
                report(context)
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
            report(context)
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

        private func report(_ context: PipelineContext) {
            let submission = context.submissionURL?.path ?? "?"
            let tokenPath = context.tokenURL?.path ?? "?"
            let report = context.report
            if json {
                let object: [String: Any] = [
                    "submission": submission, "token_file": tokenPath,
                    "notes": report.value("write", "notes") ?? 0, "cards": report.value("write", "cards") ?? 0,
                    "revlog": report.value("write", "revlog") ?? 0,
                    "report": (try? JSONSerialization.jsonObject(with: Data(report.json.utf8))) ?? [],
                ]
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
                not even the researchers, can recover it for you. Send the submission file as the
                study's instructions say; never send the token with it.
                """)
        }
    }
}


/// Prints one line on stderr and exits with `code`.
func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("anki-submit: \(message)\n".utf8))
    Foundation.exit(code)
}
