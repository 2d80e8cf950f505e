import AnkiAudit
import AnkiReader
import AnkiSubmission
import Foundation
import GRDB

/// Copies notes, cards and reviews in bulk inside SQLite (`INSERT … SELECT` over the attached
/// collection, through the id maps and the functions the earlier stages registered), writes the
/// collection row and the manifest, audits the result against the policy and the source, then writes
/// the token file and renames the submission into place.
struct WriteSubmission: PipelineStage {
    static let name = "write"
    static let summary = "bulk copy through the maps, audit, then token file and atomic rename"

    /// Cards whose `due` holds Unix seconds: (re)learning and preview queues, and buried/suspended
    /// (re)learning cards that keep a timestamp. `odue` likewise for cards in a filtered deck.
    static let dueIsTimestamp = "(c.queue IN (1, 4) OR (c.queue < 0 AND c.type IN (1, 3) AND c.due > 1000000000))"
    static let odueIsTimestamp = "(c.odid != 0 AND c.type IN (1, 3) AND c.odue > 1000000000)"

    func run(_ context: PipelineContext) throws {
        let shift = context.requireShift()
        let policy = context.policy
        let output = context.requireOutput()
        let source = context.source
        let keys = policy.cardsDataKeys.map { "'\($0)'" }.joined(separator: ", ")
        let timeKeys = policy.cardsDataTimeKeys.map { "'\($0)'" }.joined(separator: ", ")
        let dataExpression = """
            CASE WHEN json_valid(c.data) AND json_type(c.data) = 'object' THEN
              (SELECT json_group_object(j.key, CASE WHEN j.key IN (\(timeKeys.isEmpty ? "NULL" : timeKeys))
                                                    THEN j.value + :s ELSE j.value END)
               FROM json_each(c.data) AS j WHERE j.key IN (\(keys)) AND j.type IN ('integer', 'real'))
            ELSE '' END
            """
        let defaultDeck = source.decks.map(\.id).sorted().firstIndex(of: 1).map { $0 + 1 } ?? 1
        let arguments: StatementArguments = ["ms": shift.milliseconds, "s": shift.seconds,
                                             "first": context.firstReviewDay, "defaultDeck": defaultDeck]
        var counts: [String: Int] = [:]
        var clock = StageClock()
        func lap(_ part: String) { context.report.finished("\(Self.name)/\(part)", clock.lap()) }
        // Card data in Anki's usual shape is reduced in one pass; anything else by the SQL above.
        let reducer = CardDataReducer(keep: policy.cardsDataKeys, timeKeys: policy.cardsDataTimeKeys)
        guard let partial = context.partialURL else {
            throw PrepareError(.outputFailure, "The submission file was not opened.")
        }
        func diskFull<T>(_ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
                throw PrepareError(.outputFailure, "The disk is full; the submission could not be written.")
            }
        }
        // Notes, cards and `col` first, in their own transaction: once they are committed the audit's
        // content checks start on the second core and read them while the review log is written (the
        // file is in WAL mode, so those readers and this writer never wait for each other).
        try diskFull {
            try output.writeWithoutTransaction { db in
                try TextFunction.register(db, name: "anki_submit_card_data", argumentCount: 2) { bytes, seconds in
                    reducer.reduce(bytes, shiftSeconds: seconds).map { TextFunction.Result.bytes($0) } ?? .null
                }
                // Deferred: an immediate transaction would also lock the attached collection (see
                // NeutralizeDecks), which the scan may still be reading.
                try db.inTransaction(.deferred) {
                    // `LIMIT -1` keeps SQLite from flattening the sub-query, so the media function runs
                    // once per note and feeds both `flds` and the sort field, with no temporary table.
                    //
                    // Notes and cards get their counters from SQLite: rows go in in ascending order of
                    // their original ids, into empty tables, so the rowid SQLite gives each (one more
                    // than the last) is its counter, and SQLite appends instead of searching the table
                    // for every row as it does for a given id. `checkCounters` proves it.
                    try db.execute(sql: """
                        INSERT INTO notes (mid, tags, flds, sfld, created)
                        SELECT mid, tags, flds, anki_submit_sort_field(flds, sf), created FROM (
                          SELECT mt.new AS mid, anki_submit_tags(n.tags) AS tags,
                                 anki_submit_media(n.flds) AS flds, n.id + :ms AS created, nt.sort_field AS sf
                          FROM src.notes n
                          CROSS JOIN temp.map_note_types mt ON mt.old = n.mid
                          CROSS JOIN main.note_types nt ON nt.id = mt.new
                          WHERE anki_submit_note(n.id) IS NOT NULL
                          ORDER BY n.id LIMIT -1)
                        """, arguments: arguments)
                    counts["notes"] = db.changesCount
                    try Self.checkCounters(db, table: "notes", count: counts["notes"]!, expected: context.report.value(RemapIDs.name, "notes") ?? -1)
                    lap("notes")
                    try db.execute(sql: """
                        INSERT INTO cards (nid, did, ord, type, queue, due, ivl, factor, reps, lapses, left,
                                           odue, odid, data, created)
                        SELECT anki_submit_note(c.nid), coalesce(md.new, :defaultDeck),
                               c.ord, c.type, c.queue,
                               CASE WHEN \(Self.dueIsTimestamp) THEN c.due + :s ELSE c.due END,
                               c.ivl, c.factor, c.reps, c.lapses, c.left,
                               CASE WHEN \(Self.odueIsTimestamp) THEN c.odue + :s ELSE c.odue END,
                               CASE WHEN c.odid = 0 THEN 0 ELSE coalesce(mo.new, 0) END,
                               coalesce(anki_submit_card_data(c.data, :s), \(dataExpression)),
                               c.id + :ms
                        FROM src.cards c
                        LEFT JOIN temp.map_decks md ON md.old = c.did
                        LEFT JOIN temp.map_decks mo ON mo.old = c.odid
                        WHERE anki_submit_kept_card(c.id) IS NOT NULL
                        ORDER BY c.id
                        """, arguments: arguments)
                    counts["cards"] = db.changesCount
                    try Self.checkCounters(db, table: "cards", count: counts["cards"]!, expected: context.report.value(RemapIDs.name, "cards") ?? -1)
                    lap("cards")
                    try db.execute(sql: """
                        INSERT INTO col (id, crt, ver, sched_ver, rollover, utc_offset_hours)
                        VALUES (1, ?, ?, ?, ?, ?)
                        """, arguments: [source.config.creationTime + shift.seconds, source.config.schemaVersion,
                                         source.config.schedulerVersion, context.rolloverHour,
                                         policy.storeUTCOffsetHours
                                            ? Int((Double(context.options.timeZone.secondsFromGMT()) / 3600).rounded())
                                            : nil])
                    // The rollover hour goes in now (the rest of the manifest last): the audit needs
                    // it to compare review days while the review log is still being written.
                    try db.execute(sql: "INSERT INTO manifest (key, value) VALUES ('rollover_hour', ?)",
                                   arguments: [String(context.rolloverHour)])
                    return .commit
                }
            }
        }
        let audit = try SubmissionAudit(policy: policy).start(
            submission: partial,
            source: SubmissionAudit.Source(collection: source, timeZone: context.options.timeZone),
            contentThreads: 1, followingReviewLog: true)
        let findings: [AuditFinding]
        do {
            try diskFull {
                try output.writeWithoutTransaction { db in
                    // In spans of the original review times, each committed on its own, so that the
                    // audit compares each span with the source while the next one is written. The rows
                    // go in in order of their times, so the table's rowids (it has no key) are 1...n in
                    // that order, and each span is a range of them.
                    //
                    // Reviews of cards not kept (excluded notes, deleted cards) get a NULL card, which
                    // `OR IGNORE` skips (`cid` is NOT NULL): a fifth faster than filtering them in a
                    // sub-query first. Nothing else can be skipped: every other value must be a number,
                    // which the day function checks for every review (of any card) as it goes, failing
                    // the copy otherwise; ids are unique, and the audit proves that every review of a
                    // stored card is stored.
                    let numbers = IntegrityCheck.reviewLogNumericColumns.map { "r.\($0)" }.joined(separator: ", ")
                    let insert = try db.makeStatement(sql: """
                        INSERT OR IGNORE INTO revlog (id, cid, ease, ivl, lastIvl, factor, time, type, day)
                        SELECT r.id + :ms, anki_submit_card(r.cid), r.ease, r.ivl, r.lastIvl,
                               r.factor, r.time, r.type, anki_submit_day(r.id, \(numbers)) - :first
                        FROM src.revlog r WHERE r.id >= :from AND r.id <= :through ORDER BY r.id
                        """)
                    var rows = 0
                    for (from, through) in try Self.reviewSpans(db, count: Self.reviewSpanCount) {
                        var spanArguments = arguments
                        spanArguments += ["from": from, "through": through]
                        try db.inTransaction(.deferred) {
                            do {
                                try insert.execute(arguments: spanArguments)
                            } catch let error as DatabaseError where error.message?.contains(ReviewDayCalendar.notANumber) == true {
                                // Text where Anki writes a number: a damaged collection (the reader's
                                // error, as for notes and cards), not a fault of the submission.
                                throw ReaderError.notANumber(inTable: "revlog")
                            }
                            rows += db.changesCount
                            return .commit
                        }
                        // Reviews after this span are stored with ids above its end moved by the shift.
                        let (end, overflow) = through.addingReportingOverflow(shift.milliseconds)
                        if !overflow && end < .max { audit.reviewsCommitted(rows: Int64(rows), below: end + 1) }
                    }
                    lap("revlog")
                    counts["revlog"] = rows
                    // The small tables are counted; the large ones were counted as they were written.
                    for table in ["decks", "note_types", "deck_config"] {
                        counts[table] = try Int.fetchOne(db, sql: "SELECT count(*) FROM main.\(table)") ?? 0
                    }
                }
            }
            // The scan's counts go into the manifest's report, and its special-category check must pass;
            // the collection must have passed its integrity check before its copy is trusted.
            try ScanContent.finishPending(context)
            try context.finishIntegrityCheck()
            lap("scan-wait")
            for table in ["notes", "cards", "revlog", "decks", "note_types", "deck_config"] {
                context.report.count(table, counts[table] ?? 0)
            }
            context.report.count("reviews", counts["revlog"] ?? 0, stage: ComputeReviewDays.name)
            if let deleted = context.cardMap?.reviewsOfDeletedCards, deleted > 0 {
                context.report.count("reviews of deleted cards (left out)", deleted, stage: RemapIDs.name)
            }
            context.report.count("media references neutralized", context.mediaNeutralizer?.replacements ?? 0)
            try diskFull { try writeManifest(context, output: output, counts: counts) }
            lap("rest")
            // Everything is written: while the audit finishes, another thread copies the log's pages
            // into the file (a passive checkpoint, which the audit's readers never block, nor it them)
            // and flushes it to disk, so that little of either is left for after the audit. A reader
            // still on an older snapshot holds the copy back at that point: it is tried again shortly.
            let flushing = InBackground<Void> {
                for _ in 0..<100 {
                    let row = try output.writeWithoutTransaction { db in try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)") }
                    guard let row, let frames: Int = row[1], let copied: Int = row[2], copied < frames else { break }
                    usleep(2000)
                }
                try DurableFile.sync(partial)
            }
            do {
                findings = try audit.finish()
                try flushing.value()
            } catch {
                _ = try? flushing.value()
                throw error
            }
            lap("audit")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            audit.abandon()
            throw PrepareError(.outputFailure, "The disk is full; the submission could not be written.")
        } catch {
            audit.abandon()
            throw error
        }
        // Back to a single file (the checkpoint writes the log's pages into it), now that the audit's
        // readers are closed.
        try diskFull {
            try output.writeWithoutTransaction { db in
                try db.execute(sql: "DETACH DATABASE src")
                guard try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE") == "delete" else {
                    throw PrepareError(.outputFailure, "The submission could not be completed (its write-ahead log stayed open).")
                }
            }
        }
        try output.close()
        context.output = nil
        lap("checkpoint")
        if !findings.isEmpty {
            throw PrepareError(.auditFailed,
                               FaultReport.message(findings: findings, report: FaultReport.write(context, findings: findings)))
        }
        try finish(context, partial: partial)
        lap("sync-and-rename")
    }

    /// The counters SQLite gave `table`'s rows are 1...n, n being the rows the id map keeps.
    static func checkCounters(_ db: Database, table: String, count: Int, expected: Int) throws {
        let last = try Int.fetchOne(db, sql: "SELECT max(id) FROM main.\(table)") ?? 0
        guard count == expected, last == count else {
            throw PrepareError(.outputFailure, "The submission's \(table) were not numbered as planned; nothing was written. Please report this.")
        }
    }

    /// Spans of the review log the write stage commits one by one.
    static let reviewSpanCount = 8

    /// The source review log's id range cut in `count` spans of equal length (inclusive bounds, in
    /// order, covering every id from the smallest to the largest); none for an empty log.
    static func reviewSpans(_ db: Database, count: Int) throws -> [(Int64, Int64)] {
        guard let row = try Row.fetchOne(db, sql: "SELECT (SELECT min(id) FROM src.revlog), (SELECT max(id) FROM src.revlog)"),
              let low: Int64 = row[0], let high: Int64 = row[1] else { return [] }
        // The id range of a hostile file may not fit an Int64: then one span.
        let (width, overflow) = high.subtractingReportingOverflow(low)
        guard !overflow, width >= Int64(count) else { return [(low, high)] }
        let step = width / Int64(count)
        var spans: [(Int64, Int64)] = []
        var from = low
        for index in 0..<count {
            let through = index == count - 1 ? high : from + step - 1
            spans.append((from, through))
            from = through + 1
        }
        return spans
    }

    private func writeManifest(_ context: PipelineContext, output: DatabaseQueue, counts: [String: Int]) throws {
        let decisions = context.decisions
        let languages = String(decoding: try JSONSerialization.data(withJSONObject: decisions.languages), as: UTF8.self)
        var entries: [(String, String)] = [
            ("schema_version", String(SubmissionSchema.version)),
            ("tool_version", context.options.toolVersion),
            ("policy_version", String(context.policy.version)),
            ("source_format", context.source.format.rawValue),
            ("source_schema", String(context.source.config.schemaVersion)),
            ("token_hash", context.token.hash),
            ("consent_public", decisions.consentPublic == true ? "yes" : "no"),
            ("languages", languages),
            ("domain", decisions.domain),
            ("excluded_notes", String(decisions.excludedNotes.count)),
            ("removed_tags", String(decisions.removedTags.count)),
            ("special_category_confirmed", decisions.specialCategoryConfirmed ? "yes" : "no"),
            ("report", context.report.json),
        ]
        for table in ["notes", "cards", "revlog", "decks", "note_types", "deck_config"] {
            entries.append(("count_\(table)", String(counts[table] ?? 0)))
        }
        try output.inTransaction(.deferred) { db in
            let insert = try db.makeStatement(sql: "INSERT INTO manifest (key, value) VALUES (?, ?)")
            for (key, value) in entries { try insert.execute(arguments: [key, value]) }
            return .commit
        }
    }

    /// Token file first (a token without a submission is harmless; the reverse would strand the
    /// participant), then the submission, each written under a temporary name and renamed.
    private func finish(_ context: PipelineContext, partial: URL) throws {
        let folder = context.options.outputDirectory
        let fm = FileManager.default
        var final = folder.appendingPathComponent("anki-submission.sqlite")
        var index = 2
        while fm.fileExists(atPath: final.path) {
            final = folder.appendingPathComponent("anki-submission-\(index).sqlite")
            index += 1
        }
        var tokenURL = context.options.tokenFile
            ?? folder.appendingPathComponent(final.deletingPathExtension().lastPathComponent + "-withdrawal-token.txt")
        if context.options.tokenFile == nil {
            while fm.fileExists(atPath: tokenURL.path) {
                tokenURL = folder.appendingPathComponent(final.deletingPathExtension().lastPathComponent
                                                         + "-withdrawal-token-\(index).txt")
                index += 1
            }
        }
        let text = """
            Your anki-submit withdrawal token
            =================================

            \(context.token.text)

            Keep this file private. It is the only way to withdraw your submission later:
            send the token to the study's withdrawal page and your data is removed from the
            working dataset. Nobody else has it, and it cannot be recovered if you lose it.
            After the public release date, data already published cannot be recalled.

            """
        try DurableFile.write(Data(text.utf8), to: tokenURL, mode: 0o600)
        context.tokenURL = tokenURL
        try DurableFile.sync(partial)
        guard rename(partial.path, final.path) == 0 else {
            throw PrepareError(.outputFailure, "Could not move the finished submission into place in \(folder.path).")
        }
        Workspace.untrackTemporaryFile(partial.path)
        context.partialURL = nil
        context.submissionURL = final
        DurableFile.syncDirectory(folder)
        context.report.note("written and renamed into place")
    }
}

