import AnkiSubmission
import Foundation
import GRDB
import Testing

@testable import AnkiResearch

@Suite("research withdraw")
struct WithdrawTests {
    static let tables = ["revlogs", "cards", "notes", "decks", "presets", "fields", "note_types"]

    /// Rows per (table, participant).
    static func census(_ ws: Workspace) throws -> [String: Int] {
        try ws.read { db throws in
            var out: [String: Int] = [:]
            for table in tables + ["participants", "submissions"] {
                for row in try Row.fetchAll(db, sql: "SELECT participant, count(*) FROM \(table) GROUP BY participant") {
                    out["\(table)/\(row[0] as Int)"] = row[1]
                }
            }
            return out
        }
    }

    static func append(_ journal: URL, tokens: [String]) async throws -> [String] {
        let writer = try JournalWriter(url: journal)
        defer { writer.close() }
        var receipts: [String] = []
        for token in tokens {
            let record = WithdrawalRecord(receipt: WithdrawalRecord.newReceipt(), receivedAt: Clock.isoNow(),
                                          tokenSHA256: WithdrawalToken.sha256Hex(token))
            try await writer.append(record)
            receipts.append(record.receipt)
        }
        return receipts
    }

    @Test("removes exactly one participant's rows, keeps a tombstone, and refuses that submission afterwards")
    func removesExactlyOne() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let prepared = try ws.add(["berlin", "newyork", "auckland"])
        _ = try ws.ingest()   // auckland = 1, berlin = 2, newyork = 3
        let before = try Self.census(ws)
        let summary = try Withdraw(dataset: ws.dataset, keyFile: ws.key).apply(token: prepared[0].token.lowercased())
        let outcome = try #require(summary.outcomes.first)
        #expect(outcome.kind == .removed)
        #expect(outcome.participant == 2)
        let after = try Self.census(ws)
        for (key, n) in before {
            if key.hasSuffix("/2") {
                #expect(after[key] == nil, "\(key) should be gone")
            } else {
                #expect(after[key] == n, "\(key) must be untouched")
            }
        }
        let removedData = before.filter { $0.key.hasSuffix("/2") && Self.tables.contains(String($0.key.split(separator: "/")[0])) }
        #expect(outcome.rowsRemoved == removedData.values.reduce(0, +))
        #expect(try ws.count("tombstones") == 1)
        #expect(summary.text.contains("removed participant 2"))

        // Re-ingesting the same folder: the withdrawn file is skipped, nothing else changes.
        let again = try ws.ingest()
        let berlin = try #require(again.results.first { $0.file == "berlin.sqlite" })
        #expect(berlin.category == Rejection.Category.withdrawn.rawValue)
        #expect(try Self.census(ws) == after)

