/// The Thrift compact protocol, write side only: just what a Parquet footer and page headers need
/// (structs, i16/i32/i64, binary, bool, lists). Field ids are written as deltas from the previous
/// field of the same struct when they fit in four bits, as the protocol asks.
struct ThriftCompactWriter {
    private(set) var bytes: [UInt8] = []
    /// The last field id of every open struct, innermost last.
    private var lastField: [Int16] = [0]

    enum FieldType: UInt8 {
        case boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7, binary = 8
        case list = 9, set = 10, map = 11, structure = 12
    }

    init() { bytes.reserveCapacity(256) }

    // MARK: Primitive encodings

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }

    private mutating func fieldHeader(_ id: Int16, _ type: FieldType) {
        let delta = Int(id) - Int(lastField[lastField.count - 1])
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            varint(Self.zigzag(Int64(id)))
        }
        lastField[lastField.count - 1] = id
    }

    // MARK: Fields

    mutating func i32(_ id: Int16, _ value: Int32) {
        fieldHeader(id, .i32)
        varint(Self.zigzag(Int64(value)))
    }

    mutating func i64(_ id: Int16, _ value: Int64) {
        fieldHeader(id, .i64)
        varint(Self.zigzag(value))
    }

    mutating func i16(_ id: Int16, _ value: Int16) {
        fieldHeader(id, .i16)
        varint(Self.zigzag(Int64(value)))
    }

    mutating func bool(_ id: Int16, _ value: Bool) { fieldHeader(id, value ? .boolTrue : .boolFalse) }

    mutating func binary(_ id: Int16, _ value: some Collection<UInt8>) {
        fieldHeader(id, .binary)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func string(_ id: Int16, _ value: String) { binary(id, Array(value.utf8)) }

    /// A nested struct: `body` writes its fields.
    mutating func structure(_ id: Int16, _ body: (inout ThriftCompactWriter) -> Void) {
        fieldHeader(id, .structure)
        structBody(body)
    }

    /// A struct's fields and its stop byte (also the top level of a message).
    mutating func structBody(_ body: (inout ThriftCompactWriter) -> Void) {
        lastField.append(0)
        body(&self)
        bytes.append(0)  // stop
        lastField.removeLast()
    }

    private mutating func listHeader(_ id: Int16, count: Int, of type: FieldType) {
        fieldHeader(id, .list)
        if count < 15 {
            bytes.append(UInt8(count) << 4 | type.rawValue)
        } else {
            bytes.append(0xF0 | type.rawValue)
            varint(UInt64(count))
        }
    }

    mutating func i32List(_ id: Int16, _ values: [Int32]) {
        listHeader(id, count: values.count, of: .i32)
        for v in values { varint(Self.zigzag(Int64(v))) }
    }

    mutating func stringList(_ id: Int16, _ values: [String]) {
        listHeader(id, count: values.count, of: .binary)
        for v in values {
            varint(UInt64(v.utf8.count))
            bytes.append(contentsOf: v.utf8)
        }
    }

    mutating func structList<T>(_ id: Int16, _ values: [T], _ body: (inout ThriftCompactWriter, T) -> Void) {
        listHeader(id, count: values.count, of: .structure)
        for v in values { structBody { body(&$0, v) } }
    }
}
