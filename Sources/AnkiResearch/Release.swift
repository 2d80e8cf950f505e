import Foundation
import GRDB

public struct ReleaseSummary: Sendable {
    public let folder: URL
    public let date: String
    public let participants: Int
    public let withheld: Int
    public let notes: Int
    public let cards: Int
    public let reviews: Int
    public let files: Int

    public var text: String {
        """
        Release of \(date) written to \(folder.path):
          \(participants) participant(s) who consented (\(withheld) without consent left out), \
        \(notes.formatted()) notes, \(cards.formatted()) cards, \(reviews.formatted()) reviews, \(files) files.
          The release date is recorded in the dataset: from now on a withdrawal of these participants is
          reported as already published.
        """
    }
}

/// `research release`: the public dataset. Only consenting participants, renumbered at random; no
/// token material, keys, bookkeeping or points in time. One SQLite file (`Schemas/release.sql`), the
/// same tables as CSV per participant (`revlogs/participant=N/data.csv`, …), `participants.csv`, a
/// `README.md` data card and `SHA256SUMS`. Written to a temporary folder and renamed into place.
public final class Release {
    public let datasetURL: URL
    public let folder: URL
    public let date: String
    /// Also write every table as CSV (`<table>/participant=N/data.csv`, `participants.csv`).
    public let csv: Bool

    public static let databaseName = "anki-submit-release.sqlite"
    /// Tables written per participant as CSV, in this order.
    public static let partitionedTables = ["revlogs", "cards", "notes", "decks", "presets", "note_types"]

    public init(dataset: URL, out: URL, date: Date = Date(), csv: Bool = false) {
        self.datasetURL = dataset
        self.folder = out
        self.date = Clock.day(date)
        self.csv = csv
    }

    public func run() throws -> ReleaseSummary {
        let fm = FileManager.default
        if fm.fileExists(atPath: folder.path) {
            let contents = (try? fm.contentsOfDirectory(atPath: folder.path)) ?? ["?"]
            guard contents.isEmpty else {
                throw ResearchError(.releaseExists, "\(folder.path) already exists; choose a new folder for this release.")
            }
            try? fm.removeItem(at: folder)
        }
        let dataset = try Dataset.open(datasetURL, mode: .write, command: "research release")
        defer { dataset.close() }
        let (consenting, withheld) = try dataset.queue.read { db in
            (try Int.fetchAll(db, sql: "SELECT participant FROM participants WHERE consent_public = 1 ORDER BY participant"),
             try Int.fetchOne(db, sql: "SELECT count(*) FROM participants WHERE consent_public = 0") ?? 0)
        }
        guard !consenting.isEmpty else {
            throw ResearchError(.nothingToRelease, "No participant in the dataset consented to the public release; nothing was written.")
        }
        // Release numbers in random order: they say nothing about who arrived when.
        var rng = SystemRandomNumberGenerator()
        let numbers = Array(1...consenting.count).shuffled(using: &rng)
        let mapping = Dictionary(uniqueKeysWithValues: zip(consenting, numbers))

        let parent = folder.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let partial = parent.appendingPathComponent(".\(folder.lastPathComponent).partial-\(getpid())")
        try? fm.removeItem(at: partial)
        try fm.createDirectory(at: partial, withIntermediateDirectories: false)
        var done = false
        defer { if !done { try? fm.removeItem(at: partial) } }

        let counts = try Timings.measure("release sqlite") {
            try writeDatabase(partial.appendingPathComponent(Self.databaseName), mapping: mapping)
        }
        var files = [Self.databaseName]
        files += try Timings.measure("release parquet") {
            try ParquetRelease.write(dataset: datasetURL, mapping: mapping, into: partial)
        }
        if csv {
            files += try Timings.measure("release csv") {
                try writeCSV(database: partial.appendingPathComponent(Self.databaseName), into: partial)
            }
        }
        try Durable.write(Data(dataCard(counts: counts, withheld: withheld).utf8), to: partial.appendingPathComponent("README.md"))
        files.append("README.md")
        // Parquet pages are compressed, so their bytes cannot be searched; they hold only values of the
        // data tables the SQLite file also holds, and that file's bytes are checked.
        try checkNoSecrets(in: partial, files: files.filter { !$0.hasSuffix(".parquet") }, dataset: dataset)
        var sums = ""
        for file in files.sorted() {
            sums += "\(SubmissionCheck.sha256(of: partial.appendingPathComponent(file)) ?? "")  \(file)\n"
        }
        try Durable.write(Data(sums.utf8), to: partial.appendingPathComponent("SHA256SUMS"))
        files.append("SHA256SUMS")

        // Record first, then rename: a crash in between errs on the safe side (a withdrawal would be
        // told its data may have been published).
        try dataset.queue.write { db in
            try db.execute(sql: "INSERT INTO releases (released_at, participants) VALUES (?, ?)",
                           arguments: [date, consenting.count])
            for p in consenting {
                try db.execute(sql: "UPDATE participants SET released_at = ? WHERE participant = ? AND released_at IS NULL",
                               arguments: [date, p])
            }
            try Dataset.setMeta(db, "released_at", date)
        }
        guard rename(partial.path, folder.path) == 0 else {
            throw ResearchError(.writeFailure, "Could not move the release into \(folder.path).")
        }
        done = true
        Durable.syncDirectory(parent)
        return ReleaseSummary(folder: folder, date: date, participants: consenting.count, withheld: withheld,
                              notes: counts.notes, cards: counts.cards, reviews: counts.reviews, files: files.count)
    }

