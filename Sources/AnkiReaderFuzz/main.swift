// libFuzzer entry point for the package reader.
//
// Fuzzing build (see `make fuzz`):  -sanitize=fuzzer -DANKI_FUZZING; libFuzzer supplies `main`.
// Normal build: a replayer that opens each file given on the command line, so a corpus can be rerun
// under a debugger without the fuzzer runtime.
import AnkiReader
import Foundation

/// Writes the input to a temp file and opens it as a participant's file would be opened. Any thrown
/// ReaderError is the expected outcome for garbage; only crashes, hangs and leaks are findings.
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
    } catch {}
}

#if ANKI_FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntry(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    fuzzOne(Data(bytes: bytes, count: count))
    return 0
}
#else
for path in CommandLine.arguments.dropFirst() {
    let url = URL(fileURLWithPath: path)
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
    let files = isDir.boolValue
        ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { url.appendingPathComponent($0) }
        : [url]
    for file in files {
        if let data = try? Data(contentsOf: file) { fuzzOne(data) }
    }
    print("replayed \(files.count) input(s) from \(path)")
}
#endif
