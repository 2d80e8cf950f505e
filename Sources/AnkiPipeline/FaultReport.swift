import AnkiAudit
import Foundation

/// What `prepare` saves when its own audit fails (exit 42, a fault of the tool, never of the deck):
/// enough to find the fault, and nothing of the participant's: versions, the collection's format and
/// counts, the options, how many notes and tags the decisions touch, each stage's counts and the
/// audit's rule ids and messages (counts and table names only). No card text, id, name, time or token.
public enum FaultReport {
    public static let fileName = "anki-submit-fault-report.json"

    /// Writes the report into the output folder (a temporary name, then renamed); nil if it could not.
    @discardableResult
    static func write(_ context: PipelineContext, findings: [AuditFinding]) -> URL? {
        let decisions = context.decisions
        let object: [String: Any] = [
            "format": "anki-submit-fault-report", "version": 1,
            "tool_version": context.options.toolVersion,
            "policy_version": context.policy.version,
            "source": ["format": context.source.format.rawValue, "schema": context.source.config.schemaVersion,
                       "scheduler": context.source.config.schedulerVersion] as [String: Any],
            "options": ["time_zone": context.options.timeZone.identifier, "rollover_hour": context.rolloverHour,
                        "exclude_flagged": context.options.excludeFlagged] as [String: Any],
            "decisions": ["excluded_notes": decisions.excludedNotes.count, "removed_tags": decisions.removedTags.count,
                          "languages": decisions.languages.count, "domain_characters": decisions.domain.count,
                          "domain_confirmed": decisions.domainConfirmed,
                          "special_category_confirmed": decisions.specialCategoryConfirmed] as [String: Any],
            "stages": (try? JSONSerialization.jsonObject(with: Data(context.report.json.utf8))) ?? [],
            "findings": findings.map { ["rule": $0.rule, "message": $0.message] },
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]) else {
            return nil
        }
        let url = context.options.outputDirectory.appendingPathComponent(fileName)
        do {
            try data.write(to: url, options: .atomic)
            return url
        } catch {
            return nil
        }
    }

    /// The participant's message for a failed self-audit: not their fault, what to try, where the report is.
    static func message(findings: [AuditFinding], report: URL?) -> String {
        var text = "anki-submit found a fault in its own work and wrote nothing (its check of the finished "
            + "submission failed: " + Set(findings.map(\.rule)).sorted().joined(separator: ", ") + "). "
            + "This is not caused by anything you did. Please try again without your last choice "
            + "(the last note you excluded, tag you removed or answer you changed)."
        if let report {
            text += " A report without any card text, ids or token was saved as \(report.path): "
                + "please send it to the study so the fault can be fixed."
        }
        return text
    }
}
