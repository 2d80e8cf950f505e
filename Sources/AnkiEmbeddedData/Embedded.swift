/// Config/ and Wordlists/ compiled into the program (the table is generated at build time by the
/// EmbedDataPlugin from the source tree), so that one executable is all a participant needs.
/// The bytes are string literals in the binary's read-only data: nothing is built or parsed at
/// start-up, and a file is only read when asked for.
public enum EmbeddedFiles {
    /// The file's bytes (`path` relative to the package root, like "Config/languages.tsv"), or nil.
    /// The memory is static and never freed.
    public static func contents(_ path: String) -> UnsafeBufferPointer<UInt8>? {
        for entry in table where entry.path.withUTF8Buffer({ $0.elementsEqual(path.utf8) }) {
            return bytes(entry.contents)
        }
        return nil
    }

    /// Every embedded path, sorted.
    public static var paths: [String] { table.map { $0.path.description } }

    private static func bytes(_ string: StaticString) -> UnsafeBufferPointer<UInt8> {
        // A literal of more than one scalar is always stored as a pointer to UTF-8.
        precondition(string.hasPointerRepresentation, "embedded files are stored as UTF-8")
        return UnsafeBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount)
    }
}
