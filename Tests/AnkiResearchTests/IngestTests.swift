import AnkiSubmission
import Foundation
import GRDB
import Testing

@testable import AnkiResearch

@Suite("research ingest")
struct IngestTests {
    @Test("ingests every submission under the folder, recursively; a second run is a no-op")
    func ingestTwice() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let prepared = try ws.add(["berlin", "newyork"]) + ws.add(["auckland"], under: "batch-2/late")
        let first = try ws.ingest()
        #expect(first.ingested.count == 3)
        #expect(first.quarantined.isEmpty)
        #expect(first.keyCreated)
        // Participant numbers follow the sorted relative paths.
        #expect(first.results.map(\.file) == ["batch-2/late/auckland.sqlite", "berlin.sqlite", "newyork.sqlite"])
        #expect(first.results.map(\.outcome) == [.ingested(participant: 1), .ingested(participant: 2), .ingested(participant: 3)])
        let snapshot = try ws.read { db in try Int.fetchAll(db, sql: "SELECT count(*) FROM revlogs GROUP BY participant ORDER BY participant") }
        var expectedReviews: [Int] = []
        for p in [prepared[2], prepared[0], prepared[1]] {
            let queue = try DatabaseQueue(path: p.url.path)
            expectedReviews.append(try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM revlog") ?? 0 })
            try queue.close()
        }
        #expect(snapshot == expectedReviews)
        let before = try Data(contentsOf: ws.dataset)

        let second = try ws.ingest()
        #expect(second.ingested.isEmpty)
        #expect(second.skipped.count == 3)
        #expect(second.skipped.allSatisfy { $0.category == Rejection.Category.alreadyIngested.rawValue })
        #expect(try ws.count("participants") == 3)
        #expect(try ws.count("revlogs") == expectedReviews.reduce(0, +))
        // Nothing was written at all: the file is byte for byte the same.
        #expect(try Data(contentsOf: ws.dataset) == before)
    }

