import AnkiScanner
import Foundation
import Testing

/// What the learner sees is scanned, and every finding points back into the field's original HTML.
@Suite struct FieldTextTests {
    /// The original bytes a finding covers.
    private func original(_ field: String, _ f: Finding) -> String {
        String(decoding: Array(field.utf8)[f.start..<f.end], as: UTF8.self)
    }

    @Test func tagsAreRemovedAndOffsetsPointIntoTheHTML() {
        let field = "el perro<br>der Hund<br>Schick mir die Liste an <b>lena.hoffmann93@web.de</b>"
        let f = sharedScanner.scan(field: field, index: 1)
        #expect(f.count == 1)
        #expect(f[0].text == "lena.hoffmann93@web.de" && f[0].field == 1)
        #expect(original(field, f[0]) == "lena.hoffmann93@web.de")
    }

    @Test func markupInsideAFindingIsCoveredByItsRange() {
        let field = "<div>Tel.&nbsp;<b>+49</b> 30&nbsp;12345678</div>"
        let f = sharedScanner.scan(field: field, index: 0)
        #expect(f.map(\.kind) == ["phone"])
        #expect(f.first?.text == "+49 30 12345678")
        #expect(f.first.map { original(field, $0) } == "+49</b> 30&nbsp;12345678")
    }

    @Test func entitiesAreDecoded() {
        let field = "Mail: anna&#46;schmidt&#x40;gmx&period;de or lena&#64;web.de"
        let f = sharedScanner.scan(field: field, index: 0)
        #expect(f.map(\.text) == ["lena@web.de"])
        #expect(f.first.map { original(field, $0) } == "lena&#64;web.de")
        // &amp; and friends
        #expect(sharedScanner.scan(field: "Salz &amp; Pfeffer", index: 0).isEmpty)
    }

    @Test func clozeIsUnwrapped() {
        let field = "{{c1::Lena}} {{c2::Hoffmann::Nachname}} ruft {{c3::+49 151 23456789}} an"
        let f = sharedScanner.scan(field: field, index: 0)
        #expect(f.map { "\($0.kind):\($0.text)" } == ["name:Lena Hoffmann", "phone:+49 151 23456789"])
        #expect(original(field, f[0]) == "Lena}} {{c2::Hoffmann")
        #expect(original(field, f[1]) == "+49 151 23456789")
    }

    @Test func hintsAreScannedToo() {
        let f = sharedScanner.scan(field: "{{c1::Hund::frag anna.schmidt87@gmx.de}}", index: 0)
        #expect(f.map(\.text) == ["anna.schmidt87@gmx.de"])
    }

    @Test func wordsSplitByBlockTagsDoNotJoin() {
        // "Hund<br>Lena" must not become one word, nor "Rose</div><div>Müller" a name chain
        #expect(sharedScanner.scan(field: "<div>die Rose</div><div>Müller</div>", index: 0).isEmpty)
    }

    @Test func mediaReferencesAndScriptsAreNotVisibleText() {
        let field = "<img src=\"anna_schmidt_passport.jpg\">[sound:lena_geburtstag.mp3]<style>.x{}</style>der Hund"
        #expect(sharedScanner.scan(field: field, index: 0).isEmpty)
        #expect(sharedScanner.mediaReferences(in: field) == ["anna_schmidt_passport.jpg", "lena_geburtstag.mp3"])
    }

    @Test func furiganaDoesNotBreakWords() {
        let f = sharedScanner.scan(field: "<ruby>佐藤<rt>さとう</rt></ruby>さんと話す", index: 0)
        #expect(f.isEmpty || f.allSatisfy { $0.kind == "name" })
    }

    @Test func surveyTextIsPlain() {
        let f = sharedScanner.scanText("Medizin, ich habe Diabetes; schreib an lena@web.de", field: Finding.surveyField)
        #expect(f.map { "\($0.field):\($0.kind)" } == ["-3:health", "-3:email"])
    }

    @Test func jsonShape() {
        let f = sharedScanner.scan(field: "lena@web.de", index: 2)[0]
        let keys = Set(f.jsonObject.keys)
        #expect(keys == ["kind", "category", "text", "field", "start", "end", "score", "detector"])
        #expect(f.jsonObject["category"] as? String == "pii")
    }
}
