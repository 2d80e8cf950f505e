import AnkiScanner
import Foundation
import Testing

/// One behaviour per case: the text, and the findings expected as "kind:text" (at the default
/// minimum score). Offsets are checked against the original text for every finding.
private func expectFindings(_ text: String, _ expected: [String], minimumScore: Double? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation) {
    let findings = sharedScanner.scan(field: text, index: 0, minimumScore: minimumScore)
    #expect(findings.map { "\($0.kind):\($0.text)" } == expected, "in \(text.debugDescription)", sourceLocation: sourceLocation)
    let bytes = Array(text.utf8)
    for f in findings {
        #expect(f.start >= 0 && f.start < f.end && f.end <= bytes.count, sourceLocation: sourceLocation)
    }
}

private func expectKind(_ text: String, _ kind: String, _ matched: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let findings = sharedScanner.scan(field: text, index: 0)
    #expect(findings.contains { $0.kind == kind && $0.text == matched },
            "\(kind) \(matched.debugDescription) in \(text.debugDescription); got \(findings.map { "\($0.kind):\($0.text)" })",
            sourceLocation: sourceLocation)
}

private func expectClean(_ text: String, minimumScore: Double? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    let findings = sharedScanner.scan(field: text, index: 0, minimumScore: minimumScore)
    #expect(findings.isEmpty, "false alarm in \(text.debugDescription): \(findings.map { "\($0.kind):\($0.text):\($0.score)" })",
            sourceLocation: sourceLocation)
}

@Suite struct EmailTests {
    @Test(arguments: [
        ("Schick mir die Liste an lena.hoffmann93@web.de", "lena.hoffmann93@web.de"),
        ("Contacto: pablo.ruiz+vocab@correo.es", "pablo.ruiz+vocab@correo.es"),
        ("mail: j.doe@mail.cs.uni-leipzig.de.", "j.doe@mail.cs.uni-leipzig.de"),
        ("IDN: anna@müller-bäckerei.de ok", "anna@müller-bäckerei.de"),
        ("Kontakt &lt;ANNA.SCHMIDT@GMX.DE&gt;", "ANNA.SCHMIDT@GMX.DE"),
        ("mailto:kim@example.co.kr", "kim@example.co.kr"),
    ])
    func finds(text: String, email: String) { expectKind(text, "email", email) }

    @Test func rejects() {
        expectClean("user@localhost and @mentions and a@b")
        expectClean("Preis: 3 @ 5 €")
    }
}

@Suite struct PhoneTests {
    @Test(arguments: [
        "+49 30 12345678", "+1-415-555-0132", "0049 30 12345678", "+44 20 7946 0958", "+34 699 123 456",
        "+33 1 23 45 67 89", "+81 90-1234-5678", "+86 138 0013 8000", "+82 10-1234-5678", "+91 98765 43210",
        "+52 55 1234 5678", "+61 2 9876 5432", "+7 912 345-67-89", "+90 532 123 45 67", "+48 601 234 567",
        "+46 8 123 456 78", "+31 6 12345678", "+32 470 12 34 56", "+41 44 668 18 00", "+43 1 5123456",
        "+351 912 345 678", "+55 11 91234-5678", "+39 06 1234 5678", "+1 (416) 555-0199", "+46 (0)8 928 571 38",
    ])
    func international(number: String) { expectKind("Nummer: \(number) (abends)", "phone", number) }