    @Test("copies every row through fresh dense ids, rebuilds deck names, and keeps the token hash only keyed")
    func remapsAndKeysTokens() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let berlin = try ws.add(["berlin"])[0]
        _ = try ws.ingest()
        let source = try DatabaseQueue(path: berlin.url.path)
        defer { try? source.close() }
        try ws.read { db throws in
            for (table, key, sourceTable) in [("notes", "note_id", "notes"), ("cards", "card_id", "cards"),
                                              ("decks", "deck_id", "decks"), ("note_types", "note_type_id", "note_types"),
                                              ("presets", "preset_id", "deck_config")] {
                let row = try Row.fetchOne(db, sql: "SELECT count(*), min(\(key)), max(\(key)) FROM \(table) WHERE participant = 1")!
                let n: Int = row[0]
                let sourceCount = try source.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM \(sourceTable)") ?? -1 }
                #expect(n == sourceCount, "\(table)")
                #expect(n == 0 || (row[1] as Int == 1 && row[2] as Int == n), "\(table) ids are 1...n")
            }
            // The review sequence per card survives exactly (ease, day) in time order.
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM revlogs WHERE participant = 1")
                    == (try source.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM revlog") }))
            let range = try Row.fetchOne(db, sql: "SELECT revlog_first, revlog_last FROM participants WHERE participant = 1")!
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM revlogs WHERE rowid BETWEEN ? AND ?",
                                     arguments: [range[0] as Int, range[1] as Int]) == (range[1] as Int) - (range[0] as Int) + 1)
            let datasetSequence = try Row.fetchAll(db, sql: "SELECT card_id, ease, day FROM revlogs WHERE participant = 1 ORDER BY reviewed_at_ms")
                .map { "\($0[0] as Int)/\($0[1] as Int)/\($0[2] as Int)" }
            let sourceSequence = try source.read { try Row.fetchAll($0, sql: "SELECT cid, ease, day FROM revlog ORDER BY id") }
                .map { "\($0[0] as Int)/\($0[1] as Int)/\($0[2] as Int)" }
            #expect(datasetSequence == sourceSequence)
            for row in try Row.fetchAll(db, sql: "SELECT deck_id, parent_id, name FROM decks WHERE participant = 1") {
                let name: String = row[2]
                #expect(name.hasSuffix("deck-\(row[0] as Int)"))
                if let parent = row[1] as Int? { #expect(name.contains("deck-\(parent)::")) }
            }
            let hmac = try String.fetchOne(db, sql: "SELECT token_hmac FROM participants WHERE participant = 1")!
            #expect(hmac.count == 64)
            #expect(hmac != WithdrawalToken.sha256Hex(berlin.token))
        }
        // Neither the token nor its plain hash is anywhere in the dataset's bytes.
        let bytes = try Data(contentsOf: ws.dataset)
        #expect(!bytes.contains(text: berlin.token))
        #expect(!bytes.contains(text: WithdrawalToken.sha256Hex(berlin.token)))
        // The key file exists with mode 0600.
        let mode = try FileManager.default.attributesOfItem(atPath: ws.key.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("tampered and broken files are quarantined with their reason; the rest go in")
    func quarantine() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.add(["berlin"])
        try ws.tampered("newyork", as: "extra-column.sqlite") { db in
            try db.execute(sql: "ALTER TABLE notes ADD COLUMN guid TEXT")
        }
        try ws.tampered("newyork", as: "extra-table.sqlite") { db in
            try db.execute(sql: "CREATE TABLE graves (oid INTEGER, type INTEGER)")
        }
        try ws.tampered("newyork", as: "original-ids.sqlite") { db in
            try db.execute(sql: """
                PRAGMA foreign_keys = OFF;
                UPDATE cards SET nid = nid + 1500000000000;
                UPDATE notes SET id = id + 1500000000000;
                """)
        }
        try ws.tampered("newyork", as: "deck-name.sqlite") { db in
            try db.execute(sql: "UPDATE decks SET name = 'Spanish::Verbs for Friday' WHERE id = (SELECT max(id) FROM decks)")
        }
        try ws.tampered("newyork", as: "schema-version.sqlite") { db in
            try db.execute(sql: "UPDATE manifest SET value = '1' WHERE key = 'schema_version'")
        }
        try ws.tampered("newyork", as: "wrong-type.sqlite") { db in
            try db.execute(sql: "UPDATE revlog SET ease = 'Anna' WHERE id = (SELECT min(id) FROM revlog)")
        }
        try ws.tampered("newyork", as: "wrong-type-deck.sqlite") { db in
            // The audit would read this as text; the type check refuses it before the audit runs.
            try db.execute(sql: "UPDATE decks SET name = x'416e6e61' WHERE id = 1")
        }
        try ws.tampered("newyork", as: "null-deck-ids.sqlite") { db in
            // decks.id no longer the rowid: every stored id reads as NULL. The definition is no longer the
            // schema's text, which the audit's schema rule reports (before, the dense-id rule did).
            try db.execute(sql: """
                PRAGMA writable_schema = ON;
                UPDATE sqlite_master SET sql = replace(sql, 'id        INTEGER PRIMARY KEY,', 'id        INTEGER,')
                WHERE name = 'decks';
                PRAGMA writable_schema = OFF;
                """)
        }
        try ws.tampered("newyork", as: "free-text-language.sqlite") { db in
            try db.execute(sql: "UPDATE manifest SET value = '[\"Anna Schmidt, Berlin\"]' WHERE key = 'languages'")
        }
        let whole = try Data(contentsOf: try Submissions.named("auckland").url)
        try whole.prefix(whole.count / 2).write(to: ws.inbox.appendingPathComponent("truncated.sqlite"))
        try Data("these are my notes, not a database\n".utf8).write(to: ws.inbox.appendingPathComponent("not-sqlite.sqlite"))
        try Data().write(to: ws.inbox.appendingPathComponent("empty.sqlite"))
        try FileManager.default.createSymbolicLink(atPath: ws.inbox.appendingPathComponent("link.sqlite").path,
                                                   withDestinationPath: "/etc/passwd")

        let summary = try ws.ingest()
        var reasons: [String: String] = [:]
        for r in summary.results { reasons[r.file] = r.outcome == .quarantined ? r.category : "\(r.outcome)" }
        #expect(reasons["berlin.sqlite"] == "\(IngestFileResult.Outcome.ingested(participant: 1))")
        #expect(reasons["extra-column.sqlite"] == Rejection.Category.schema.rawValue)
        #expect(reasons["extra-table.sqlite"] == Rejection.Category.schema.rawValue)
        #expect(reasons["original-ids.sqlite"] == Rejection.Category.audit.rawValue)
        #expect(reasons["deck-name.sqlite"] == Rejection.Category.audit.rawValue)
        #expect(reasons["schema-version.sqlite"] == Rejection.Category.schemaVersion.rawValue)
        #expect(reasons["wrong-type.sqlite"] == Rejection.Category.values.rawValue)
        #expect(reasons["wrong-type-deck.sqlite"] == Rejection.Category.values.rawValue)
        #expect(reasons["null-deck-ids.sqlite"] == Rejection.Category.schema.rawValue)
        #expect(reasons["free-text-language.sqlite"] == Rejection.Category.manifest.rawValue)
        #expect(reasons["truncated.sqlite"] == Rejection.Category.damaged.rawValue)
        #expect(reasons["not-sqlite.sqlite"] == Rejection.Category.notSQLite.rawValue)
        #expect(reasons["empty.sqlite"] == Rejection.Category.notSQLite.rawValue)
        #expect(reasons["link.sqlite"] == Rejection.Category.notAFile.rawValue)
        #expect(summary.quarantined.count == 13)
        // Only the good file went in; nothing of the bad ones (not a row: the wrong-typed one failed inside
        // its transaction), and no temporary copy is left.
        #expect(try ws.count("participants") == 1)
        #expect(try ws.count("revlogs") == summary.reviewsIngested)
        #expect(try ws.count("notes") == ws.count("notes", participant: 1))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: ws.root.path).filter { $0.hasPrefix("anki-research-") }
        #expect(leftovers.isEmpty)
        // The details name rules and columns, never a value from the file.
        for r in summary.quarantined {
            #expect(!r.detail.contains("Anna"))
            #expect(!r.detail.contains("Spanish"))
        }
        #expect(summary.table.contains("quarantined"))
        #expect(summary.report.contains("extra-column.sqlite\tquarantined\tunexpected tables or columns"))
    }

