// libFuzzer entry point for submissions from strangers: the audit and the researcher's ingest.
//
// Each input is a recipe of SQLite-level changes (Sources/AnkiSubmissionFuzz/SubmissionMutator.swift)
// applied to a copy of one valid submission, named by ANKI_FUZZ_SUBMISSION (Tests/Fuzz/run-submissions.sh
// makes it with `anki-submit prepare`).
//
// Fuzzing build (see `make fuzz-submissions`): -sanitize=fuzzer -parse-as-library -DANKI_FUZZING;
// libFuzzer supplies `main`. Normal build: a replayer, `AnkiSubmissionFuzz --base SUBMISSION FILE|FOLDER...`,
// which Tests/AnkiResearchTests/SubmissionFuzzCorpusTests.swift runs over the committed corpus.
import Foundation

/// A private work folder per process (on the RAM disk when TMPDIR points there).
let workFolder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("anki-submission-fuzz-\(getpid())")

#if ANKI_FUZZING
let baseSubmission: URL = {
    guard let path = ProcessInfo.processInfo.environment["ANKI_FUZZ_SUBMISSION"] else {
        fatalError("set ANKI_FUZZ_SUBMISSION to a valid submission (Tests/Fuzz/run-submissions.sh does)")
    }
    return URL(fileURLWithPath: path)
}()

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

@_cdecl("AnkiSubmissionFuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in
        let input = bytes.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
        SubmissionMutator.run(base: baseSubmission, input: input, work: workFolder)
        return 0
    }
}
#else
/// Replays corpus files or folders: `--base SUBMISSION` then files or folders.
@main
struct SubmissionFuzzReplay {
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.count >= 2, arguments[0] == "--base" else {
            FileHandle.standardError.write(Data("usage: AnkiSubmissionFuzz --base SUBMISSION FILE|FOLDER...\n".utf8))
            exit(64)
        }
        let base = URL(fileURLWithPath: arguments[1])
        arguments.removeFirst(2)
        for path in arguments {
            let url = URL(fileURLWithPath: path)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
            let files = isDir.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
                    .filter { !$0.hasPrefix(".") && !$0.hasPrefix("README") }.map { url.appendingPathComponent($0) }
                : [url]
            for file in files {
                if let data = try? Data(contentsOf: file) {
                    SubmissionMutator.run(base: base, input: Array(data), work: workFolder)
                }
            }
            print("replayed \(files.count) input(s) from \(path)")
        }
    }
}
#endif
