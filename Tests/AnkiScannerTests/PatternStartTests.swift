@testable import AnkiScanner
import Foundation
import Testing

/// `PatternDigits.startsWithDigit` lets PCRE2 skip the positions before a region's first digit, so
/// a wrong "true" would lose findings: these cases pin down what it may and may not claim.
@Suite struct PatternStartTests {
    @Test(arguments: [
        #"\d{3}-\d{2}"#,
        #"(?<![\p{N}])(?<!\d[ .\-])\d{9}(?![\p{N}])"#,
        #"(?<![\p{N}])[12] ?\d{2}"#,
        #"(?<![\p{N}])(?:19|20)?\d{6}[\-+]\d{4}"#,
        #"(\d{1,2})([./\-])(\d{1,2})\2(\d{4})"#,
        #"756\.?\d{4}"#,
        #"(?:1|2\d)x"#,
        #"(?:\d)*5"#,
    ])
    func readsDigitStarts(_ pattern: String) {
        #expect(PatternDigits.startsWithDigit(pattern))
    }

    @Test(arguments: [
        #"[A-Z]{1,2}\d{6,8}"#,
        #"(?<![\p{L}\p{N}])[XYZ][\- ]?\d{7}"#,
        #"\d?x"#,
        #"(?:19|20)?x\d"#,
        #"(?:1|x)\d"#,
        #"\b\d{4}"#,
        #"(\p{L}{3,12})\.?\s(\d{1,2})"#,
        #"[0-9a]\d"#,
        #"[^0-9]\d"#,
        #"\d|x"#,
        #"(?:\d|x)*5"#,
        "",
    ])
    func refusesOtherStarts(_ pattern: String) {
        #expect(!PatternDigits.startsWithDigit(pattern))
    }

    /// The configured rules this reading speeds up (`Config/scanner/patterns.json`): the identity numbers
    /// and dates that start with digits, not those that start with letters or a month name.
    @Test func configuredRulesAreRead() {
        let rules = sharedScanner.patterns
        let ids = Set(rules.ids.filter(\.startsWithDigit).map(\.spec.name))
        #expect(ids == ["us_ssn", "us_ssn_plain", "es_dni", "fr_nir", "nl_bsn", "pl_pesel", "se_personnummer",
                        "tr_identity", "br_cpf", "br_cpf_plain", "pt_nif", "be_national", "cn_resident", "kr_resident",
                        "kr_resident_plain", "jp_my_number", "in_aadhaar", "ch_ahv", "ca_sin"])
        let dates = Set(rules.dates.filter(\.startsWithDigit).map(\.spec.name))
        #expect(dates == ["dmy", "dmy_spaced", "iso", "day_month_name", "cjk"])
    }
}
