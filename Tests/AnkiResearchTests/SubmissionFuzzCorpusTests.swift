import Foundation
import Testing

/// Replays the submission fuzzer's committed corpus (`Tests/Fixtures/fuzz-corpus-submissions`, kept by
/// `make fuzz-submissions`, see Tests/Fuzz/run-submissions.sh) with the replayer build of
/// Sources/AnkiSubmissionFuzz: every recipe changes a copy of a freshly prepared submission, which then
/// goes through the audit and ingest. The replayer stops (non-zero exit) on a crash, an error that is
/// neither a finding nor a quarantine, or ingest accepting what the audit finds fault with; a hang
/// fails the time limit.
@Suite("Submission fuzz corpus regression")
struct SubmissionFuzzCorpusTests {
    static let corpus = CLI.root.appendingPathComponent("Tests/Fixtures/fuzz-corpus-submissions")

    static let replayer: URL = {
        let beside = CLI.binary.deletingLastPathComponent().appendingPathComponent("AnkiSubmissionFuzz")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return CLI.root.appendingPathComponent(".build/debug/AnkiSubmissionFuzz")
    }()

    @Test("every recipe in the corpus is audited and ingested without a crash, a hang or a disagreement")
    func replay() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { !$0.hasPrefix("README") }
        #expect(names.count >= 10, "the corpus is committed; run `make fuzz-submissions`")
        let sizes = try names.map { try Data(contentsOf: Self.corpus.appendingPathComponent($0)).count }
        #expect(sizes.allSatisfy { $0 <= 256 } && sizes.reduce(0, +) < 200_000, "the corpus stays small")
        let result = try bounded([Self.replayer.path, "--base", try Submissions.named("berlin").url.path, Self.corpus.path],
                                 timeout: 600)
        #expect(!result.timedOut, "the replay did not finish within 600 s")
        #expect(result.status == 0 && !result.signalled, "exit \(result.status): \(result.stderr.suffix(2000))")
        #expect(result.stdout.contains("replayed \(names.count) input(s)"), "\(result.stdout)")
    }
}
