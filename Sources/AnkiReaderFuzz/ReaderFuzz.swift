// libFuzzer entry point for the package reader.
//
// Fuzzing build (see `make fuzz`): -sanitize=fuzzer -parse-as-library -DANKI_FUZZING; libFuzzer supplies `main`.
// Normal build: a replayer that opens each file given on the command line, so a corpus can be rerun
// under a debugger without the fuzzer runtime.
import AnkiReader
import Foundation

/// Writes the input to a temp file and opens it as a participant's file would be opened. Any thrown
/// ReaderError is the expected outcome for garbage; crashes, hangs, leaks and any other error are
/// findings. An error that is not a ReaderError would reach the participant as an unexplained failure
/// without its exit code, so it stops the run (`fatalError`, which libFuzzer reports as a crash with
/// the input saved); only the error's type is printed, never its text, which could quote the input.
func fuzzOne(_ data: Data) {
    let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("anki-fuzz-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let file = dir.appendingPathComponent("input.apkg")
    defer { try? FileManager.default.removeItem(at: dir) }
    guard FileManager.default.createFile(atPath: file.path, contents: data) else { return }
    var limits = ReaderLimits.default
    limits.maxUnpackedBytes = 64 << 20
    limits.ratioGraceBytes = 1 << 20
    do {
        let collection = try AnkiCollection.open(file, limits: limits, workspaceParent: dir)
        defer { collection.close() }
        try collection.validate()
        _ = try collection.counts()
        try collection.forEachNote { _ in }
        try collection.forEachCard { _ in }
        try collection.forEachReview { _ in }
    } catch is ReaderError {
        // The expected outcome for a broken or hostile input.
    } catch {
        fatalError("an error that is not a ReaderError escaped the reader: \(type(of: error))")
    }
}

#if ANKI_FUZZING
// SwiftPM links executables with `main` aliased to `<module>_main`, so libFuzzer's own `main` is never
// used; this entry point hands control to libFuzzer's driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

@_cdecl("AnkiReaderFuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in
        fuzzOne(bytes.map { Data(bytes: $0, count: count) } ?? Data())
        return 0
    }
}
#else
/// Replays corpus files or folders given on the command line.
@main
struct ReaderFuzzReplay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            let url = URL(fileURLWithPath: path)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
            let files = isDir.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
                    .map { url.appendingPathComponent($0) }
                : [url]
            for file in files {
                if let data = try? Data(contentsOf: file) { fuzzOne(data) }
            }
            print("replayed \(files.count) input(s) from \(path)")
        }
    }
}
#endif
