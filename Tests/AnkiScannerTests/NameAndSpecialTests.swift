import AnkiReader
import AnkiScanner
import Foundation
import Testing

private func names(_ text: String, minimumScore: Double? = nil) -> [String] {
    sharedScanner.scan(field: text, index: 0, minimumScore: minimumScore).filter { $0.kind == "name" }.map(\.text)
}

private func special(_ text: String) -> [String] {
    sharedScanner.scan(field: text, index: 0).filter { $0.category == .special }.map { "\($0.kind):\($0.text)" }
}

@Suite struct NameTests {
    @Test(arguments: [
        ("Lena Hoffmann hat am Samstag Geburtstag", "Lena Hoffmann"),
        ("pregúntale a Pablo Ruiz García", "Pablo Ruiz García"),
        ("Anna Schmidt's wedding is on Saturday", "Anna Schmidt"),
        ("Frag Jürgen Müller nach dem Buch", "Jürgen Müller"),
        ("regalo para María Fernández", "María Fernández"),
        ("Herr Schmidt kommt morgen", "Schmidt"),
        ("Victoria de Juan Herráez firmó", "Victoria de Juan Herráez"),
        ("Иван Петров живёт в Москве", "Иван Петров"),
        ("I'm writing to Jens Kreutzmann today", "Jens Kreutzmann"),
        ("Gestern hat Katarzyna angerufen", "Katarzyna"),
        ("ANNA SCHMIDT wohnt im Zimmer 4", "ANNA SCHMIDT"),
    ])
    func finds(text: String, name: String) {
        #expect(names(text) == [name], "in \(text.debugDescription)")
    }

    /// Language names are never names of people, though some are surnames somewhere ("German", "French").
    @Test(arguments: [
        "learning German", "studying French", "A2 German exam", "Japanese for travel", "medicine and Spanish literature",
        "Deutsch lernen für die Arbeit", "aprendo alemán e inglés", "cours d'Anglais", "Tedesco per il lavoro",
    ])
    func languageNamesAreNotNames(text: String) {
        #expect(names(text, minimumScore: 0).isEmpty, "in \(text.debugDescription): \(names(text, minimumScore: 0))")
    }

    @Test func namesNextToLanguageNamesAreStillNames() {
        #expect(names("Anna Schmidt teaches German") == ["Anna Schmidt"])
    }

    /// Vocabulary cards: these names are ordinary words there.
    @Test(arguments: [
        "Die Rose blüht im Mai", "der Wolf heult", "Will you marry me? – Willst du mich heiraten?", "la luz del sol",
        "Luz", "Mark my words", "Das kostet 10 Mark", "die Rose", "Rose", "the Green Party", "Das Buch liegt auf dem Tisch.",
        "Der Fischer fährt aufs Meer", "Grace under pressure", "Hope dies last", "May I come in?", "Paz y amor",
        "Síndrome Coronario Agudo", "Paris ist die Hauptstadt", "la Rosa de los vientos", "Frank und frei",
    ])
    func vocabularyWordsAreNotNames(text: String) {
        #expect(names(text).isEmpty, "false alarm in \(text.debugDescription): \(names(text, minimumScore: 0))")
    }

    @Test func commonWordNamesNeedEvidence() {
        // a name that is also a word counts next to another name or after a title
        #expect(names("Rose Müller kommt") == ["Rose Müller"])
        #expect(names("Frau Wolf kommt") == ["Wolf"])
        // mid-sentence capitalization of a word that is lowercase otherwise is evidence
        #expect(names("Yesterday I met Rose at the station") == ["Rose"])
        // at the start of a sentence it is not
        #expect(names("Rose is a flower.").isEmpty)
    }

    @Test func cjkAndKoreanNames() {
        #expect(names("佐藤健さんと話す") == ["佐藤健"])
        #expect(names("田中さんに聞く") == ["田中"])
        #expect(names("山田先生は優しい") == ["山田"])
        #expect(names("三時に会いましょう").isEmpty)
        #expect(names("김민준씨에게 물어봐") == ["김민준"])
        #expect(names("王先生是老师") == ["王"])
    }