/// Small helpers for files that must be complete when they appear.
enum DurableFile {
    /// Writes `data` to a new private file next to `url` (never through a link, never over an existing
    /// file: `Workspace.createPartialFile`), flushes it, and renames it to `url`.
    static func write(_ data: Data, to url: URL, mode: mode_t) throws {
        let folder = url.deletingLastPathComponent()
        let temp: URL
        let fd: Int32
        do {
            let made = try Workspace.createPartialFile(in: folder, stem: "anki-submit-token")
            temp = made.url
            fd = made.descriptor
        } catch {
            throw PrepareError(.outputFailure, "Cannot write \(url.lastPathComponent) in \(folder.path) (\(error.reason)).")
        }
        defer { Workspace.untrackTemporaryFile(temp.path) }
        fchmod(fd, mode)
        var failure: Int32 = 0
        let ok = data.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let n = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 {
                    failure = n < 0 ? errno : ENOSPC
                    return false
                }
                offset += n
            }
            if fsync(fd) != 0 {
                failure = errno
                return false
            }
            return true
        }
        if ok, rename(temp.path, url.path) != 0 { failure = errno }
        guard ok, failure == 0 else {
            unlink(temp.path)
            throw PrepareError(.outputFailure, "Cannot write \(url.lastPathComponent) in \(folder.path) "
                               + "(\(PartialFileError(errno: failure).reason)).")
        }
        syncDirectory(folder)
    }

    static func sync(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw PrepareError(.outputFailure, "The submission file disappeared while it was written.") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw PrepareError(.outputFailure, "Could not flush the submission to disk.") }
    }

    static func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}
