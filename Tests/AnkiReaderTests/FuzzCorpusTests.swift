import AnkiReader
import Foundation
import Testing

/// Replays the fuzzer's committed corpus (`Tests/Fixtures/fuzz-corpus`, kept by `make fuzz`, see
/// Tests/Fuzz/run.sh): every input is opened the way Sources/AnkiReaderFuzz opens it, validated and
/// streamed to the end. Each must either be read or be refused with a `ReaderError` (one plain line),
/// never crash or throw anything else, leave nothing in its workspace, and leave the input untouched.
/// Minimized crash reproducers are kept there too (named `crash-*`), so a fixed crash stays fixed.
@Suite("Fuzz corpus regression")
struct FuzzCorpusTests {
    /// The fuzz target's limits: small enough that a decompression bomb stops fast.
    static let limits: ReaderLimits = {
        var limits = ReaderLimits.default
        limits.maxUnpackedBytes = 64 << 20
        limits.ratioGraceBytes = 1 << 20
        return limits
    }()

    /// Corpus files relative to the corpus folder (sub-folders included), README files excepted.
    static let inputs: [String] = {
        let fm = FileManager.default
        let root = Paths.fuzzCorpus
        let names = (try? fm.subpathsOfDirectory(atPath: root.path)) ?? []
        return names.filter { name in
            var isDirectory: ObjCBool = false
            let leaf = (name as NSString).lastPathComponent
            return fm.fileExists(atPath: root.appendingPathComponent(name).path, isDirectory: &isDirectory)
                && !isDirectory.boolValue && !leaf.hasPrefix(".") && !leaf.hasPrefix("README")
        }.sorted()
    }()

    @Test("the corpus is committed and stays small (< 64 KiB per input, < 1 MB in all)")
    func corpusIsSmall() throws {
        #expect(!Self.inputs.isEmpty, "Tests/Fixtures/fuzz-corpus is empty; run `make fuzz`")
        var total = 0
        for name in Self.inputs {
            let attributes = try FileManager.default.attributesOfItem(
                atPath: Paths.fuzzCorpus.appendingPathComponent(name).path)
            let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
            #expect(size < 64 << 10, "\(name) is \(size) bytes")
            total += size
        }
        // Tests/Fuzz/run.sh keeps it under this budget (select_corpus.py picks the inputs with the most
        // coverage per byte and re-chooses the whole corpus when the budget is used up).
        #expect(total < 1_000_000, "the corpus is \(total) bytes")
    }

    @Test("every corpus input is read or refused with a ReaderError, leaving nothing behind", arguments: inputs)
    func replay(_ name: String) throws {
        let file = Paths.fuzzCorpus.appendingPathComponent(name)
        let before = try Data(contentsOf: file)
        let scratch = try ScratchDirectory()
        do {
            let collection = try AnkiCollection.open(file, limits: Self.limits, workspaceParent: scratch.url)
            defer { collection.close() }
            try collection.validate()
            let counts = try collection.counts()
            var notes = 0, cards = 0, reviews = 0
            try collection.forEachNote { _ in notes += 1 }
            try collection.forEachCard { _ in cards += 1 }
            try collection.forEachReview { _ in reviews += 1 }
            try collection.forEachGrave { _ in }
            for media in collection.media {
                try collection.readMedia(media) { _ in }
            }
            #expect(notes == counts.notes && cards == counts.cards && reviews == counts.revlog,
                    "\(name): streamed rows differ from the counts")
        } catch let error as ReaderError {
            #expect(!error.message.isEmpty && !error.message.contains("\n"), "\(name): \(error.code) message")
        } catch {
            Issue.record("\(name): threw \(type(of: error)) instead of a ReaderError: \(error)")
        }
        #expect(scratch.contents.isEmpty, "\(name): the workspace must be empty afterwards: \(scratch.contents)")
        #expect(try Data(contentsOf: file) == before, "\(name): the input must not change")
    }
}