    @Test func tagsAndMediaNames() {
        let tags = sharedScanner.scanText(" anna_private grammar::cases for_friday_test ", field: Finding.tagsField)
        #expect(tags.map { "\($0.kind):\($0.text)" } == ["name:anna"])
        #expect(tags.first?.field == Finding.tagsField && tags.first?.start == 1 && tags.first?.end == 5)
        let media = sharedScanner.scanText("lena_geburtstag_2026.webm", field: Finding.mediaNameField)
        #expect(media.map { "\($0.kind):\($0.text)" } == ["name:lena"])
        #expect(sharedScanner.scanText("flag_de.png", field: Finding.mediaNameField).isEmpty)
        #expect(sharedScanner.scanText("hund.mp3", field: Finding.mediaNameField).isEmpty)
    }

    @Test func noteScanCoversFieldsAndTags() throws {
        let collection = try AnkiCollection.open(Paths.generated.appendingPathComponent("berlin-latest.apkg"))
        defer { collection.close() }
        var note: Note?
        try collection.forEachNote { if $0.fields.contains(where: { $0.contains("+49 151") }) { note = $0 } }
        let findings = sharedScanner.scan(note: try #require(note))
        #expect(findings.map { "\($0.field):\($0.kind):\($0.text)" } == ["4:phone:+49 151 23456789", "-1:name:anna"])
    }
}

@Suite struct SpecialCategoryTests {
    @Test(arguments: [
        ("Ich nehme seit März Antidepressiva", "health:Antidepressiva"),
        ("私は喘息があります", "health:喘息"),
        ("Wir beten jeden Freitag in der Moschee", "religion:beten"),
        ("voy a misa todos los domingos", "religion:misa"),
        ("Ich bin Mitglied der SPD und gehe zur Demo", "politics:SPD"),
        ("I voted for the Green Party", "politics:Green Party"),
        ("Ich habe die Grünen gewählt", "politics:Grünen"),
        ("HIV-Test Ergebnis negativ", "health:HIV"),
        ("my therapist says the depression is improving", "health:therapist"),
        // (issue 21: membership phrases: the finding covers "miembro del" too)
        ("miembro del Partido Socialista Obrero Español", "politics:miembro del Partido Socialista"),
        ("Wir gehen jeden Sonntag in die katholische Kirche", "religion:katholische"),
        ("fasting during Ramadan", "religion:Ramadan"),
    ])
    func finds(text: String, expected: String) {
        #expect(special(text).contains(expected), "\(expected) in \(text.debugDescription): \(special(text))")
    }

    @Test func inflectionByStemsAndVariants() {
        #expect(special("Mein Vater ist Diabetiker").contains("health:Diabetiker"))
        #expect(special("somos diabéticos los dos").contains("health:diabéticos"))
        #expect(special("Meine Oma hatte Lungenkrebs").contains("health:Lungenkrebs"))
        #expect(special("Ich betete lange").contains("religion:betete"))
        #expect(special("Ich bin Christin und gehe in die Kirche").contains("religion:Christin"))
        #expect(special("Jestem chory na cukrzycę").contains("health:cukrzycę"))
    }

    @Test func caseSensitiveAndAmbiguousTerms() {
        #expect(special("die grünen Äpfel schmecken").isEmpty)
        #expect(special("teaching aids for the classroom").isEmpty)
        #expect(special("Rote Bete schmeckt gut").isEmpty)
        #expect(special("a rabbit in the garden").isEmpty)
        #expect(special("la nazione italiana").isEmpty)
        #expect(special("socialising with friends").isEmpty)
    }

    @Test func aBareVocabularyCardScoresLow() {
        // "die Kirche" alone on a card says nothing about the learner
        #expect(special("die Kirche").isEmpty)
        let low = sharedScanner.scan(field: "die Kirche", index: 0, minimumScore: 0)
        #expect(low.contains { $0.kind == "religion" && $0.score < 0.5 })
    }

    @Test func thresholdComesFromConfig() {
        #expect(sharedScanner.specialCategoryThreshold == 3)
    }
}
