import AnkiPipeline
import AnkiSubmission
import Foundation
import Testing

@Suite("Policy and schema files")
struct ConfigFileTests {
    @Test("Config/policy.json is the built-in policy")
    func policyFile() throws {
        let file = try Policy.load(Fixtures.root.appendingPathComponent("Config/policy.json"))
        #expect(file == Policy.standard)
    }

    @Test("Schemas/submission.sql is the built-in schema")
    func schemaFile() throws {
        let text = try String(contentsOf: Fixtures.root.appendingPathComponent("Schemas/submission.sql"), encoding: .utf8)
        #expect(text.trimmingCharacters(in: .newlines) == SubmissionSchema.sql.trimmingCharacters(in: .newlines))
    }

    @Test("unknown policy keys are an error, at any depth")
    func unknownKeys() throws {
        let text = try String(contentsOf: Fixtures.root.appendingPathComponent("Config/policy.json"), encoding: .utf8)
        for (from, to) in [("\"policy_version\": 1,", "\"policy_version\": 1, \"shift_everything\": false,"),
                           ("\"min_days\": 365,", "\"min_days\": 365, \"mni_days\": 1,"),
                           ("\"policy_version\": 1,", "\"policy_version\": 2,"),
                           ("\"min_days\": 365,", "\"min_days\": 30,")] {
            #expect(throws: PolicyError.self) { try Policy(json: Data(text.replacingOccurrences(of: from, with: to).utf8)) }
        }
    }
}
