import CAnkiZlib

/// The CRC-32 of a zip entry's unpacked bytes, computed with zlib while they stream through and
/// compared with the checksum the zip directory records for the entry.
///
/// `ZipFile.extract` leaves the check to its caller, which sees every byte anyway.
struct EntryChecksum {
    private(set) var value: UInt32 = 0

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        value = UInt32(truncatingIfNeeded: crc32_z(UInt(value), base.assumingMemoryBound(to: UInt8.self), bytes.count))
    }

    /// Throws `.damagedArchive` when the bytes read are not the bytes the package recorded.
    func verify(expected: UInt32) throws {
        guard value == expected else {
            throw ReaderError(.damagedArchive,
                              "The package is damaged (the checksum of a file inside it is wrong); "
                              + "export it from Anki again.")
        }
    }
}
