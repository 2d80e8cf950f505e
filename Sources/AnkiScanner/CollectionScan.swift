import AnkiReader
import Foundation

/// The findings of one note, under its original id.
public struct NoteFindings: Sendable, Equatable {
    public var noteID: Int64
    public var findings: [Finding]

    public init(noteID: Int64, findings: [Finding]) {
        self.noteID = noteID
        self.findings = findings
    }

    public var jsonObject: [String: Any] { ["note_id": noteID, "findings": findings.map(\.jsonObject)] }
}

/// Findings in the name of a media file that no note refers to (field `Finding.mediaNameField`,
/// offsets into the name).
public struct MediaNameFindings: Sendable, Equatable {
    public var name: String
    public var findings: [Finding]
}

/// Totals of a scan, for the report and the special-category notice.
public struct ScanSummary: Sendable, Equatable {
    public var notesScanned = 0
    public var notesWithFindings = 0
    public var findings = 0
    /// Findings per kind ("email", "name", "health", ...).
    public var byKind: [String: Int] = [:]
    public var piiFindings = 0
    public var specialFindings = 0
    /// Notes with at least one special-category finding: what the notice threshold is compared with.
    public var notesWithSpecialFindings = 0
    public var specialCategoryThreshold = 0
    public var minimumScore = 0.0
    public var unreferencedMedia: [MediaNameFindings] = []

    /// True when the participant must see the extra special-category notice and confirm.
    public var needsSpecialCategoryNotice: Bool { notesWithSpecialFindings > specialCategoryThreshold }

    public init() {}

    mutating func add(_ findings: [Finding]) {
        guard !findings.isEmpty else { return }
        notesWithFindings += 1
        self.findings += findings.count
        var special = false
        for finding in findings {
            byKind[finding.kind, default: 0] += 1
            if finding.category == .special { specialFindings += 1; special = true } else { piiFindings += 1 }
        }
        if special { notesWithSpecialFindings += 1 }
    }

    public var jsonObject: [String: Any] {
        [
            "notes_scanned": notesScanned,
            "notes_with_findings": notesWithFindings,
            "findings": findings,
            "by_kind": byKind,
            "by_category": ["pii": piiFindings, "special": specialFindings],
            "special_category_notes": notesWithSpecialFindings,
            "special_category_threshold": specialCategoryThreshold,
            "special_category_notice": needsSpecialCategoryNotice,
            "min_score": minimumScore,
            "media": unreferencedMedia.map { ["name": $0.name, "findings": $0.findings.map(\.jsonObject)] as [String: Any] },
        ]
    }
}

/// The result of scanning a whole collection: notes with findings (ascending original id) and totals.
public struct ScanReport: Sendable, Equatable {
    public var notes: [NoteFindings]
    public var summary: ScanSummary

    /// `{"notes": [{"note_id", "findings": [...]}], "summary": {...}}`, notes with findings only.
    public var jsonObject: [String: Any] { ["notes": notes.map(\.jsonObject), "summary": summary.jsonObject] }

    /// Compact, keys in byte order (`JSONWriter`); `pretty` indents it (Foundation's writer, slow).
    public func json(pretty: Bool = false) -> String {
        guard pretty else {
            var out = JSONWriter(capacity: 256 + notes.count * 200)
            writeJSON(to: &out)
            return out.text
        }
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        let data = (try? JSONSerialization.data(withJSONObject: jsonObject, options: options)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The findings of one note, by original id.
    public func findings(forNote id: Int64) -> [Finding] { notes.first { $0.noteID == id }?.findings ?? [] }
}

extension Scanner {
    /// Scans every note of `collection` (fields, tags and the names of the media files each note
    /// refers to) and the names of media no note refers to. `minimumScore` overrides the scanner's.
    /// `mediaNames: false` leaves file names out: `prepare` replaces every one of them, so they never
    /// leave the computer and are nothing the participant has to act on (and a deck's tens of thousands
    /// of names would be scanned for nothing). `progress` is called with the number of notes scanned so
    /// far, every 1,000 notes.
    public func scan(collection: AnkiCollection, minimumScore: Double? = nil, mediaNames: Bool = true,
                     progress: ((Int) -> Void)? = nil) throws -> ScanReport {
        let threshold = minimumScore ?? self.minimumScore
        var summary = ScanSummary()
        summary.specialCategoryThreshold = specialCategoryThreshold
        summary.minimumScore = threshold
        var notes: [NoteFindings] = []
        var mediaCache: [String: [Finding]] = [:]
        var referenced = Set<String>()
        try collection.forEachNote { note in
            summary.notesScanned += 1
            if let progress, summary.notesScanned % 1000 == 0 { progress(summary.notesScanned) }
            // Fields and tags as scan(note:) does, collecting media references on the way.
            var findings: [Finding] = []
            var names: [String] = []
            for (index, field) in note.fields.enumerated() where !field.isEmpty {
                let result = scanFieldAndMedia(field, index: index, minimumScore: threshold)
                if !result.findings.isEmpty { findings += result.findings }
                if !result.media.isEmpty { names += result.media }
            }
            if !note.tags.isEmpty {
                let tagFindings = scanText(note.tags, field: Finding.tagsField, minimumScore: threshold)
                if !tagFindings.isEmpty { findings += tagFindings }
            }
            var namesInNote = Set<String>()
            if mediaNames {
                for name in names where namesInNote.insert(name).inserted {
                    referenced.insert(name)
                    if mediaCache[name] == nil {
                        mediaCache[name] = scanText(name, field: Finding.mediaNameField, minimumScore: threshold)
                    }
                    findings += mediaCache[name] ?? []
                }
            }
            if !findings.isEmpty {
                summary.add(findings)
                notes.append(NoteFindings(noteID: note.id, findings: findings))
            }
        }
        for file in collection.media where mediaNames && !referenced.contains(file.name) {
            let findings = scanText(file.name, field: Finding.mediaNameField, minimumScore: threshold)
            if !findings.isEmpty { summary.unreferencedMedia.append(MediaNameFindings(name: file.name, findings: findings)) }
        }
        return ScanReport(notes: notes, summary: summary)
    }
}
