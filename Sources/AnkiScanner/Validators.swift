/// Checksums and structure checks for numbers found by the patterns. Config names a validator per
/// rule (`Config/scanner/patterns.json`, `national_ids[].validator`); the algorithms live here
/// because they are arithmetic, not patterns.
enum Validators {
    static let names: Set<String> = [
        "none", "luhn", "us_ssn", "de_id_card", "es_dni", "es_nie", "fr_nir", "it_fiscal_code", "nl_bsn", "pl_pesel",
        "se_personnummer", "tr_identity", "br_cpf", "pt_nif", "be_national", "cn_resident", "kr_resident",
        "jp_my_number", "in_aadhaar", "ch_ahv", "mx_curp", "gb_nino",
    ]

    static func isKnown(_ name: String) -> Bool { names.contains(name) }

    /// Digits and ASCII letters (upper-cased) of a candidate, separators dropped.
    static func compact(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for s in text.unicodeScalars {
            if let d = TextUnits.digitValue(s.value) {
                out.append(UInt8(ascii: "0") + UInt8(d))
            } else if s.value < 128, let c = UInt8(exactly: s.value),
                      (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") {
                out.append(c & ~0x20)
            }
        }
        return out
    }

    static func digits(_ c: [UInt8]) -> [Int]? {
        var out: [Int] = []
        for b in c {
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { return nil }
            out.append(Int(b - UInt8(ascii: "0")))
        }
        return out
    }

    static func validate(_ name: String, _ text: String) -> Bool {
        let c = compact(text)
        switch name {
        case "none": return true
        case "luhn": return digits(c).map(luhn) ?? false
        case "us_ssn": return usSSN(c)
        case "de_id_card": return deIDCard(c)
        case "es_dni": return esDNI(c)
        case "es_nie": return esNIE(c)
        case "fr_nir": return frNIR(c)
        case "it_fiscal_code": return itFiscalCode(c)
        case "nl_bsn": return nlBSN(c)
        case "pl_pesel": return plPESEL(c)
        case "se_personnummer": return sePersonnummer(c)
        case "tr_identity": return trIdentity(c)
        case "br_cpf": return brCPF(c)
        case "pt_nif": return ptNIF(c)
        case "be_national": return beNational(c)
        case "cn_resident": return cnResident(c)
        case "kr_resident": return krResident(c)
        case "jp_my_number": return jpMyNumber(c)
        case "in_aadhaar": return inAadhaar(c)
        case "ch_ahv": return chAHV(c)
        case "mx_curp": return c.count == 18 && validDate(year: yy(c, 4), month: num(c, 6, 2), day: num(c, 8, 2))
        case "gb_nino": return c.count == 9
        default: return false
        }
    }

    static func num(_ c: [UInt8], _ at: Int, _ length: Int) -> Int {
        var v = 0
        for i in at..<min(at + length, c.count) {
            let b = c[i]
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { return -1 }
            v = v * 10 + Int(b - UInt8(ascii: "0"))
        }
        return v
    }

    private static func yy(_ c: [UInt8], _ at: Int) -> Int { 2000 + num(c, at, 2) }

    static func validDate(year: Int, month: Int, day: Int) -> Bool {
        guard (1...12).contains(month), day >= 1 else { return false }
        let days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        return day <= days[month - 1] + (month == 2 && leap ? 1 : 0)
    }

    static func luhn(_ d: [Int]) -> Bool {
        guard d.count >= 2 else { return false }
        var sum = 0
        for (i, digit) in d.reversed().enumerated() {
            if i % 2 == 1 {
                let doubled = digit * 2
                sum += doubled > 9 ? doubled - 9 : doubled
            } else {
                sum += digit
            }
        }
        return sum % 10 == 0
    }

