import Foundation
import GRDB

/// `research stats`: what the working dataset holds. Reads without taking the lock, so it works
/// while an ingest runs (it then shows the last committed state).
public struct DatasetStats: Sendable, Equatable {
    public var participants = 0
    public var consenting = 0
    public var notConsenting = 0
    public var notes = 0
    public var cards = 0
    public var reviews = 0
    /// ISO code -> participants who speak it at C1 or above.
    public var languages: [String: Int] = [:]
    public var withdrawn = 0
    /// Tokens withdrawn before any matching submission arrived.
    public var blockedTokens = 0
    public var releases: [String] = []
    public var lastIngest: String?

    public static func read(dataset url: URL) throws -> DatasetStats {
        let dataset = try Dataset.open(url, mode: .read, command: "research stats")
        defer { dataset.close() }
        return try dataset.queue.read { db in
            var s = DatasetStats()
            s.participants = try Int.fetchOne(db, sql: "SELECT count(*) FROM participants") ?? 0
            s.consenting = try Int.fetchOne(db, sql: "SELECT count(*) FROM participants WHERE consent_public = 1") ?? 0
            s.notConsenting = s.participants - s.consenting
            s.notes = try Int.fetchOne(db, sql: "SELECT count(*) FROM notes") ?? 0
            s.cards = try Int.fetchOne(db, sql: "SELECT count(*) FROM cards") ?? 0
            s.reviews = try Int.fetchOne(db, sql: "SELECT count(*) FROM revlogs") ?? 0
            for text in try String.fetchAll(db, sql: "SELECT languages FROM participants") {
                for code in (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String] ?? [] {
                    s.languages[code, default: 0] += 1
                }
            }
            s.withdrawn = try Int.fetchOne(db, sql: "SELECT count(*) FROM withdrawals WHERE outcome = 'removed'") ?? 0
            s.blockedTokens = try Int.fetchOne(db, sql: "SELECT count(*) FROM tombstones WHERE content_hmac IS NULL") ?? 0
            s.releases = try String.fetchAll(db, sql: "SELECT released_at || ' (' || participants || ' participants)' FROM releases ORDER BY release")
            s.lastIngest = try String.fetchOne(db, sql: "SELECT max(ingested_at) FROM participants")
            return s
        }
    }

    public var text: String {
        let languageList = languages.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return """
            participants       \(participants.formatted().leftPadded(12))
              consent: yes     \(consenting.formatted().leftPadded(12))
              consent: no      \(notConsenting.formatted().leftPadded(12))
            notes              \(notes.formatted().leftPadded(12))
            cards              \(cards.formatted().leftPadded(12))
            reviews            \(reviews.formatted().leftPadded(12))
            languages          \(languageList.isEmpty ? "none" : languageList)
            withdrawn          \(withdrawn.formatted().leftPadded(12))
            blocked tokens     \(blockedTokens.formatted().leftPadded(12))  (withdrawn before their submission arrived)
            releases           \(releases.isEmpty ? "none" : releases.joined(separator: ", "))
            """
    }

    public var json: String {
        let object: [String: Any] = [
            "participants": participants, "consent_yes": consenting, "consent_no": notConsenting, "notes": notes,
            "cards": cards, "reviews": reviews, "languages": languages, "withdrawn": withdrawn,
            "blocked_tokens": blockedTokens, "releases": releases,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
