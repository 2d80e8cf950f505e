import AnkiSubmission
import Foundation
import GRDB
import Testing

@testable import AnkiResearch

@Suite("research release and stats")
struct ReleaseTests {
    /// Minimal RFC 4180 reader for the checks below.
    static func csv(_ url: URL) throws -> [[String]] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { row.append(field); field = "" }
            else if c == "\n" { row.append(field); rows.append(row); row = []; field = "" }
            else { field.append(c) }
        }
        return rows
    }

    @Test("only consenting participants, renumbered, as SQLite + CSV + data card, with no token material")
    func release() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let prepared = try ws.add(["berlin", "newyork", "auckland", "legacy"])
        _ = try ws.ingest()
        let out = ws.root.appendingPathComponent("release-2025")
        let summary = try Release(dataset: ws.dataset, out: out, date: Date(timeIntervalSince1970: 1_750_000_000), csv: true).run()
        #expect(summary.participants == 3)
        #expect(summary.withheld == 1)

        // What should be there: the three consenting participants' reviews, nothing of newyork's.
        let consenting = prepared.filter(\.consent)
        var expectedReviews = 0
        for p in consenting {
            let q = try DatabaseQueue(path: p.url.path)
            expectedReviews += try q.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM revlog") ?? 0 }
            try q.close()
        }
        let release = try DatabaseQueue(path: out.appendingPathComponent(Release.databaseName).path)
        defer { try? release.close() }
        try release.read { db throws in
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM revlogs") == expectedReviews)
            #expect(try Int.fetchAll(db, sql: "SELECT participant FROM participants ORDER BY participant") == [1, 2, 3])
            let languages = Set(try String.fetchAll(db, sql: "SELECT languages FROM participants"))
            #expect(languages == Set(consenting.map { String(decoding: try! JSONSerialization.data(withJSONObject: $0.languages.sorted()), as: UTF8.self) }))
            // The release has exactly the tables of Schemas/release.sql: no bookkeeping came along.
            let tables = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
            #expect(tables == ["participants", "revlogs", "cards", "decks", "presets", "note_types", "notes"])
            for table in tables {
                for column in try db.columns(in: table).map(\.name) {
                    #expect(!column.contains("token") && !column.contains("hmac") && !column.contains("sha") && !column.contains("ingest"))
                }
            }
            // FSRS semantics: chronological, day_offset from 0, elapsed_* against the card's previous rated review.
            let rows = try Row.fetchAll(db, sql: "SELECT participant, review_th, card_id, day_offset, rating, elapsed_days FROM revlogs ORDER BY participant, review_th")
            var lastDay: [String: Int] = [:]
            var previous: (Int, Int) = (0, 0)
            for row in rows {
                let p: Int = row[0], th: Int = row[1], card: Int = row[2], day: Int = row[3], rating: Int = row[4], elapsed: Int = row[5]
                #expect(p != previous.0 || th == previous.1 + 1)
                previous = (p, th)
                guard (1...4).contains(rating) else { continue }
                let key = "\(p)/\(card)"
                #expect(elapsed == (lastDay[key].map { day - $0 } ?? -1))
                lastDay[key] = day
            }
            #expect(try Int.fetchOne(db, sql: "SELECT max(m) FROM (SELECT min(day_offset) AS m FROM revlogs GROUP BY participant)") == 0)
        }

        // CSV layout: one file per table and participant, FSRS column names first where they overlap.
        let revlogs = try Self.csv(out.appendingPathComponent("revlogs/participant=1/data.csv"))
        #expect(Array(revlogs[0].prefix(9)) == ["review_th", "card_id", "day_offset", "rating", "state", "duration",
                                                "elapsed_days", "elapsed_seconds", "type"])
        #expect(try Self.csv(out.appendingPathComponent("cards/participant=2/data.csv"))[0].prefix(3) == ["card_id", "note_id", "deck_id"])
        #expect(try Self.csv(out.appendingPathComponent("decks/participant=3/data.csv"))[0].prefix(3) == ["deck_id", "parent_id", "preset_id"])
        for table in Release.partitionedTables {
            for p in 1...3 {
                #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("\(table)/participant=\(p)/data.csv").path))
            }
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("\(table)/participant=4").path))
        }
        let participants = try Self.csv(out.appendingPathComponent("participants.csv"))
        #expect(participants.count == 4)
        #expect(participants[0].contains("languages") && participants[0].contains("domain"))
        var csvReviews = 0
        for p in 1...3 { csvReviews += try Self.csv(out.appendingPathComponent("revlogs/participant=\(p)/data.csv")).count - 1 }
        #expect(csvReviews == expectedReviews)

        // No token material anywhere: tokens, their hashes, keyed hashes, file hashes, the key.
        let (hmacs, shas) = try ws.read { db throws in
            (try String.fetchAll(db, sql: "SELECT token_hmac FROM participants"),
             try String.fetchAll(db, sql: "SELECT content_sha256 FROM submissions"))
        }
        let keyText = try String(contentsOf: ws.key, encoding: .utf8).split(separator: "\n")[1]
        var needles = prepared.flatMap { [$0.token, $0.token.replacingOccurrences(of: "-", with: ""), WithdrawalToken.sha256Hex($0.token)] }
        needles += hmacs + shas + [String(keyText)]
        let files = FileManager.default.enumerator(atPath: out.path)!.compactMap { $0 as? String }
        #expect(files.contains("README.md") && files.contains("SHA256SUMS"))
        for file in files {
            guard let data = FileManager.default.contents(atPath: out.appendingPathComponent(file).path) else { continue }
            for needle in needles { #expect(!data.contains(text: needle), "\(file) holds token material") }
        }

        // The data card lists every column of every table.
        let card = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        try release.read { db throws in
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") {
                #expect(card.contains("### `\(table)`"))
                for column in try db.columns(in: table).map(\.name) { #expect(card.contains("| `\(column)` |"), "\(table).\(column)") }
            }
        }
        for (_, columns) in Release.documentedColumns() { for c in columns { #expect(!c.meaning.isEmpty, "\(c.name) has no meaning") } }

        // The dataset remembers the release.
        try ws.read { db throws in
            #expect(try String.fetchOne(db, sql: "SELECT released_at FROM releases") == "2025-06-15")
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM participants WHERE released_at = '2025-06-15'") == 3)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM participants WHERE released_at IS NULL") == 1)
        }
        // No partial folder left beside it; a second release into the same folder is refused.
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.root.path).filter { $0.contains(".partial") }.isEmpty)
        #expect { _ = try Release(dataset: ws.dataset, out: out).run() } throws: { ($0 as? ResearchError)?.code == .releaseExists }
    }

    @Test("without any consenting participant nothing is written")
    func nothingToRelease() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.add(["newyork"])
        _ = try ws.ingest()
        let out = ws.root.appendingPathComponent("release")
        #expect { _ = try Release(dataset: ws.dataset, out: out).run() } throws: { ($0 as? ResearchError)?.code == .nothingToRelease }
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test("stats counts participants, consent, notes, cards, reviews and languages")
    func stats() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.add(["berlin", "newyork", "auckland"])
        _ = try ws.ingest()
        let stats = try DatasetStats.read(dataset: ws.dataset)
        #expect(stats.participants == 3)
        #expect(stats.consenting == 2)
        #expect(stats.notConsenting == 1)
        #expect(stats.languages == ["de": 1, "en": 3, "fr": 1])
        #expect(stats.reviews == (try ws.count("revlogs")))
        #expect(stats.notes == (try ws.count("notes")))
        let cli = try CLI.run(["research", "stats", "--dataset", ws.dataset.path])
        #expect(cli.status == 0)
        #expect(cli.stdout.contains("consent: yes"))
        let missing = try CLI.run(["research", "stats", "--dataset", ws.root.appendingPathComponent("none.sqlite").path])
        #expect(missing.status == ResearchError.Code.dataset.rawValue)
    }

    @Test("the schema files and their embedded copies are identical")
    func schemaFiles() throws {
        let dataset = try String(contentsOf: CLI.root.appendingPathComponent("Schemas/dataset.sql"), encoding: .utf8)
        let release = try String(contentsOf: CLI.root.appendingPathComponent("Schemas/release.sql"), encoding: .utf8)
        #expect(dataset.trimmingCharacters(in: .newlines) == DatasetSchema.sql.trimmingCharacters(in: .newlines),
                "Schemas/*.sql must link to Sources/AnkiResearch/Resources")
        #expect(release.trimmingCharacters(in: .newlines) == ReleaseSchema.sql.trimmingCharacters(in: .newlines),
                "Schemas/*.sql must link to Sources/AnkiResearch/Resources")
    }
}
