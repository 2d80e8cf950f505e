/// What the scanner reports: one piece of text that may identify the participant (`.pii`) or reveal
/// a special category of personal data in the sense of GDPR Art. 9 (`.special`).
public struct Finding: Sendable, Equatable, Hashable {
    public enum Category: String, Sendable, Equatable, Hashable, CaseIterable {
        /// Identifying data: e-mail, phone, account and id numbers, dates of birth, URLs, names, addresses.
        case pii
        /// Health, religion, politics.
        case special
    }

    /// Field index for the note's tags.
    public static let tagsField = -1
    /// Field index for a media file name (offsets are into the name).
    public static let mediaNameField = -2
    /// Field index for the survey's free text.
    public static let surveyField = -3

    /// `email`, `phone`, `iban`, `card_number`, `national_id`, `date_of_birth`, `date`, `digits`,
    /// `url`, `ip_address`, `name`, `address`; `health`, `religion`, `politics`.
    public var kind: String
    public var category: Category
    /// The matched text as the participant sees it (markup removed, entities decoded).
    public var text: String
    /// Field index in note-type order; `tagsField`, `mediaNameField` or `surveyField` otherwise.
    public var field: Int
    /// UTF-8 byte offsets into the original text of the field (HTML included), end exclusive.
    public var start: Int
    public var end: Int
    /// 0...1: how sure the scanner is. Findings under the configured minimum are normally hidden.
    public var score: Double
    /// Which rule fired (`email`, `phone.international`, `names.chain`, `special.terms`, ...).
    public var detector: String

    public init(kind: String, category: Category, text: String, field: Int, start: Int, end: Int,
                score: Double, detector: String) {
        self.kind = kind
        self.category = category
        self.text = text
        self.field = field
        self.start = start
        self.end = end
        self.score = score
        self.detector = detector
    }
}

extension Finding {
    /// The object `scan --json` prints for a finding (keys exactly as documented).
    public var jsonObject: [String: Any] {
        ["kind": kind, "category": category.rawValue, "text": text, "field": field, "start": start, "end": end,
         "score": (score * 100).rounded() / 100, "detector": detector]
    }
}

/// Words a participant understands for each finding kind.
public enum FindingLabels {
    static let labels: [String: String] = [
        "email": "e-mail address", "phone": "phone number", "iban": "bank account (IBAN)",
        "card_number": "payment card number", "national_id": "ID or social security number",
        "date_of_birth": "date of birth", "date": "date", "digits": "long number", "url": "web address",
        "ip_address": "IP address", "name": "name of a person", "address": "street address", "health": "health",
        "religion": "religion or belief", "politics": "political opinion",
    ]

    public static func label(_ kind: String) -> String { labels[kind] ?? kind.replacingOccurrences(of: "_", with: " ") }
}
