import AnkiPipeline
import AnkiReader
import AnkiReview
import AnkiScanner
import AnkiSend
import AnkiSubmission
import Foundation

extension AnkiSubmit.Prepare {
    /// `prepare` with the review page: read and scan (with a progress bar), serve the page on
    /// 127.0.0.1, open it in the browser, and run the pipeline when the participant presses "Create
    /// submission". Returns the finished pipeline's context; quitting on the page writes nothing.
    func reviewOnPage(policy: Policy, decisions: Decisions, scanner: AnkiScanner.Scanner, languages: LanguageList,
                      options: PrepareOptions, study: StudyProfile?, sender: SubmissionSender?,
                      receipt: ReceiptHolder) throws -> PipelineContext {
        let bar = TerminalProgress(enabled: !json)
        return try withCollection(file, options: reader) { collection in
            bar.message("Reading your collection")
            let total = (try? collection.counts().notes) ?? 0
            let scan: ScanReport
            do {
                scan = try scanner.scan(collection: collection, mediaNames: false) { bar.bar("Looking for personal data", $0, of: total, detail: "notes") }
            }
            bar.bar("Looking for personal data", total, of: total, detail: "notes")
            let session = try ReviewSession(collection: collection, scan: scan, scanner: scanner, languages: languages,
                                            decisions: decisions)
            bar.finish()

            let shared = SharedCollection(collection)
            let finishedContext = ContextHolder()
            let runner = DispatchQueue(label: "anki-submit.prepare")
            let outputPath = options.outputDirectory.standardizedFileURL.path
            let stopper = ServerStopper()
            let server = ReviewServer(session: session, saveDirectory: outputPath, onSubmit: { chosen in
                await withCheckedContinuation { continuation in
                    runner.async {
                        let context = PipelineContext(source: shared.collection, policy: policy, options: options,
                                                      decisions: chosen, scanner: scanner, scan: scan)
                        do {
                            try Pipeline.standard.run(context)
                            finishedContext.set(context)
                            continuation.resume(returning: .created(
                                token: context.token.text, submission: context.submissionURL?.path ?? "",
                                tokenFile: context.tokenURL?.path ?? "",
                                counts: ["notes": context.report.value("write", "notes") ?? 0,
                                         "cards": context.report.value("write", "cards") ?? 0,
                                         "revlog": context.report.value("write", "revlog") ?? 0]))
                        } catch let error as PrepareError {
                            continuation.resume(returning: .refused(namingContact(error.description,
                                                                                  code: error.code.rawValue)))
                        } catch {
                            continuation.resume(returning: .refused("The submission could not be created; nothing was written."))
                        }
                    }
                }
            }, onFinished: { stopper.stop(after: 0.5) }, study: study, sender: sender)

            let openBrowser = !noBrowser
            let app = server.makeApplication(port: reviewPort) { _ in
                let address = server.address
                let text = """
                    Review page: \(address)
                    \(openBrowser ? "It should open in your browser; if not, open the address above." : "Open the address above in your browser.")
                    Decide what to share there and press "Create submission". Ctrl-C quits without writing anything.

                    """
                FileHandle.standardOutput.write(Data(text.utf8))
                if openBrowser { Self.openInBrowser(address) }
            }
            let failure = FailureHolder()
            let done = DispatchSemaphore(value: 0)
            let task = Task.detached {
                do { try await app.run() } catch is CancellationError {} catch { failure.set("\(error)") }
                done.signal()
            }
            stopper.set(task)
            done.wait()
            receipt.set(server.receipt)
            if let context = finishedContext.context { return context }
            if let message = failure.message, !server.isFinished {
                fail("The review page could not start (\(message)). Try --review-port with another port, or "
                     + "--review none.", code: PrepareError.Code.reviewServerFailure.rawValue)
            }
            fail("You quit the review page without creating a submission; nothing was written.",
                 code: PrepareError.Code.reviewCancelled.rawValue)
        }
    }

    /// Opens `address` with the desktop's default browser, quietly; the address is printed either way.
    static func openInBrowser(_ address: String) {
        #if os(macOS)
        let candidates = ["/usr/bin/open"]
        #else
        let candidates = ["/usr/bin/xdg-open", "/usr/bin/sensible-browser", "/usr/bin/x-www-browser"]
        #endif
        guard let tool = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = [address]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
    }
}

/// The collection, handed to the one queue that runs the pipeline (GRDB's queue serializes access).
final class SharedCollection: @unchecked Sendable {
    let collection: AnkiCollection
    init(_ collection: AnkiCollection) { self.collection = collection }
}

final class ContextHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: PipelineContext?
    var context: PipelineContext? { lock.withLock { stored } }
    func set(_ context: PipelineContext) { lock.withLock { stored = context } }
}

final class FailureHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?
    var message: String? { lock.withLock { stored } }
    func set(_ message: String) { lock.withLock { stored = message } }
}

/// Stops the server task a moment after the last answer was sent.
final class ServerStopper: @unchecked Sendable {
    private let lock = NSLock()
    private var task: Task<Void, Never>?
    private var requested = false

    func set(_ task: Task<Void, Never>) {
        let stopNow = lock.withLock { () -> Bool in
            self.task = task
            return requested
        }
        if stopNow { task.cancel() }
    }

    func stop(after seconds: Double) {
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            let task = lock.withLock { () -> Task<Void, Never>? in
                requested = true
                return self.task
            }
            task?.cancel()
        }
    }
}

