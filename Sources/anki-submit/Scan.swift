import AnkiReader
import AnkiScanner
import AnkiSubmission
import ArgumentParser
import Foundation

extension AnkiSubmit {
    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find personal data and special-category terms (health, religion, politics) in the cards.",
            discussion: """
                Scans every field (as displayed: HTML removed, cloze unwrapped), the tags and the media \
                file names. Prints, per note (original id), what was found and where; then a summary by \
                kind, and how many notes mention a special category compared with the threshold above \
                which `prepare` asks for explicit confirmation. Everything stays on this machine: the \
                output shows your own card text, nothing is logged.
                """
        )

        @Argument(help: "An .apkg/.colpkg export or a collection.anki2 file.")
        var file: String?

        @Option(name: .long, help: ArgumentHelp(
            "Scan texts instead of a collection: a file with one JSON string per line (HTML allowed); "
                + "prints one line {\"index\", \"findings\"} per text. \"-\" reads standard input.",
            valueName: "file"))
        var texts: String?

        @Flag(help: "Print how long scanning took (bytes, seconds, MB/s) on standard error.")
        var timing = false

        @Flag(help: "Print one JSON object: {\"notes\": [...], \"summary\": {...}}.")
        var json = false

        @Option(name: .long, help: ArgumentHelp(
            "Show only findings with at least this score (0 to 1; default from Config/scanner/scanner.json).",
            valueName: "score"))
        var minScore: Double?

        @Option(name: .long, help: ArgumentHelp("Folder with Config/ and Wordlists/ to use instead of the built-in copy (development).", valueName: "path"))
        var dataDir: String?

        @OptionGroup var reader: ReaderOptions

        func validate() throws {
            if let minScore, !(0...1).contains(minScore) {
                throw ValidationError("--min-score takes a number from 0 to 1.")
            }
            if (file == nil) == (texts == nil) {
                throw ValidationError("Give either a collection FILE or --texts FILE.")
            }
        }

        func run() throws {
            let scanner: AnkiScanner.Scanner
            do {
                scanner = try AnkiScanner.Scanner(dataDirectory: try DataDirectory.locate(explicit: dataDir))
            } catch {
                FileHandle.standardError.write(Data("anki-submit: the scanner cannot start: \(error)\n".utf8))
                throw ExitCode(1)
            }
            if let texts {
                try scanTexts(texts, scanner: scanner)
                return
            }
            let clock = ContinuousClock()
            let commandStart = clock.now
            let commandCPUStart = processCPUSeconds()
            var elapsed = Duration.zero
            var cpu = 0.0
            let report = try withCollection(file!, options: reader) { collection in
                try collection.validate()
                let start = clock.now
                let cpuStart = threadCPUSeconds()
                let report = try scanner.scan(collection: collection, minimumScore: minScore)
                cpu = threadCPUSeconds() - cpuStart
                elapsed = clock.now - start
                return report
            }
            if timing {
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                FileHandle.standardError.write(Data(String(format: "scan: %d notes in %.3f s (thread CPU %.3f s)\n",
                                                           report.summary.notesScanned, seconds, cpu).utf8))
            }
            print(json ? report.json() : ScanText.render(report))
            if timing {
                let total = clock.now - commandStart
                let seconds = Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18
                FileHandle.standardError.write(Data(String(
                    format: "scan: end to end (open, scan, write) %.3f s (process CPU %.3f s)\n",
                    seconds, processCPUSeconds() - commandCPUStart).utf8))
            }
        }

        /// Scans JSON-string lines; the timing covers scanning only (not reading or printing).
        private func scanTexts(_ path: String, scanner: AnkiScanner.Scanner) throws {
            let readStart = ContinuousClock().now
            let cpuReadStart = processCPUSeconds()
            let data: Data
            if path == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let read = FileManager.default.contents(atPath: path) else {
                    FileHandle.standardError.write(Data("anki-submit: cannot read \(path)\n".utf8))
                    throw ExitCode(13)
                }
                data = read
            }
            // A byte-order mark at the start of the file marks its encoding: not text of the first line.
            let body = data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data[...]
            var inputs: [String] = []
            for (number, line) in body.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
                guard let text = JSONStringLine.decode(line) else {
                    FileHandle.standardError.write(Data("anki-submit: line \(number + 1) of \(path) is not a JSON string\n".utf8))
                    throw ExitCode(64)
                }
                inputs.append(text)  // native and contiguous, as strings read from a collection are
            }
            let clock = ContinuousClock()
            let cpuStart = threadCPUSeconds()
            let start = clock.now
            let results = inputs.map { scanner.scan(field: $0, index: 0, minimumScore: minScore) }
            let elapsed = clock.now - start
            let cpu = threadCPUSeconds() - cpuStart
            if timing {
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                let bytes = inputs.reduce(0) { $0 + $1.utf8.count }
                FileHandle.standardError.write(Data(String(
                    format: "scan: %d texts, %d bytes in %.3f s (thread CPU %.3f s): %.1f MB/s wall, %.1f MB/s CPU\n",
                    inputs.count, bytes, seconds, cpu, Double(bytes) / 1e6 / max(seconds, 1e-9),
                    Double(bytes) / 1e6 / max(cpu, 1e-9)).utf8))
            }
            var out = JSONWriter(capacity: results.count * 32)
            for (index, findings) in results.enumerated() {
                out.raw("{")
                out.key("findings"); Finding.writeJSON(findings, to: &out); out.raw(",")
                out.key("index"); out.int(index)
                out.raw("}\n")
            }
            FileHandle.standardOutput.write(Data(out.bytes))
            if timing {
                // The whole command from the first byte read to the last written, next to the scan's figure.
                let total = clock.now - readStart
                let seconds = Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18
                let bytes = inputs.reduce(0) { $0 + $1.utf8.count }
                FileHandle.standardError.write(Data(String(
                    format: "scan: end to end (read, scan, write) %.3f s (process CPU %.3f s): %.1f MB/s wall, %.1f MB/s CPU\n",
                    seconds, processCPUSeconds() - cpuReadStart, Double(bytes) / 1e6 / max(seconds, 1e-9),
                    Double(bytes) / 1e6 / max(processCPUSeconds() - cpuReadStart, 1e-9)).utf8))
            }
        }
    }
}