    @Test("the same content twice in one run is ingested once; a reused token from another file is quarantined")
    func duplicates() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.add(["berlin"])
        try ws.add(["berlin"], under: "copy")
        try ws.tampered("berlin", as: "zz-edited.sqlite") { db in
            try db.execute(sql: "UPDATE notes SET tags = tags || ' edited' WHERE id = 1")
        }
        let summary = try ws.ingest()
        #expect(summary.ingested.count == 1)
        let byFile = Dictionary(uniqueKeysWithValues: summary.results.map { ($0.file, $0) })
        #expect(byFile["berlin.sqlite"]?.outcome == .ingested(participant: 1))
        #expect(byFile["copy/berlin.sqlite"]?.category == Rejection.Category.duplicate.rawValue)
        #expect(byFile["zz-edited.sqlite"]?.category == Rejection.Category.tokenReused.rawValue)
    }

    @Test("a second run on a locked dataset is refused with a clear message")
    func lock() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.add(["berlin"])
        let holder = try Dataset.open(ws.dataset, mode: .create, command: "research ingest")
        defer { holder.close() }
        #expect {
            _ = try ws.ingest()
        } throws: { error in
            guard let error = error as? ResearchError else { return false }
            return error.code == .datasetLocked && error.description.contains("in use by another anki-submit research command")
        }
    }

    @Test("the key file: created 0600, refused when readable by others or not the dataset's")
    func keyFile() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.add(["berlin"])
        _ = try ws.ingest()
        chmod(ws.key.path, 0o644)
        #expect(throws: ResearchError.self) { _ = try ws.ingest() }
        chmod(ws.key.path, 0o600)
        let other = ws.root.appendingPathComponent("keys/other.key")
        _ = try ResearcherKey.load(other, create: true)
        #expect {
            _ = try Ingest(dataset: ws.dataset, keyFile: other).run(folder: ws.inbox)
        } throws: { ($0 as? ResearchError)?.code == .keyFile }
        // A missing key file is not silently replaced once the dataset has one.
        try FileManager.default.removeItem(at: ws.key)
        #expect {
            _ = try ws.ingest()
        } throws: { ($0 as? ResearchError)?.code == .keyFile }
    }

    @Test("the command line: progress-free JSON, final table, report, exit 70 when something was quarantined")
    func commandLine() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.add(["berlin", "newyork"])
        try Data("junk".utf8).write(to: ws.inbox.appendingPathComponent("junk.sqlite"))
        let result = try CLI.run(["research", "ingest", ws.inbox.path, "--dataset", ws.dataset.path,
                                  "--key-file", ws.key.path])
        #expect(result.status == 70)
        #expect(result.stdout.contains("Created the researcher key file"))
        #expect(result.stdout.contains("ingested"))
        #expect(result.stdout.contains("junk.sqlite: not an SQLite file"))
        let report = try String(contentsOfFile: ws.dataset.path + ".ingest-report.tsv", encoding: .utf8)
        #expect(report.contains("junk.sqlite\tquarantined"))
        try FileManager.default.removeItem(at: ws.inbox.appendingPathComponent("junk.sqlite"))
        let again = try CLI.run(["research", "ingest", ws.inbox.path, "--dataset", ws.dataset.path,
                                 "--key-file", ws.key.path, "--json"])
        #expect(again.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
        #expect(object?["ingested"] as? Int == 0)
        #expect(object?["skipped"] as? Int == 2)
    }
}
