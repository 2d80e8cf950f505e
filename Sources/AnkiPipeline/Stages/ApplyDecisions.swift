import AnkiSubmission
import Foundation
import GRDB

/// Applies what the participant decided: excluded notes go (with their cards, reviews and state, via
/// the id maps), removed tags disappear from every note (`anki_submit_tags`).
struct ApplyDecisions: PipelineStage {
    static let name = "apply-decisions"
    static let summary = "excluded notes leave with their cards and reviews; removed tags leave every note"

    func run(_ context: PipelineContext) throws {
        let removed = Set(context.decisions.removedTags.map { $0.lowercased() })
        try context.requireOutput().writeWithoutTransaction { db in
            try db.execute(sql: "CREATE TEMP TABLE excluded_notes (id INTEGER PRIMARY KEY)")
            let insert = try db.makeStatement(sql: "INSERT INTO temp.excluded_notes (id) VALUES (?)")
            for id in context.decisions.excludedNotes { try insert.execute(arguments: [id]) }
            try TextFunction.register(db, name: "anki_submit_tags", argumentCount: 1) { bytes, _ in
                if removed.isEmpty, let result = Self.singleSpaced(bytes) { return result }
                return .bytes(Array(Self.filterTags(String(decoding: bytes, as: UTF8.self), removing: removed).utf8))
            }
        }
        context.report.count("notes excluded", context.decisions.excludedNotes.count)
        context.report.count("tags removed", removed.count)
    }

    /// `filterTags` with nothing removed, on bytes: the tags separated by single spaces. Nil when a
    /// space touches a non-ASCII byte (it could belong to a grapheme cluster; the string path decides).
    static func singleSpaced(_ bytes: UnsafeBufferPointer<UInt8>) -> TextFunction.Result? {
        let space = UInt8(ascii: " ")
        var clean = true
        for i in 0..<bytes.count where bytes[i] == space {
            if (i > 0 && bytes[i - 1] >= 0x80) || (i + 1 < bytes.count && bytes[i + 1] >= 0x80) { return nil }
            if i == 0 || i == bytes.count - 1 || bytes[i + 1] == space { clean = false }
        }
        if clean { return .unchanged }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for word in bytes.split(separator: space) {
            if !out.isEmpty { out.append(space) }
            out.append(contentsOf: word)
        }
        return .bytes(out)
    }

    /// Space-separated tags without the removed ones (Anki compares tags case-insensitively).
    static func filterTags(_ tags: String, removing removed: Set<String>) -> String {
        tags.split(separator: " ").filter { !removed.contains($0.lowercased()) }.joined(separator: " ")
    }
}