        // The same token again: nothing left to remove, said plainly.
        let repeatSummary = try Withdraw(dataset: ws.dataset, keyFile: ws.key).apply(token: prepared[0].token)
        #expect(repeatSummary.outcomes.first?.kind == .alreadyWithdrawn)
        // A malformed token is refused before the dataset is touched.
        #expect { _ = try Withdraw(dataset: ws.dataset, keyFile: ws.key).apply(token: "ABCD") } throws: {
            ($0 as? ResearchError)?.code == .invalidToken
        }
    }

    @Test("applies a journal once: removed, unknown (blocked for later), repeated; a rerun finds nothing pending")
    func journal() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let prepared = try ws.add(["berlin", "newyork"])
        let late = try Submissions.named("auckland")
        _ = try ws.ingest()   // berlin = 1, newyork = 2
        let receipts = try await Self.append(ws.journal, tokens: [prepared[0].token, late.token, prepared[0].token,
                                                                  prepared[1].token])
        let first = try Withdraw(dataset: ws.dataset, keyFile: ws.key).apply(journal: ws.journal)
        #expect(first.outcomes.map(\.receipt) == receipts)
        #expect(first.outcomes.map(\.kind) == [.removed, .noSubmission, .alreadyWithdrawn, .removed])
        #expect(try ws.count("participants") == 0)
        let second = try Withdraw(dataset: ws.dataset, keyFile: ws.key).apply(journal: ws.journal)
        #expect(second.outcomes.isEmpty)
        #expect(second.alreadyApplied == 4)
        #expect(second.text.contains("No pending withdrawal requests."))
        // The token that arrived before its submission blocks that submission.
        try ws.add(["auckland"])
        let ingest = try ws.ingest()
        #expect(ingest.results.first { $0.file == "auckland.sqlite" }?.category == Rejection.Category.withdrawn.rawValue)
        #expect(try ws.count("participants") == 0)
        // New requests appended later are picked up from where the last run stopped.
        _ = try await Self.append(ws.journal, tokens: [WithdrawalToken.generate().text])
        let third = try Withdraw(dataset: ws.dataset, keyFile: ws.key).apply(journal: ws.journal)
        #expect(third.outcomes.map(\.kind) == [.noSubmission])
        #expect(try ws.count("withdrawals") == 5)
    }

    @Test("killed midway (inside a transaction and between two), then rerun: nothing lost, nothing applied twice")
    func killMidway() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let prepared = try ws.add(["berlin", "newyork", "auckland"])   // auckland = 1, berlin = 2, newyork = 3
        _ = try ws.ingest()
        let before = try Self.census(ws)
        let unknown = WithdrawalToken.generate().text
        let receipts = try await Self.append(ws.journal, tokens: [prepared[0].token, prepared[1].token, unknown,
                                                                  prepared[2].token])
        let arguments = ["research", "withdraw", "--dataset", ws.dataset.path, "--key-file", ws.key.path,
                         "--journal", ws.journal.path]
        // 1. Killed inside the second request's transaction, after its deletes, before its commit.
        let killed = try CLI.run(arguments, environment: ["ANKI_SUBMIT_RESEARCH_FAULT": "withdraw-before-commit:2"])
        #expect(killed.signalled && killed.status == SIGKILL)
        var census = try Self.census(ws)
        #expect(census["participants/2"] == nil)                      // request 1 committed
        #expect(census["revlogs/3"] == before["revlogs/3"])           // request 2 rolled back entirely
        #expect(census["participants/3"] == 1)
        #expect(try ws.read { try Int.fetchOne($0, sql: "SELECT applied_count FROM journal_progress") } == 1)
        // 2. Killed right after the commit of the second request of this run (journal records 2 and 3).
        let killedAgain = try CLI.run(arguments, environment: ["ANKI_SUBMIT_RESEARCH_FAULT": "withdraw-after-commit:2"])
        #expect(killedAgain.signalled)
        census = try Self.census(ws)
        #expect(census["participants/3"] == nil)
        #expect(census["participants/1"] == 1)
        #expect(try ws.read { try Int.fetchOne($0, sql: "SELECT applied_count FROM journal_progress") } == 3)
        // 3. A clean run finishes the last request only.
        let finish = try CLI.run(arguments + ["--json"])
        #expect(finish.status == 0, "\(finish.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(finish.stdout.utf8)) as? [String: Any]
        #expect(object?["applied"] as? Int == 1)
        #expect(object?["removed"] as? Int == 1)
        census = try Self.census(ws)
        #expect(census.isEmpty)
        // Every request exactly once, in journal order, with the right outcome.
        let log = try ws.read { db throws in
            try Row.fetchAll(db, sql: "SELECT receipt, outcome, participant FROM withdrawals")
                .map { "\($0[0] as String) \($0[1] as String) \(($0[2] as Int?) ?? 0)" }
        }
        #expect(Set(log) == Set(["\(receipts[0]) removed 2", "\(receipts[1]) removed 3", "\(receipts[2]) no-submission 0",
                                 "\(receipts[3]) removed 1"]))
        let size = try FileManager.default.attributesOfItem(atPath: ws.journal.path)[.size] as? Int
        #expect(try ws.read { try Int.fetchOne($0, sql: "SELECT applied_offset FROM journal_progress") } == size)
        // And once more: nothing to do.
        let idle = try CLI.run(arguments)
        #expect(idle.stdout.contains("No pending withdrawal requests."))
    }

    @Test("after a release, withdrawing a released participant says published copies cannot be recalled")
    func afterRelease() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let prepared = try ws.add(["berlin", "newyork"])
        _ = try ws.ingest()
        let release = try Release(dataset: ws.dataset, out: ws.root.appendingPathComponent("release"),
                                  date: Date(timeIntervalSince1970: 1_750_000_000)).run()
        #expect(release.date == "2025-06-15")
        let result = try CLI.run(["research", "withdraw", "--dataset", ws.dataset.path, "--key-file", ws.key.path,
                                  "--token", prepared[0].token])
        #expect(result.status == 0)
        #expect(result.stdout.contains("published in the release of 2025-06-15"))
        #expect(result.stdout.contains("cannot be recalled"))
        // newyork did not consent, so it was never published: no such warning.
        let other = try Withdraw(dataset: ws.dataset, keyFile: ws.key).apply(token: prepared[1].token)
        #expect(other.outcomes.first?.releasedAt == nil)
        #expect(!other.text.contains("cannot be recalled"))
    }
}