    @Test(arguments: [
        ("Festnetz 030 98765432 (abends)", "030 98765432"),        // DE
        ("Tel. 0171/2345678", "0171/2345678"),                   // DE mobile with slash
        ("call me at (212) 555-0187 tonight", "(212) 555-0187"), // US
        ("Mi número es 612 34 56 78", "612 34 56 78"),          // ES
        ("携帯 090-1234-5678", "090-1234-5678"),                  // JP
        ("ring 020 7946 0958 about the flat", "020 7946 0958"),  // GB
        ("appelle au 06 12 34 56 78", "06 12 34 56 78"),         // FR
        ("Tel. (11) 91234-5678", "(11) 91234-5678"),             // BR
        ("전화 010-1234-5678", "010-1234-5678"),                   // KR
        ("手机 138 0013 8000", "138 0013 8000"),                   // CN
        ("тел. 8 (912) 345-67-89", "8 (912) 345-67-89"),          // RU
        ("telefon 0532 123 45 67", "0532 123 45 67"),            // TR
        ("zadzwoń 601 234 567", "601 234 567"),                  // PL
        ("ring 08-123 456 78", "08-123 456 78"),                 // SE
        ("bel 06-12345678", "06-12345678"),                      // NL
        ("gsm 0470 12 34 56", "0470 12 34 56"),                  // BE
        ("Tel. 044 668 18 00", "044 668 18 00"),                 // CH
        ("Tel. 0664 1234567", "0664 1234567"),                   // AT
        ("call (02) 9876 5432", "(02) 9876 5432"),               // AU
        ("cel. 55 1234 5678", "55 1234 5678"),                   // MX
        ("chiama 06 1234 5678", "06 1234 5678"),                 // IT
        ("telemóvel 912 345 678", "912 345 678"),                // PT
        ("call 98765 43210", "98765 43210"),                     // IN
        ("Handy: 0151.2345.6789", "0151.2345.6789"),             // dots
    ])
    func national(text: String, number: String) { expectKind(text, "phone", number) }

    @Test func bareDigitsNeedAWordLikeTel() {
        expectKind("Tel. 03098765432", "phone", "03098765432")
        // the same digits without a cue are a long digit sequence, not a phone number
        expectFindings("Nummer 03098765432", ["digits:03098765432"])
    }

    @Test(arguments: [
        "Seite 123, Übung 4b", "Das kostet 19,99 €", "el billete cuesta 2,40 €", "a coffee is $4.50",
        "Zimmer 12, 3. Stock", "im Jahr 1989 fiel die Mauer", "der Zug fährt um 10:45 Uhr von Gleis 7",
        "Die Summe von 17 und 25 ist 42", "π ≈ 3.14159", "1 234 567 Einwohner", "zwischen 1500-2000 ml am Tag",
        "Kapitel 3.2.1, Seite 45-67", "Es ist 12:30:45 Uhr", "H2SO4 ist eine Säure", "RD 1299/2006",
    ])
    func nearMisses(text: String) { expectClean(text) }
}

@Suite struct DigitTests {
    @Test func iban() {
        expectFindings("IBAN ES91 2100 0418 4502 0005 1332 für die Miete", ["iban:ES91 2100 0418 4502 0005 1332"])
        expectFindings("IBAN DE89 3704 0044 0532 0130 00", ["iban:DE89 3704 0044 0532 0130 00"])
        expectKind("GB82WEST12345698765432", "iban", "GB82WEST12345698765432")
        expectKind("iban gb82west12345698765432", "iban", "gb82west12345698765432")
        // a wrong check sum is still a long number, but no IBAN
        #expect(!sharedScanner.scan(field: "DE89 3704 0044 0532 0130 01", index: 0).contains { $0.kind == "iban" })
    }

    @Test func cards() {
        expectFindings("Karte 4012 8888 8888 1881, gültig bis 09/28", ["card_number:4012 8888 8888 1881"])
        expectKind("Kartennummer 4111 1111 1111 1111", "card_number", "4111 1111 1111 1111")
        expectKind("card 5555555555554444", "card_number", "5555555555554444")
        expectKind("Amex 378282246310005", "card_number", "378282246310005")
        // Luhn fails: reported as a long digit sequence
        expectFindings("card 4111 1111 1111 1112", ["digits:4111 1111 1111 1112"])
    }

