import AnkiScanner
import Foundation
import Testing

/// Issue 21: offsets after a byte-order mark, short record numbers after a label, names after field
/// labels and naming verbs, names inside places, street addresses.
private func findingsOf(_ text: String, minimumScore: Double? = nil) -> [String] {
    sharedScanner.scan(field: text, index: 0, minimumScore: minimumScore).map { "\($0.kind):\($0.text)" }
}

private func original(_ field: String, _ f: Finding) -> String {
    String(decoding: Array(field.utf8)[f.start..<f.end], as: UTF8.self)
}

@Suite struct LeadingFormatCharacterTests {
    /// A byte-order mark (or another format character) before the text shifts no offset, in a field
    /// and in every mode.
    @Test(arguments: ["\u{FEFF}", "\u{200B}", "\u{200E}", "\u{FEFF}<b>", "\u{FEFF}\u{FEFF}"])
    func offsetsPointAtTheFinding(prefix: String) {
        let field = prefix + "Mail: lena.hoffmann93@web.de"
        let f = sharedScanner.scan(field: field, index: 0)
        #expect(f.count == 1)
        if let first = f.first { #expect(original(field, first) == "lena.hoffmann93@web.de", "after \(prefix.unicodeScalars.map { $0.value })") }
        let survey = sharedScanner.scanText(field, field: Finding.surveyField)
        if let first = survey.first { #expect(original(field, first) == "lena.hoffmann93@web.de") }
    }
}

@Suite struct LabelledNumberTests {
    @Test(arguments: [
        ("NHC: 2846731.", "2846731"),
        ("Apellidos: Charro Rodrigo. NHC: 87913. NASS: 56", "87913"),
        ("MRN 123456 admitted", "123456"),
        ("Nº historia clínica: 845213", "845213"),
        ("Patient ID: 55821", "55821"),
        ("Kundennummer: 483920", "483920"),
        ("Matrikelnummer 3849201", "3849201"),
        ("ID#77120 confirmed", "77120"),
        ("Nr. 58213 im Register", "58213"),
        ("N° client : 604318", "604318"),
    ])
    func found(text: String, number: String) {
        let findings = sharedScanner.scan(field: text, index: 0)
        #expect(findings.contains { ["digits", "phone", "national_id"].contains($0.kind) && $0.text == number },
                "\(number) in \(text.debugDescription): \(findings.map { "\($0.kind):\($0.text)" })")
    }

    /// Ordinary numbers on flashcards: years, pages, amounts, populations.
    @Test(arguments: [
        "Im Jahr 1995 fiel die Mauer nicht", "page 12345 of the manual", "Madrid tiene 32456 habitantes",
        "the number 12345 is odd", "Seite 10234", "Es kostet 45000 Euro", "ID card: carry it always",
        "número de teléfono", "Año: 1998", "Population: 56789",
    ])
    func ordinaryNumbersAreNotRecords(text: String) {
        #expect(LabelAndAddressTestsSupport.kinds(text).allSatisfy { $0 != "digits" }, "false alarm in \(text.debugDescription): \(LabelAndAddressTestsSupport.kinds(text))")
    }
}

enum LabelAndAddressTestsSupport {
    static func kinds(_ text: String) -> [String] { sharedScanner.scan(field: text, index: 0).map(\.kind) }
    static func names(_ text: String) -> [String] {
        sharedScanner.scan(field: text, index: 0).filter { $0.kind == "name" }.map(\.text)
    }
}

@Suite struct LabelledNameTests {
    @Test(arguments: [
        ("Nombre: Takahito", "Takahito"),
        ("Apellidos: Charro Rodrigo.", "Charro Rodrigo"),
        ("Name: Isabel Rolc\nPhone: none", "Isabel Rolc"),
        ("Nom : Valtteri Brodie", "Valtteri Brodie"),
        ("Vorname: Brodie", "Brodie"),
        ("My name is Rubija", "Rubija"),
        ("me llamo Valtteri", "Valtteri"),
        ("Isabel Rolc vino ayer", "Isabel Rolc"),
    ])
    func found(text: String, name: String) {
        #expect(LabelAndAddressTestsSupport.names(text) == [name], "in \(text.debugDescription): \(LabelAndAddressTestsSupport.names(text))")
    }

    /// After a naming verb, an ordinary word is no name; a label without a colon names nothing.
    @Test(arguments: ["Wie heißt das? Es heißt Tisch.", "the so-called Renaissance", "Name the Capital", "Nombre y Apellidos"])
    func ordinaryWordsAfterLabels(text: String) {
        #expect(LabelAndAddressTestsSupport.names(text).isEmpty, "false alarm in \(text.debugDescription): \(LabelAndAddressTestsSupport.names(text))")
    }

