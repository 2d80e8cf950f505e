@testable import AnkiAudit
import AnkiPipeline
import AnkiReader
import AnkiSubmission
import Foundation
import GRDB
import Testing

/// Each audit rule fails when the thing it guards is broken: a clean submission is tampered with in
/// one way at a time.
@Suite("The audit catches every kind of leak")
struct AuditTamperTests {
    static let source = Fixtures.generated.appendingPathComponent("berlin-latest.colpkg")

    /// (what to break, SQL that breaks it, the rule expected to fire, needs the source?)
    static let cases: [(String, String, String, Bool)] = [
        ("extra column", "ALTER TABLE notes ADD COLUMN guid TEXT", "schema", false),
        ("excluded table", "CREATE TABLE graves (oid INTEGER)", "schema", false),
        ("a view", "CREATE VIEW v AS SELECT 1", "schema", false),
        ("ids not dense", "UPDATE notes SET id = id + 1000 WHERE id = (SELECT max(id) FROM notes)", "dense-ids", false),
        ("dangling reference", "UPDATE cards SET did = 999 WHERE id = 1", "references", false),
        ("review of a missing card", "UPDATE revlog SET cid = (SELECT max(id) FROM cards) + 5 WHERE id = (SELECT min(id) FROM revlog)",
         "references", false),
        ("review of card 1.5", "UPDATE revlog SET cid = 1.5 WHERE id = (SELECT min(id) FROM revlog)", "references", false),
        ("negative review day", "UPDATE revlog SET day = -1 WHERE id = (SELECT max(id) FROM revlog)", "references", false),
        // The log has no key: its rows must be in ascending order of time, which makes ids unique.
        ("a review out of order", "UPDATE revlog SET id = (SELECT max(id) FROM revlog) + 1 WHERE rowid = 1", "review-order", false),
        ("a review repeated", "INSERT INTO revlog SELECT * FROM revlog WHERE rowid = 1", "review-order", false),
        ("a review id as text", "UPDATE revlog SET id = 'x' || id WHERE rowid = 2", "review-order", false),
        ("a review out of order, with the source", "UPDATE revlog SET id = (SELECT max(id) FROM revlog) + 1 WHERE rowid = 1",
         "review-order", true),
        ("a review repeated, with the source", "INSERT INTO revlog SELECT * FROM revlog WHERE rowid = 3", "review-order", true),
        // With the source, the passes that compare the log with it count these on the way instead.
        // ("rule: text": the finding must also name the text.)
        ("review of a missing card, with the source",
         "UPDATE revlog SET cid = (SELECT max(id) FROM cards) + 5 WHERE id = (SELECT min(id) FROM revlog)", "references: revlog.cid", true),
        ("review of card 1 as a blob, with the source",
         "UPDATE revlog SET cid = CAST('1' AS BLOB) WHERE id = (SELECT min(id) FROM revlog)", "references: revlog.cid", true),
        ("negative review day, with the source", "UPDATE revlog SET day = -1.5 WHERE id = (SELECT max(id) FROM revlog)",
         "references: revlog.day", true),
        ("deck name kept", "UPDATE decks SET name = 'Japanese::JLPT N5' WHERE id = 2", "deck-names", false),
        ("card data key", #"UPDATE cards SET data = '{"s":1.0,"pos":3}' WHERE id = 1"#, "card-data", false),
        ("media name", "UPDATE notes SET flds = flds || '[sound:hund.mp3]' WHERE id = 1", "media-names", false),
        ("media name in src", #"UPDATE notes SET flds = flds || '<img alt="" src="flag_de.png">' WHERE id = 2"#,
         "media-names", false),
        ("token hash", "UPDATE manifest SET value = upper(value) WHERE key = 'token_hash'", "manifest", false),
        ("manifest count", "UPDATE manifest SET value = '1' WHERE key = 'count_revlog'", "manifest", false),
        ("one review time moved", "UPDATE revlog SET id = id + 1 WHERE id = (SELECT max(id) FROM revlog)",
         "time-shift", true),
        ("a review day changed", "UPDATE revlog SET day = day + 1 WHERE id = (SELECT max(id) FROM revlog)",
         "review-days", true),
        // The log is compared in two halves on two threads: each half consistent on its own, but not
        // with the other; and every day moved, so the first day is no longer 0.
        ("later half of the days moved", """
            UPDATE revlog SET day = day + 1
            WHERE id >= (SELECT id FROM revlog ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM revlog))
            """, "review-days", true),
        ("every day moved", "UPDATE revlog SET day = day + 1", "review-days", true),
        // Values at the limits of a 64-bit integer: a finding, not a crash of the audit.
        ("creation time at the limit", "UPDATE col SET crt = 9223372036854775807", "time-shift", true),
        ("review id at the limit", "UPDATE revlog SET id = 9223372036854775807 WHERE id = (SELECT max(id) FROM revlog)",
         "time-shift", true),
        ("review day at the limit", "UPDATE revlog SET day = -9223372036854775808 WHERE id = (SELECT max(id) FROM revlog)",
         "review-days", true),
        ("rollover hour not an hour", "UPDATE manifest SET value = '9223372036854775807' WHERE key = 'rollover_hour'",
         "review-days", true),
        ("review left out", "DELETE FROM revlog WHERE id = (SELECT id FROM revlog ORDER BY id LIMIT 1 OFFSET 7)",
         "reviews", true),
        ("last review left out", "DELETE FROM revlog WHERE id = (SELECT max(id) FROM revlog)", "reviews", true),
        ("answer changed", "UPDATE revlog SET ease = ease % 4 + 1 WHERE id = (SELECT id FROM revlog ORDER BY id LIMIT 1 OFFSET 9)",
         "reviews", true),
        ("review on another card", "UPDATE revlog SET cid = cid % (SELECT count(*) FROM cards) + 1 WHERE id = (SELECT min(id) FROM revlog)",
         "references", true),
        ("lrt not shifted", #"UPDATE cards SET data = json_set(data, '$.lrt', json_extract(data, '$.lrt') + 5) WHERE data LIKE '%lrt%' AND id = (SELECT min(id) FROM cards WHERE data LIKE '%lrt%')"#,
         "time-shift", true),
        ("learning due not shifted", "UPDATE cards SET due = due + 7 WHERE queue = 1", "time-shift", true),
        ("creation time", "UPDATE notes SET created = created + 1 WHERE id = 3", "time-shift", true),
        ("card creation time", "UPDATE cards SET created = created + 1000003 WHERE id = (SELECT max(id) FROM cards)",
         "time-shift: card creation time", true),
        // Counters swapped with their originals: every card still has one, but out of order.
        ("note counters out of order", """
            UPDATE notes SET created = CASE id WHEN 1 THEN (SELECT created FROM notes WHERE id = 2)
                                              ELSE (SELECT created FROM notes WHERE id = 1) END WHERE id IN (1, 2)
            """, "dense-ids: note counters", true),
        ("card counters out of order", """
            UPDATE cards SET created = CASE id WHEN 1 THEN (SELECT created FROM cards WHERE id = 2)
                                              ELSE (SELECT created FROM cards WHERE id = 1) END WHERE id IN (1, 2)
            """, "dense-ids: card counters", true),
        ("deck name in the manifest", "UPDATE manifest SET value = 'Japanese::JLPT N5' WHERE key = 'tool_version'",
         "no-source-strings", true),
        // The statements below are completed with a value read from the source (see `tamper`).
        ("original id in text", "UPDATE notes SET flds = flds || ' ref %@' WHERE id = 1", "no-original-ids", true),
        ("original card id in text", "UPDATE notes SET tags = tags || ' %@ ' WHERE id = 2", "no-original-ids", true),
        ("original review id in text", "UPDATE notes SET sfld = 'x%@x' WHERE id = 3", "no-original-ids", true),
        ("original creation time in text", "UPDATE deck_config SET fsrs_params = '[%@]' WHERE id = 1",
         "no-original-ids", true),
    ]

    @Test("a clean submission passes with and without the source")
    func clean() throws {
        let scratch = try Scratch()
        let prepared = try prepare(Self.source, zone: "Europe/Berlin", out: scratch.sub("out"))
        #expect(try SubmissionAudit().audit(submission: prepared.submission).isEmpty)
    }

    @Test("tampering is found", arguments: cases)
    func tamper(_ name: String, _ sql: String, _ rule: String, _ withSource: Bool) throws {
        let scratch = try Scratch()
        let prepared = try prepare(Self.source, zone: "Europe/Berlin", out: scratch.sub("out"))
        let collection = try AnkiCollection.open(Self.source)
        defer { collection.close() }
        var statement = sql
        let originals: [String: String] = [
            "original id in text": "SELECT min(id) FROM notes",
            "original card id in text": "SELECT max(id) FROM cards",
            "original review id in text": "SELECT id FROM revlog ORDER BY id LIMIT 1 OFFSET 3",
            "original creation time in text": "SELECT crt FROM col",
        ]
        if let query = originals[name] {
            var config = Configuration()
            config.readonly = true
            let original = try DatabaseQueue(path: collection.databaseURL.path, configuration: config)
            let value = try original.read { try Int64.fetchOne($0, sql: query) }
            try original.close()
            statement = sql.replacingOccurrences(of: "%@", with: String(try #require(value)))
        }
        let queue = try DatabaseQueue(path: prepared.submission.path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            try db.execute(sql: statement)
        }
        try queue.close()
        let findings = try SubmissionAudit().audit(
            submission: prepared.submission,
            source: withSource ? .init(collection: collection, timeZone: TimeZone(identifier: "Europe/Berlin")!) : nil)
        let parts = rule.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(findings.contains { $0.rule == parts[0] && (parts.count == 1 || $0.message.contains(parts[1])) },
                "\(name): \(findings)")
    }

    /// Compares the review log span by span as if prepare were still writing it, changing it in
    /// between with `sql` (nil: not at all); returns what `finish` found.
    func followedAudit(changingAfterFirstSpan sql: String?) throws -> [AuditFinding] {
        let scratch = try Scratch()
        let prepared = try prepare(Self.source, zone: "Europe/Berlin", out: scratch.sub("out"))
        let collection = try AnkiCollection.open(Self.source)
        defer { collection.close() }
        let queue = try DatabaseQueue(path: prepared.submission.path)
        let bounds = try queue.read { db in
            // Every 7th review by position, so that the first span always holds the earliest six (ids
            // are shifted at random: picking them by `id % 7` left the first span empty one run in seven).
            try Row.fetchAll(db, sql: """
                SELECT id, n FROM (SELECT id, row_number() OVER (ORDER BY rowid) AS n FROM revlog) WHERE n % 7 = 0 ORDER BY n
                """).map { (id: $0[0] as Int64, rows: ($0[1] as Int64) - 1) }
        }
        try #require(bounds.count >= 3)
        let pending = try SubmissionAudit().start(
            submission: prepared.submission,
            source: .init(collection: collection, timeZone: TimeZone(identifier: "Europe/Berlin")!),
            contentThreads: 1, followingReviewLog: true)
        for (index, bound) in bounds.prefix(3).enumerated() {
            pending.reviewsCommitted(rows: bound.rows, below: bound.id)
            pending.waitForFollowedSpans(index + 1)
            if index == 0, let sql {
                try queue.writeWithoutTransaction { db in try db.execute(sql: sql) }
            }
        }
        try queue.close()
        return try pending.finish()
    }

    @Test("the review log compared span by span while written: clean stays clean")
    func followedClean() throws {
        #expect(try followedAudit(changingAfterFirstSpan: nil).isEmpty)
    }

    /// A review added later lands after the rows compared (rowids grow): out of order there.
    @Test("a review removed from or added to a span the audit already compared is found", arguments: [
        ("DELETE FROM revlog WHERE id = (SELECT min(id) FROM revlog)", "review-log"),
        ("INSERT INTO revlog SELECT min(id) - 1, cid, ease, ivl, lastIvl, factor, time, type, day FROM revlog", "review-order"),
        ("INSERT INTO revlog (rowid, id, cid, ease, ivl, lastIvl, factor, time, type, day) "
            + "SELECT -1, min(id) - 1, cid, ease, ivl, lastIvl, factor, time, type, day FROM revlog", "review-log"),
    ])
    func followedChanged(_ sql: String, _ rule: String) throws {
        let findings = try followedAudit(changingAfterFirstSpan: sql)
        #expect(findings.contains { $0.rule == rule }, "\(findings)")
    }

    /// `cards.data` values and whether the card-data rule must report them. The rule recognises the
    /// shape prepare writes in one pass and leaves everything else to its SQL; the unusual but clean
    /// values at the end take that second way and must still pass.
    static let cardData: [(String, Bool)] = [
        (#"{"s":1.5,"d":2,"dr":0.9,"decay":0.154,"lrt":1696159343}"#, false),
        ("{}", false),
        (#" { "s" : -0.5e-3 , "d":0 } "#, false),
        (#"{"s":1.0,"pos":3}"#, true),
        (#"{"s":"x"}"#, true),
        (#"{"s":{"a":1}}"#, true),
        (#"{"S":1}"#, true),
        (#"{"s":null}"#, true),
        (#"{"s":true}"#, true),
        (#"{"s":01}"#, true),
        (#"{"s":1,}"#, true),
        ("not json", true),
        ("[1,2]", true),
        (#"{"s":1,"s":2}"#, false),
        (#"{"\u0073":1}"#, false),
        (#"{"s":1E+2}"#, false),
    ]

    @Test("card data: every shape is judged by the rule's SQL, the one-pass check only skips clean ones")
    func cardDataShapes() throws {
        let scratch = try Scratch()
        let prepared = try prepare(Self.source, zone: "Europe/Berlin", out: scratch.sub("out"))
        for (n, (data, expected)) in Self.cardData.enumerated() {
            let copy = scratch.url.appendingPathComponent("card-data-\(n).sqlite")
            try FileManager.default.copyItem(at: prepared.submission, to: copy)
            let queue = try DatabaseQueue(path: copy.path)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "UPDATE cards SET data = ? WHERE id = 1", arguments: [data])
            }
            try queue.close()
            let findings = try SubmissionAudit().audit(submission: copy)
            #expect(findings.contains { $0.rule == "card-data" } == expected, "\(data): \(findings)")
            #expect(findings.allSatisfy { $0.rule == "card-data" }, "\(data): \(findings)")
        }
    }

    @Test("a file that is not a submission is reported, not crashed on")
    func notASubmission() throws {
        let scratch = try Scratch()
        let garbage = scratch.url.appendingPathComponent("x.sqlite")
        try Data("hello".utf8).write(to: garbage)
        #expect(throws: SubmissionAudit.Unreadable.self) { try SubmissionAudit().audit(submission: garbage) }
        let other = scratch.url.appendingPathComponent("other.sqlite")
        try DatabaseQueue(path: other.path).write { try $0.execute(sql: "CREATE TABLE t (a)") }
        let findings = try SubmissionAudit().audit(submission: other)
        #expect(findings.contains { $0.rule == "schema" })
    }
}