    struct Counts {
        var participants = 0
        var notes = 0
        var cards = 0
        var reviews = 0
        var languages: [String: Int] = [:]
    }

    /// `anki_fields_json(flds)`: Anki's 0x1f-joined fields as a JSON array of strings.
    static var fieldsJSON: DatabaseFunction {
        DatabaseFunction("anki_fields_json", argumentCount: 1, pure: true) { values in
            guard let text = String.fromDatabaseValue(values[0]) else { return "[]" }
            let fields = text.split(separator: "\u{1f}", omittingEmptySubsequences: false).map(String.init)
            let data = (try? JSONSerialization.data(withJSONObject: fields)) ?? Data("[]".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    private func writeDatabase(_ url: URL, mapping: [Int: Int]) throws -> Counts {
        var config = Configuration()
        config.label = "anki-submit.release"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32768")
            db.add(function: Release.fieldsJSON)
        }
        let queue = try DatabaseQueue(path: url.path, configuration: config)
        defer { try? queue.close() }
        var counts = Counts()
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = OFF")
            try db.execute(sql: ReleaseSchema.sql)
            try db.execute(sql: "ATTACH DATABASE ? AS w", arguments: [datasetURL.path])
            defer { try? db.execute(sql: "DETACH DATABASE w") }
            try db.execute(sql: "CREATE TEMP TABLE rmap (participant INTEGER PRIMARY KEY, rel INTEGER NOT NULL UNIQUE)")
            for (p, rel) in mapping { try db.execute(sql: "INSERT INTO temp.rmap VALUES (?, ?)", arguments: [p, rel]) }
            try db.inTransaction {
                try db.execute(sql: """
                    INSERT INTO participants (participant, languages, domain, scheduler_version, rollover_hour,
                                              utc_offset_hours, notes, cards, reviews)
                    SELECT m.rel, p.languages, p.domain, p.scheduler_version, p.rollover_hour, p.utc_offset_hours,
                           (SELECT count(*) FROM w.notes n WHERE n.participant = p.participant),
                           (SELECT count(*) FROM w.cards c WHERE c.participant = p.participant),
                           coalesce(p.revlog_last - p.revlog_first + 1, 0)
                    FROM w.participants p JOIN temp.rmap m ON m.participant = p.participant ORDER BY m.rel;

                    INSERT INTO revlogs (participant, review_th, card_id, day_offset, rating, state, duration,
                                         elapsed_days, elapsed_seconds, type, ivl, last_ivl, factor)
                    WITH src AS (
                      SELECT m.rel AS participant,
                             row_number() OVER (PARTITION BY m.rel ORDER BY r.reviewed_at_ms, r.rowid) AS review_id,
                             r.card_id, r.day, r.ease, r.duration_ms, r.type, r.ivl, r.last_ivl, r.factor,
                             r.reviewed_at_ms
                      FROM w.revlogs r JOIN temp.rmap m ON m.participant = r.participant
                    ), rated AS (
                      SELECT *, lag(day) OVER card AS prev_day, lag(reviewed_at_ms) OVER card AS prev_ms,
                             row_number() OVER card AS nth
                      FROM src WHERE ease BETWEEN 1 AND 4
                      WINDOW card AS (PARTITION BY participant, card_id ORDER BY reviewed_at_ms, review_id)
                    )
                    SELECT participant, review_id, card_id, day, ease,
                           CASE WHEN type = 0 AND nth = 1 THEN 0
                                WHEN type = 0 THEN 1
                                WHEN type = 1 THEN 2
                                WHEN type = 2 THEN 3
                                WHEN nth = 1 THEN 0
                                WHEN last_ivl > 0 THEN 2 ELSE 1 END,
                           duration_ms, coalesce(day - prev_day, -1), coalesce((reviewed_at_ms - prev_ms) / 1000, -1),
                           type, ivl, last_ivl, factor
                    FROM rated
                    UNION ALL
                    SELECT participant, review_id, card_id, day, ease, CASE WHEN last_ivl > 0 THEN 2 ELSE 1 END,
                           duration_ms, -1, -1, type, ivl, last_ivl, factor
                    FROM src WHERE ease NOT BETWEEN 1 AND 4
                    ORDER BY 1, 2;

                    INSERT INTO cards (participant, card_id, note_id, deck_id, ord, type, queue, due, ivl, factor, reps,
                                       lapses, left, odue, odid, stability, difficulty, desired_retention, decay)
                    SELECT m.rel, c.card_id, c.note_id, c.deck_id, c.ord, c.type, c.queue, c.due, c.ivl, c.factor,
                           c.reps, c.lapses, c.left, c.odue, c.odid,
                           CASE WHEN json_valid(c.data) THEN json_extract(c.data, '$.s') END,
                           CASE WHEN json_valid(c.data) THEN json_extract(c.data, '$.d') END,
                           CASE WHEN json_valid(c.data) THEN json_extract(c.data, '$.dr') END,
                           CASE WHEN json_valid(c.data) THEN json_extract(c.data, '$.decay') END
                    FROM w.cards c JOIN temp.rmap m ON m.participant = c.participant ORDER BY m.rel, c.card_id;

                    INSERT INTO decks (participant, deck_id, parent_id, preset_id, name, filtered)
                    SELECT m.rel, d.deck_id, d.parent_id, d.preset_id, d.name, d.filtered
                    FROM w.decks d JOIN temp.rmap m ON m.participant = d.participant ORDER BY m.rel, d.deck_id;

                    INSERT INTO presets (participant, preset_id, fsrs_params, desired_retention, new_per_day, max_ivl)
                    SELECT m.rel, c.preset_id, c.fsrs_params, c.desired_retention, c.new_per_day, c.max_ivl
                    FROM w.presets c JOIN temp.rmap m ON m.participant = c.participant ORDER BY m.rel, c.preset_id;

                    INSERT INTO note_types (participant, note_type_id, kind, sort_field, field_names)
                    SELECT m.rel, t.note_type_id, t.kind, t.sort_field,
                           (SELECT json_group_array(name) FROM (SELECT f.name FROM w.fields f
                             WHERE f.participant = t.participant AND f.note_type_id = t.note_type_id ORDER BY f.ord))
                    FROM w.note_types t JOIN temp.rmap m ON m.participant = t.participant ORDER BY m.rel, t.note_type_id;

                    INSERT INTO notes (participant, note_id, note_type_id, tags, fields, sort_field)
                    SELECT m.rel, n.note_id, n.note_type_id, n.tags, anki_fields_json(n.flds), n.sfld
                    FROM w.notes n JOIN temp.rmap m ON m.participant = n.participant ORDER BY m.rel, n.note_id;
                    """)
                return .commit
            }
            counts.participants = try Int.fetchOne(db, sql: "SELECT count(*) FROM participants") ?? 0
            counts.notes = try Int.fetchOne(db, sql: "SELECT count(*) FROM notes") ?? 0
            counts.cards = try Int.fetchOne(db, sql: "SELECT count(*) FROM cards") ?? 0
            counts.reviews = try Int.fetchOne(db, sql: "SELECT count(*) FROM revlogs") ?? 0
            for text in try String.fetchAll(db, sql: "SELECT languages FROM participants") {
                for code in (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String] ?? [] {
                    counts.languages[code, default: 0] += 1
                }
            }
        }
        return counts
    }

    /// Every table as CSV, one file per participant (`<table>/participant=N/data.csv`, without the
    /// participant column, as the hive-partitioned FSRS datasets do), and `participants.csv`.
    private func writeCSV(database: URL, into folder: URL) throws -> [String] {
        var config = Configuration()
        config.readonly = true
        let queue = try DatabaseQueue(path: database.path, configuration: config)
        defer { try? queue.close() }
        var written: [String] = []
        try queue.read { db in
            let participantColumns = try db.columns(in: "participants").map(\.name)
            var all = CSVFile(url: folder.appendingPathComponent("participants.csv"), columns: participantColumns)
            try all.open()
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM participants ORDER BY participant")
            while let row = try rows.next() { try all.write(row, from: 0) }
            try all.close()
            written.append("participants.csv")
            for table in Self.partitionedTables {
                let columns = try db.columns(in: table).map(\.name).filter { $0 != "participant" }
                let key = table == "revlogs" ? "review_th" : columns[0]
                let cursor = try Row.fetchCursor(db, sql: "SELECT participant, \(columns.joined(separator: ", ")) FROM \(table) "
                                                 + "ORDER BY participant, \(key)")
                var current: Int64?
                var file: CSVFile?
                let participants = try Int64.fetchAll(db, sql: "SELECT participant FROM participants ORDER BY participant")
                var pending = participants[...]
                func start(_ p: Int64) throws {
                    try file?.close()
                    let relative = "\(table)/participant=\(p)/data.csv"
                    let dir = folder.appendingPathComponent("\(table)/participant=\(p)")
                    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                    file = CSVFile(url: folder.appendingPathComponent(relative), columns: columns)
                    try file?.open()
                    written.append(relative)
                    current = p
                }
                while let row = try cursor.next() {
                    let p: Int64 = row[0]
                    if p != current {
                        // Participants with no rows in this table still get a file with the header.
                        while let next = pending.first, next < p { pending.removeFirst(); try start(next) }
                        if pending.first == p { pending.removeFirst() }
                        try start(p)
                    }
                    try file?.write(row, from: 1)
                }
                for p in pending { try start(p) }
                try file?.close()
            }
        }
        return written
    }

    /// Refuses to publish if any keyed token hash, file hash or key check of the dataset appears in
    /// any released file (the release tables have no such column; this proves it for the bytes).
    private func checkNoSecrets(in folder: URL, files: [String], dataset: Dataset) throws {
        let secrets: Set<String> = try dataset.queue.read { db in
            var set = Set(try String.fetchAll(db, sql: "SELECT token_hmac FROM participants"))
            set.formUnion(try String.fetchAll(db, sql: "SELECT content_sha256 FROM submissions"))
            set.formUnion(try String.fetchAll(db, sql: "SELECT token_hmac FROM tombstones"))
            set.formUnion(try String.fetchAll(db, sql: "SELECT content_hmac FROM tombstones WHERE content_hmac IS NOT NULL"))
            if let check = try Dataset.meta(db, "key_check") { set.insert(check) }
            return set
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(file).path) else { continue }
            for run in Self.hexRuns(in: data, length: 64) where secrets.contains(run) {
                throw ResearchError(.writeFailure, "Refusing to publish: \(file) contains a hash from the dataset's "
                                    + "bookkeeping. Nothing was released; please report this.")
            }
        }
    }