/// CPU time of the calling thread: a measure that other processes on the machine do not inflate.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// CPU time of the whole process (every thread, user and system).
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// The human-readable scan report.
enum ScanText {
    static func fieldName(_ field: Int) -> String {
        switch field {
        case Finding.tagsField: return "tags"
        case Finding.mediaNameField: return "media file name"
        case Finding.surveyField: return "survey answer"
        default: return "field \(field + 1)"
        }
    }

    static func render(_ report: ScanReport) -> String {
        var lines: [String] = []
        for note in report.notes {
            lines.append("Note \(note.noteID)")
            for f in note.findings {
                let score = String(format: "%.2f", f.score)
                lines.append("  \(fieldName(f.field).padding(toLength: 16, withPad: " ", startingAt: 0)) "
                    + "\(f.kind.padding(toLength: 14, withPad: " ", startingAt: 0)) \(f.text)  "
                    + "[bytes \(f.start)-\(f.end), score \(score), \(f.detector)]")
            }
        }
        let s = report.summary
        for media in s.unreferencedMedia {
            lines.append("Media file \(media.name) (used by no note)")
            for f in media.findings { lines.append("  \(f.kind.padding(toLength: 14, withPad: " ", startingAt: 0)) \(f.text)") }
        }
        if !lines.isEmpty { lines.append("") }
        lines.append("Summary: \(s.findings) finding(s) in \(s.notesWithFindings) of \(s.notesScanned) note(s) "
            + "(minimum score \(String(format: "%.2f", s.minimumScore))).")
        for (kind, count) in s.byKind.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) {
            lines.append("  \(kind.padding(toLength: 14, withPad: " ", startingAt: 0)) \(count)")
        }
        let notice = s.needsSpecialCategoryNotice
            ? "above the threshold of \(s.specialCategoryThreshold): prepare will ask you to confirm explicitly."
            : "within the threshold of \(s.specialCategoryThreshold)."
        lines.append("Special categories (health, religion, politics): \(s.notesWithSpecialFindings) note(s), \(notice)")
        return lines.joined(separator: "\n")
    }
}