    /// Names inside the names of streets, hospitals and firms are no person.
    @Test(arguments: ["Hospital Ramón y Cajal", "Trabaja en el Hospital Ramón y Cajal de Madrid", "Vive en la Calle Julio Vidal",
                      "I work for Johnson Ltd", "Paseo de la Castellana", "Universidad Carlos III"])
    func placesAreNotPeople(text: String) {
        #expect(LabelAndAddressTestsSupport.names(text).isEmpty, "false alarm in \(text.debugDescription): \(LabelAndAddressTestsSupport.names(text))")
    }
}

@Suite struct AddressTests {
    @Test(arguments: [
        ("I live at 42 Rue Victor Hugo, Lyon", "42 Rue Victor Hugo"),
        ("Vivo en la Calle Mayor 5, 28013 Madrid", "Calle Mayor 5, 28013 Madrid"),
        ("Ich wohne in der Hauptstraße 12", "Hauptstraße 12"),
        ("Our office: 123 Main St", "123 Main St"),
        ("Abito in Via Roma 15", "Via Roma 15"),
        ("Domicilio: Los Alisos, 10.", "Los Alisos, 10"),
        ("Hospital Dr. Peset Av. Gaspar Aguilar, 90. 46017 Valencia", "Av. Gaspar Aguilar, 90. 46017 Valencia"),
        ("C/ Alfredo Navarro 3102", "C/ Alfredo Navarro 3102"),
        ("Mieszkam przy ul. Długa 7", "ul. Długa 7"),
        ("Bor på Storgatan 5 i Umeå", "Storgatan 5"),
        ("Avda. Prof. Martín Lagos, s/n 28040 Madrid", "Avda. Prof. Martín Lagos, s/n 28040 Madrid"),
        ("CP: 39658", "39658"),
        ("4844 Søndergade 52, Apt. 656", "4844 Søndergade 52, Apt. 656"),
        ("Ship it to Suite 501 please", "Suite 501"),
    ])
    func found(text: String, address: String) {
        let f = sharedScanner.scan(field: text, index: 0)
        #expect(f.contains { $0.kind == "address" && $0.text == address }, "in \(text.debugDescription): \(f.map { "\($0.kind):\($0.text)" })")
        for finding in f where finding.kind == "address" { #expect(original(text, finding) == finding.text) }
    }

    /// Street words without a house number, numbers without a street: vocabulary, not addresses.
    @Test(arguments: [
        "la calle", "Calle Mayor", "the street", "Main Street is busy", "42 apples", "Die Straße ist 12 Meter breit",
        "Rue de la Paix", "Take the 5 Road exit", "Road 66", "Er wohnt in Berlin", "chapter 3 Street Art",
        "During 1971, Mayo-Walters invested", "un volumen de 101,7 c.c. En los análisis", "Unit 5 vocabulary",
    ])
    func vocabularyIsNoAddress(text: String) {
        #expect(!LabelAndAddressTestsSupport.kinds(text).contains("address"), "false alarm in \(text.debugDescription): \(findingsOf(text))")
    }

    @Test func addressHasAPlainLabel() {
        #expect(FindingLabels.label("address") == "street address")
    }
}

@Suite struct ScanJSONTests {
    /// The writer's output reads back as the objects Foundation wrote, keys in the same order.
    @Test func findingsRoundTrip() throws {
        let findings = sharedScanner.scan(field: "Mail \"an\" <b>lena@web.de</b>\nTel. +49 30 12345678 / Lena Hoffmann\t\u{1}", index: 3)
        #expect(findings.count >= 2)
        var out = JSONWriter()
        Finding.writeJSON(findings, to: &out)
        let mine = try JSONSerialization.jsonObject(with: Data(out.bytes)) as! [[String: Any]]
        let theirs = try JSONSerialization.data(withJSONObject: findings.map(\.jsonObject), options: [.sortedKeys, .withoutEscapingSlashes])
        #expect(out.text == String(decoding: theirs, as: UTF8.self))
        #expect(mine.count == findings.count)
    }

    @Test func stringsAreEscaped() {
        var out = JSONWriter()
        out.string("a\"b\\c\n\t\u{1}/é€😀")
        #expect(out.text == "\"a\\\"b\\\\c\\n\\t\\u0001/é€😀\"")
        #expect(JSONStringLine.decode(Array(out.bytes)) == "a\"b\\c\n\t\u{1}/é€😀")
    }

    @Test func linesAreReadStrictly() {
        #expect(JSONStringLine.decode(Array("\"\\ufeffLena\"".utf8)) == "\u{FEFF}Lena")
        #expect(JSONStringLine.decode(Array("  \"\\ud83d\\ude00 \\/\"  ".utf8)) == "😀 /")
        for bad in ["Lena", "\"Lena", "\"a\" x", "\"\\x\"", "\"\\ud83d\"", "\"\\ude00\"", "\"a\u{1}\"", "[\"a\"]", ""] {
            #expect(JSONStringLine.decode(Array(bad.utf8)) == nil, "\(bad.debugDescription)")
        }
        #expect(JSONStringLine.decode([0x22, 0xFF, 0x22]) == nil)  // invalid UTF-8
    }
}

@Suite struct SpecialPhraseTests {
    private func special(_ text: String) -> [String] {
        sharedScanner.scan(field: text, index: 0).filter { $0.category == .special }.map(\.kind)
    }

    /// Rites, practice, membership and treatment said in words the single-term lists did not have.
    @Test(arguments: [
        ("He celebrated his bar mitzvah in May", "religion"), ("Sono praticante da sempre", "religion"),
        ("Mi hija hizo la primera comunión", "religion"), ("Soy miembro del partido desde 2010", "politics"),
        ("Jestem członkiem partii od wielu lat", "politics"), ("I'm on medication for it", "health"),
        ("Wir gehen jeden Sonntag in die Kirche", "religion"), ("Elle est en rémission", "health"),
    ])
    func found(text: String, kind: String) {
        #expect(special(text).contains(kind), "\(kind) in \(text.debugDescription): \(special(text))")
    }

    /// Vocabulary that looks like those phrases.
    @Test(arguments: ["practising the piano every day", "Ich habe einen Eid geschworen", "I lent him my bike",
                      "Wir gehen ins Kino", "la fiesta de cumpleaños", "la festa di compleanno"])
    func vocabularyStaysClean(text: String) {
        #expect(special(text).isEmpty, "false alarm in \(text.debugDescription): \(special(text))")
    }
}