    /// Every run of exactly `length` lower-case hex digits in `data`.
    static func hexRuns(in data: Data, length: Int) -> [String] {
        var out: [String] = []
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var start = -1
            for i in 0...bytes.count {
                let isHex = i < bytes.count && ((48...57).contains(bytes[i]) || (97...102).contains(bytes[i]))
                if isHex {
                    if start < 0 { start = i }
                } else if start >= 0 {
                    if i - start == length { out.append(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)) }
                    start = -1
                }
            }
        }
        return out
    }

    // MARK: Data card

    /// Column name and meaning for every column of every release table, from the comments in
    /// `Schemas/release.sql` (one source for the schema and its documentation).
    static func documentedColumns() -> [(table: String, columns: [(name: String, type: String, meaning: String)])] {
        var tables: [(String, [(String, String, String)])] = []
        var current: (String, [(String, String, String)])?
        for line in ReleaseSchema.sql.split(separator: "\n").map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("CREATE TABLE ") {
                let name = trimmed.dropFirst("CREATE TABLE ".count).split(separator: " ")[0]
                current = (String(name), [])
            } else if trimmed.hasPrefix(")") {
                if let c = current { tables.append(c) }
                current = nil
            } else if current != nil, !trimmed.hasPrefix("PRIMARY KEY"), !trimmed.hasPrefix("--") {
                let parts = trimmed.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
                guard parts.count >= 2 else { continue }
                let meaning = trimmed.range(of: "--").map { String(trimmed[$0.upperBound...]).trimmingCharacters(in: .whitespaces) } ?? ""
                current!.1.append((String(parts[0]), String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: ",")), meaning))
            }
        }
        return tables.map { (table: $0.0, columns: $0.1.map { (name: $0.0, type: $0.1, meaning: $0.2) }) }
    }

    private func dataCard(counts: Counts, withheld: Int) -> String {
        let languages = counts.languages.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "`\($0.key)` \($0.value)" }.joined(separator: ", ")
        let csvNote = csv ? """

            CSV copies of the SQLite tables are in `<table>/participant=N/data.csv` and `participants.csv`:
            UTF-8, comma-separated, with a header row, quoted where needed (RFC 4180); empty means no
            value; JSON columns hold JSON text.
            """ : ""
        var text = """
            # anki-submit research release, \(date)

            Review histories that Anki users donated to language-learning research with `anki-submit`,
            anonymized on their own machines and checked again by the researchers before this release.

            | | |
            |---|---|
            | release date | \(date) |
            | participants | \(counts.participants) |
            | notes | \(counts.notes.formatted()) |
            | cards | \(counts.cards.formatted()) |
            | reviews | \(counts.reviews.formatted()) |
            | languages (C1 or above, participants) | \(languages.isEmpty ? "none given" : languages) |

            ## What is in it, and what is not

            - Only participants who consented to the public release. Each has a release number
              (`user_id` in the Parquet files, `participant` in the SQLite file, 1..n) drawn at random for
              this release: it says nothing about who sent data when, and it differs from any other release.
            - Ids (`card_id`, `note_id`, `deck_id`, `preset_id`, `note_type_id`) are counters per
              participant (0..n-1 in the Parquet files, 1..n in the SQLite file), in the order the
              participant created the things. No original Anki id survives.
            - Left out: note and card creation times and the collection's creation day. Anki's raw `cards.due` and `odue` count days from that creation day or hold a
              (shifted) point in time, so they are usable only with it: the Parquet `card_states` gives the
              due day as a `day_offset` (`due_day_offset`) and a new card's queue position
              (`new_position`) instead; the SQLite file still has the raw values.
            - No points in time: days are counted from each participant's first review day
              (`day_offset`), and intervals are given in days and seconds (`elapsed_days`,
              `elapsed_seconds`). Review days follow the participant's own day boundary (their rollover
              hour, in their time zone, daylight saving included), exactly as their Anki counted them.
            - Deck names are neutral (`deck-1::deck-4`), note-type names, styling, templates, media and
              media file names were dropped; a media reference in a field is a placeholder of its kind.
            - Card text (`notes.fields`) is shared as the participants chose to share it, after the
              anonymizer and its personal-data scanner ran on their machines. It can still hold personal
              details a scanner missed: treat it with care.
            - Nothing about withdrawal tokens, keys or how the data was collected is in the release.

            ## Layout

            ```
            revlogs/user_id=N/data.parquet         reviews of participant N as the FSRS tools read them
            cards/user_id=N/data.parquet           card -> note, home deck
            decks/user_id=N/data.parquet           normal deck -> parent, preset
            reviews/user_id=N/data.parquet         every review log entry, unfiltered
            card_states/user_id=N/data.parquet     scheduling and FSRS memory state of every card
            deck_tree/user_id=N/data.parquet       every deck, filtered ones included
            presets/user_id=N/data.parquet
            note_types/user_id=N/data.parquet
            notes/user_id=N/data.parquet
            participants.parquet                   one row per participant (user_id)
            \(Self.databaseName.padding(toLength: 39, withPad: " ", startingAt: 0))the SQLite tables below, with a `participant` column
            SHA256SUMS                             checksums of every file
            ```

            The Parquet files follow the layout of `open-spaced-repetition/anki-revlogs-10k`, so the FSRS
            tools read them unchanged: `pd.read_parquet(path / "revlogs" / f"user_id={uid}")`,
            `pd.read_parquet(path / "cards", filters=[("user_id", "=", uid)])` (and `decks`), DuckDB
            `read_parquet('revlogs/*/*.parquet', hive_partitioning = true)`, polars `scan_parquet`.
            `revlogs`, `cards` and `decks` have exactly that dataset's columns, in its order, all int64,
            with its row semantics; everything else is in further tables, never in extra columns of those
            three (extra columns would collide in the merges those tools do). Ids (`card_id`, `note_id`,
            `deck_id`, `preset_id`, `note_type_id`) are dense from 0 per participant and the same in every
            Parquet table; in the SQLite file they are the same ids plus one (1..n). Files are zstd-compressed,
            one row group per file below 64 MiB.

            One deliberate difference: `day_offset` is the learner's exact review day, as their own Anki
            counted it (rollover hour, time zone, daylight saving), where the dataset builder divides
            timestamps by a fixed 86,400 seconds; elapsed_days is the difference of those days.

            Sentinels: -1 in `elapsed_days`/`elapsed_seconds` (no previous review), `parent_id` (top level),
            `preset_id` (none) and `filtered_deck_id` (none); empty (null) only in the columns marked so.
            Units: `duration` milliseconds, `elapsed_seconds` seconds, `*_days`/`ivl`/`day_offset` days
            (Anki's negative `ivl`/`last_ivl` are seconds).
            \(csvNote)

            ## Parquet tables

            \(ParquetRelease.dataCardSection())
            ## SQLite tables (`\(Self.databaseName)`)

            `revlogs` there is the unfiltered review log (the Parquet `reviews` plus a `state` computed over
            all rated reviews); `state` there is 0 for a card's first rated review, not its last learning start.


            """
        for (table, columns) in Self.documentedColumns() {
            text += "### `\(table)`\n\n| column | type | meaning |\n|---|---|---|\n"
            for column in columns {
                text += "| `\(column.name)` | \(column.type.lowercased()) | \(column.meaning.replacingOccurrences(of: "|", with: "\\|")) |\n"
            }
            text += "\n"
        }
        return text
    }
}

