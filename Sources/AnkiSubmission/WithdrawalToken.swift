import Crypto
import Foundation

/// The participant's withdrawal token: 135 random bits from the system's cryptographic generator, written
/// as 27 Crockford base-32 characters plus one check character, in seven groups of four
/// (`7K3Q-M9XH-...`). Only its SHA-256 goes into the submission; the token itself is shown once and
/// saved to a file the participant keeps.
public struct WithdrawalToken: Sendable, Equatable, CustomStringConvertible {
    /// Crockford's alphabet: no I, L, O or U, so it survives handwriting and reading aloud.
    public static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    public static let dataLength = 27
    public static let groupSize = 4

    /// Canonical text: upper case, grouped with dashes. This exact text is what gets hashed.
    public let text: String

    /// Tokens never print themselves by accident (logs, error messages); use `text` deliberately.
    public var description: String { "<withdrawal token>" }

    /// Lower-case hex SHA-256 of the canonical text's UTF-8 bytes.
    public var hash: String { Self.sha256Hex(text) }

    public static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public static func generate() -> WithdrawalToken {
        var rng = SystemRandomNumberGenerator()
        return generate(using: &rng)
    }

    public static func generate<R: RandomNumberGenerator>(using rng: inout R) -> WithdrawalToken {
        let values = (0..<dataLength).map { _ in Int.random(in: 0..<32, using: &rng) }
        return WithdrawalToken(values: values + [checkValue(values)])
    }

    private init(values: [Int]) {
        let chars = values.map { Self.alphabet[$0] }
        text = stride(from: 0, to: chars.count, by: Self.groupSize)
            .map { String(chars[$0..<min($0 + Self.groupSize, chars.count)]) }
            .joined(separator: "-")
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible, Sendable {
        case wrongLength(Int)
        case invalidCharacter
        case checkCharacterMismatch

        public var description: String {
            switch self {
            case .wrongLength(let n):
                return "A withdrawal token has \(WithdrawalToken.dataLength + 1) letters and digits; this one has \(n)."
            case .invalidCharacter:
                return "A withdrawal token uses only digits and the letters A-Z without I, L, O and U."
            case .checkCharacterMismatch:
                return "This withdrawal token has a typo (its last character does not match); please check it."
            }
        }
    }

    /// Accepts what people type: any case, spaces or dashes anywhere, O for 0 and I/L for 1.
    public static func parse(_ input: String) throws -> WithdrawalToken {
        var values: [Int] = []
        for ch in input.uppercased() {
            if ch == "-" || ch == " " || ch == "\t" || ch == "\n" || ch == "\r" { continue }
            let mapped: Character = ch == "O" ? "0" : (ch == "I" || ch == "L") ? "1" : ch
            guard let index = alphabet.firstIndex(of: mapped) else { throw ParseError.invalidCharacter }
            values.append(index)
            if values.count > dataLength + 1 { break }
        }
        guard values.count == dataLength + 1 else { throw ParseError.wrongLength(values.count) }
        guard checkValue(Array(values.prefix(dataLength))) == values[dataLength] else {
            throw ParseError.checkCharacterMismatch
        }
        return WithdrawalToken(values: values)
    }

    /// Luhn mod 32: catches every single-character error and every swap of neighbours.
    static func checkValue(_ values: [Int]) -> Int {
        var sum = 0
        var factor = 2
        for value in values.reversed() {
            var addend = factor * value
            addend = addend / 32 + addend % 32
            sum += addend
            factor = factor == 2 ? 1 : 2
        }
        return (32 - sum % 32) % 32
    }
}