    /// IBAN: country letters, check digits, then mod 97 of the rearranged number is 1.
    static func iban(_ c: [UInt8], lengths: [String: Int]) -> Bool {
        guard c.count >= 15, c.count <= 34 else { return false }
        let country = String(decoding: c[0..<2], as: UTF8.self)
        guard let length = lengths[country], length == c.count else { return false }
        var remainder = 0
        for b in c[4...] + c[0..<4] {
            if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                remainder = (remainder * 10 + Int(b - UInt8(ascii: "0"))) % 97
            } else if b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") {
                remainder = (remainder * 100 + Int(b - UInt8(ascii: "A")) + 10) % 97
            } else {
                return false
            }
        }
        return remainder == 1
    }

    private static func usSSN(_ c: [UInt8]) -> Bool {
        guard c.count == 9, digits(c) != nil else { return false }
        let area = num(c, 0, 3), group = num(c, 3, 2), serial = num(c, 5, 4)
        return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
    }

    private static func alnumValue(_ b: UInt8) -> Int? {
        if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") { return Int(b - UInt8(ascii: "0")) }
        if b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") { return Int(b - UInt8(ascii: "A")) + 10 }
        return nil
    }

    /// German identity card / passport serial: 9 characters and a 7-3-1 check digit.
    private static func deIDCard(_ c: [UInt8]) -> Bool {
        guard c.count == 10 else { return false }
        let weights = [7, 3, 1]
        var sum = 0
        for i in 0..<9 {
            guard let v = alnumValue(c[i]) else { return false }
            sum += v * weights[i % 3]
        }
        return num(c, 9, 1) == sum % 10 && c.contains(where: { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
    }

    private static let dniLetters = Array("TRWAGMYFPDXBNJZSQVHLCKE".utf8)

    private static func esDNI(_ c: [UInt8]) -> Bool {
        guard c.count == 9 else { return false }
        let n = num(c, 0, 8)
        return n >= 0 && dniLetters[n % 23] == c[8]
    }

    private static func esNIE(_ c: [UInt8]) -> Bool {
        guard c.count == 9, let lead = [UInt8(ascii: "X"): 0, UInt8(ascii: "Y"): 1, UInt8(ascii: "Z"): 2][c[0]] else { return false }
        let n = num(c, 1, 7)
        return n >= 0 && dniLetters[(lead * 10_000_000 + n) % 23] == c[8]
    }

    /// French social security number: 13 digits (Corsica 2A/2B) and key = 97 - n mod 97.
    private static func frNIR(_ c: [UInt8]) -> Bool {
        guard c.count == 15 else { return false }
        var body = Array(c[0..<13])
        var adjust = 0
        if body[5] == UInt8(ascii: "A") { body[5] = UInt8(ascii: "0"); adjust = 1_000_000 }
        if body[5] == UInt8(ascii: "B") { body[5] = UInt8(ascii: "0"); adjust = 2_000_000 }
        guard let d = digits(body), let key = digits(Array(c[13..<15])) else { return false }
        var n = 0
        for digit in d { n = (n * 10 + digit) % 97 }
        n = (n - adjust % 97 + 97) % 97
        return 97 - n == key[0] * 10 + key[1]
    }

    private static func itFiscalCode(_ c: [UInt8]) -> Bool {
        guard c.count == 16 else { return false }
        let odd: [Int] = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]
        var sum = 0
        for i in 0..<15 {
            let b = c[i]
            let v: Int
            if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") { v = Int(b - UInt8(ascii: "0")) } else { v = Int(b - UInt8(ascii: "A")) }
            guard v >= 0 && v < 26 else { return false }
            sum += i % 2 == 0 ? odd[v] : v
        }
        return Int(c[15]) - Int(UInt8(ascii: "A")) == sum % 26
    }

    private static func nlBSN(_ c: [UInt8]) -> Bool {
        guard c.count == 9, let d = digits(c) else { return false }
        var sum = 0
        for i in 0..<8 { sum += d[i] * (9 - i) }
        sum -= d[8]
        return sum % 11 == 0 && sum != 0
    }

    private static func plPESEL(_ c: [UInt8]) -> Bool {
        guard c.count == 11, let d = digits(c) else { return false }
        let weights = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]
        var sum = 0
        for i in 0..<10 { sum += d[i] * weights[i] }
        guard (10 - sum % 10) % 10 == d[10] else { return false }
        var month = d[2] * 10 + d[3]
        var year = d[0] * 10 + d[1]
        switch month {
        case 81...92: year += 1800; month -= 80
        case 21...32: year += 2000; month -= 20
        case 1...12: year += 1900
        default: return false
        }
        return validDate(year: year, month: month, day: d[4] * 10 + d[5])
    }

    private static func sePersonnummer(_ c: [UInt8]) -> Bool {
        guard c.count == 10 || c.count == 12, var d = digits(c) else { return false }
        if d.count == 12 { d.removeFirst(2) }
        let day = d[4] * 10 + d[5]
        guard validDate(year: 2000, month: d[2] * 10 + d[3], day: day > 60 ? day - 60 : day) else { return false }
        return luhn(d)
    }

    private static func trIdentity(_ c: [UInt8]) -> Bool {
        guard c.count == 11, let d = digits(c), d[0] != 0 else { return false }
        let odd = d[0] + d[2] + d[4] + d[6] + d[8], even = d[1] + d[3] + d[5] + d[7]
        guard ((odd * 7 - even) % 10 + 10) % 10 == d[9] else { return false }
        return d[0..<10].reduce(0, +) % 10 == d[10]
    }

    private static func brCPF(_ c: [UInt8]) -> Bool {
        guard c.count == 11, let d = digits(c), Set(d).count > 1 else { return false }
        func check(_ n: Int) -> Int {
            var sum = 0
            for i in 0..<n { sum += d[i] * (n + 1 - i) }
            let r = (sum * 10) % 11
            return r == 10 ? 0 : r
        }
        return check(9) == d[9] && check(10) == d[10]
    }

    private static func ptNIF(_ c: [UInt8]) -> Bool {
        guard c.count == 9, let d = digits(c), [1, 2, 3, 5, 6, 8, 9].contains(d[0]) else { return false }
        var sum = 0
        for i in 0..<8 { sum += d[i] * (9 - i) }
        let check = 11 - sum % 11
        return (check >= 10 ? 0 : check) == d[8]
    }

    private static func beNational(_ c: [UInt8]) -> Bool {
        guard c.count == 11, let d = digits(c) else { return false }
        var n = 0
        for digit in d[0..<9] { n = n * 10 + digit }
        let key = d[9] * 10 + d[10]
        return 97 - n % 97 == key || 97 - (2_000_000_000 + n) % 97 == key
    }

    private static func cnResident(_ c: [UInt8]) -> Bool {
        guard c.count == 18, let d = digits(Array(c[0..<17])) else { return false }
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        var sum = 0
        for i in 0..<17 { sum += d[i] * weights[i] }
        let codes = Array("10X98765432".utf8)
        guard codes[sum % 11] == c[17] else { return false }
        return validDate(year: num(c, 6, 4), month: num(c, 10, 2), day: num(c, 12, 2))
    }

    private static func krResident(_ c: [UInt8]) -> Bool {
        guard c.count == 13, let d = digits(c), (1...8).contains(d[6]) else { return false }
        return validDate(year: 2000 + d[0] * 10 + d[1], month: d[2] * 10 + d[3], day: d[4] * 10 + d[5])
    }

    private static func jpMyNumber(_ c: [UInt8]) -> Bool {
        guard c.count == 12, let d = digits(c) else { return false }
        var sum = 0
        for n in 1...11 {
            let p = d[11 - n]
            let q = n <= 6 ? n + 1 : n - 5
            sum += p * q
        }
        let r = sum % 11
        return (r <= 1 ? 0 : 11 - r) == d[11]
    }

    private static let verhoeffD: [[Int]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ]
    private static let verhoeffP: [[Int]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ]

    private static func inAadhaar(_ c: [UInt8]) -> Bool {
        guard c.count == 12, let d = digits(c), d[0] >= 2 else { return false }
        var check = 0
        for (i, digit) in d.reversed().enumerated() { check = verhoeffD[check][verhoeffP[i % 8][digit]] }
        return check == 0
    }

    /// Swiss AHV/AVS number: 756 and an EAN-13 check digit.
    private static func chAHV(_ c: [UInt8]) -> Bool {
        guard c.count == 13, let d = digits(c), d[0] == 7, d[1] == 5, d[2] == 6 else { return false }
        var sum = 0
        for i in 0..<12 { sum += d[i] * (i % 2 == 0 ? 1 : 3) }
        return (10 - sum % 10) % 10 == d[12]
    }
}