    @Test(arguments: [
        ("SSN 123-45-6789", "123-45-6789"),
        ("DNI 12345678Z", "12345678Z"),
        ("NIE X1234567L", "X1234567L"),
        ("Personalausweis L01X00T471, geboren", "L01X00T471"),
        ("codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S"),
        ("PESEL 44051401359", "44051401359"),
        ("CPF 111.444.777-35", "111.444.777-35"),
        ("personnummer 811228-9874", "811228-9874"),
        ("NINO AB 12 34 56 C", "AB 12 34 56 C"),
        ("身份证 11010519491231002X", "11010519491231002X"),
        ("BSN 111222333", "111222333"),
    ])
    func nationalIDs(text: String, id: String) { expectKind(text, "national_id", id) }

    @Test func datesOfBirth() {
        expectFindings("geboren am 07.11.1994 in Leipzig", ["date_of_birth:07.11.1994"])
        expectKind("born on March 14, 1998", "date_of_birth", "March 14, 1998")
        expectKind("nacido el 14 de marzo de 1998", "date_of_birth", "14 de marzo de 1998")
        expectKind("geb. 14. März 1998", "date_of_birth", "14. März 1998")
        expectKind("DOB: 1994-11-07", "date_of_birth", "1994-11-07")
        expectKind("生年月日 1994年11月7日", "date_of_birth", "1994年11月7日")
        expectKind("née le 3 avril 1990", "date_of_birth", "3 avril 1990")
        // a full date without a birth word is still shown, as a date
        expectFindings("Prüfung am 12.03.2026", ["date:12.03.2026"])
        // impossible dates and times are not dates
        expectClean("am 31.02.1990 um 10:45")
    }

    @Test func longDigitRuns() {
        expectFindings("Matrikelnummer 40213377", ["digits:40213377"])
        expectFindings("student id 2019384756", ["digits:2019384756"])
        expectClean("1234567 Einwohner und 12 345 Häuser")
        let run = sharedScanner.scan(field: "Matrikelnummer 40213377", index: 0)[0]
        #expect(run.score >= 0.9)  // an id word right before it
    }

    @Test func ipAddresses() {
        expectFindings("client_ip = 86.121.97.248 blocked", ["ip_address:86.121.97.248"])
        expectKind("from 6e40:4041:c617:e898:c11:40d2:c669:2eb4", "ip_address", "6e40:4041:c617:e898:c11:40d2:c669:2eb4")
        expectClean("Version 2.10.3 und Abschnitt 1.2.3.4")
    }
}

@Suite struct URLTests {
    @Test(arguments: [
        ("Notizen: https://drive.google.com/file/d/1xYzAbC/view?usp=sharing", "https://drive.google.com/file/d/1xYzAbC/view?usp=sharing"),
        ("see https://docs.google.com/document/d/1AbCdEf/edit for my notes", "https://docs.google.com/document/d/1AbCdEf/edit"),
        ("www.anna-schmidt-blog.de/vokabeln", "www.anna-schmidt-blog.de/vokabeln"),
        ("mein Blog: lena-lernt-deutsch.blogspot.com", "lena-lernt-deutsch.blogspot.com"),
        ("(siehe https://de.wikipedia.org/wiki/Berlin_(Begriffsklärung))", "https://de.wikipedia.org/wiki/Berlin_(Begriffsklärung)"),
        ("IDN: bücher-müller.de", "bücher-müller.de"),
        ("FTP ftp://files.example.org/a.zip.", "ftp://files.example.org/a.zip"),
    ])
    func finds(text: String, url: String) { expectKind(text, "url", url) }

    @Test(arguments: ["z.B. usw. d.h.", "Er kam.Es war spät.", "die Datei file.txt", "3.14 und 2.5",
                      "Hallo.wie geht's", "config.json und index.html"])
    func rejects(text: String) { expectClean(text) }

    @Test func fileNamesWithCountryTLDsScoreLow() {
        expectClean("siehe main.py")
        #expect(sharedScanner.scan(field: "siehe main.py", index: 0, minimumScore: 0.3).map(\.kind) == ["url"])
    }
}
