import AnkiSubmission
import Foundation
import Testing

@Suite("Study profile")
struct StudyProfileTests {
    static let example = CLI.root.appendingPathComponent("Config/study.example.json")

    static func object() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: example)) as! [String: Any]
    }

    static func parse(_ object: [String: Any]) throws -> StudyProfile {
        try StudyProfile(json: JSONSerialization.data(withJSONObject: object))
    }

    static func refusal(_ change: (inout [String: Any]) -> Void) throws -> String {
        var object = try object()
        change(&object)
        do {
            _ = try parse(object)
            return "accepted"
        } catch let error as StudyProfile.Invalid {
            return error.description
        }
    }

    @Test("the example in Config/ loads, with its texts per language and a fallback")
    func example() throws {
        let profile = try StudyProfile.load(Self.example)
        #expect(profile.name == "Memory in the Wild 2026")
        #expect(profile.contact == "memory-study@example.org")
        #expect(profile.intakeURL?.absoluteString == "https://study.example.org/submissions")
        #expect(profile.languages == ["en", "de"])
        #expect(profile.policyVersion == Policy.standard.version)
        #expect(profile.texts(for: ["de-AT", "en"]).language == "de")
        #expect(profile.texts(for: ["fr"]).language == "en")
    }

    @Test("unknown keys, wrong versions, wrong types and missing texts are refused, naming the problem")
    func refusals() throws {
        #expect(try Self.refusal { $0["nmae"] = "x" }.contains("unknown key in the profile: \"nmae\""))
        #expect(try Self.refusal { o in
            var texts = o["texts"] as! [String: Any]
            var en = texts["en"] as! [String: Any]
            en["consnet"] = "x"
            texts["en"] = en
            o["texts"] = texts
        }.contains("\"consnet\""))
        #expect(try Self.refusal { $0["version"] = 2 }.contains("this tool reads version 1"))
        #expect(try Self.refusal { $0["version"] = true }.contains("\"version\" must be a number"))
        #expect(try Self.refusal { $0["format"] = "other" }.contains("format"))
        #expect(try Self.refusal { $0["name"] = "  " }.contains("\"name\" is empty"))
        #expect(try Self.refusal { $0["name"] = "a\u{1B}[2Jb" }.contains("control characters"))
        #expect(try Self.refusal { $0["intake_url"] = "ftp://example.org/" }.contains("intake_url"))
        #expect(try Self.refusal { $0["intake_url"] = "https://user:pw@example.org/" }.contains("intake_url"))
        #expect(try Self.refusal { $0["languages"] = ["en", "de", "fr"] }.contains("no entry for the offered language fr"))
        #expect(try Self.refusal { $0["languages"] = ["en"] }.contains("which \"languages\" does not offer"))
        #expect(try Self.refusal { $0["languages"] = ["EN", "de"] }.contains("ISO 639"))
        #expect(try Self.refusal { $0["languages"] = [String]() }.contains("languages"))
        #expect(try Self.refusal { $0.removeValue(forKey: "contact") }.contains("\"contact\" must be text"))
        #expect(try Self.refusal { _ in }.contains("accepted"))
        #expect(throws: StudyProfile.Invalid.self) { try StudyProfile(json: Data("[1]".utf8)) }
        #expect(throws: StudyProfile.Invalid.self) { try StudyProfile(json: Data("not json".utf8)) }
    }
}