/// A buffered RFC 4180 CSV writer.
struct CSVFile {
    let url: URL
    let columns: [String]
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []

    init(url: URL, columns: [String]) {
        self.url = url
        self.columns = columns
    }

    mutating func open() throws {
        fd = Foundation.open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ResearchError(.writeFailure, "Cannot write \(url.path).") }
        buffer.reserveCapacity(1 << 20)
        for (i, name) in columns.enumerated() {
            if i > 0 { buffer.append(44) }
            buffer.append(contentsOf: name.utf8)
        }
        buffer.append(10)
    }

    mutating func write(_ row: Row, from first: Int) throws {
        for i in first..<row.count {
            if i > first { buffer.append(44) }
            let value: DatabaseValue = row[i]
            switch value.storage {
            case .int64(let n): buffer.append(contentsOf: String(n).utf8)
            case .double(let d): buffer.append(contentsOf: String(d).utf8)
            case .string(let s): appendText(s)
            case .blob, .null: break
            }
        }
        buffer.append(10)
        if buffer.count >= 1 << 20 { try flush() }
    }

    private mutating func appendText(_ text: String) {
        let bytes = Array(text.utf8)
        if bytes.contains(where: { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }) {
            buffer.append(34)
            for b in bytes {
                if b == 34 { buffer.append(34) }
                buffer.append(b)
            }
            buffer.append(34)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    private mutating func flush() throws {
        let ok = buffer.withUnsafeBytes { Durable.writeAll(fd, $0) }
        buffer.removeAll(keepingCapacity: true)
        guard ok else { throw ResearchError(.writeFailure, "Cannot write \(url.path) (disk full?).") }
    }

    mutating func close() throws {
        guard fd >= 0 else { return }
        try flush()
        guard fsync(fd) == 0 else { throw ResearchError(.writeFailure, "Cannot write \(url.path) (disk full?).") }
        Foundation.close(fd)
        fd = -1
    }
}
