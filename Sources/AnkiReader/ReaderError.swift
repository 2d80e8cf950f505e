/// Everything that can make a file unusable, each with its own exit code and a message a participant
/// understands. Messages never contain card content, ids or file contents: only what kind of problem
/// it is and, where it helps, a count or a size.
public struct ReaderError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A stable code per kind of problem; its raw value is the process exit code.
    public enum Code: Int32, CaseIterable, Sendable {
        case fileNotFound = 10
        case notAFile = 11
        case emptyFile = 12
        case unreadableFile = 13
        case unknownFormat = 14
        case damagedArchive = 15
        case unsafeEntryName = 16
        case duplicateEntryName = 17
        case unpackedSizeLimit = 18
        case compressionRatioLimit = 19
        case packageTooNew = 20
        case collectionMissing = 21
        case damagedCompressedData = 22
        case schemaTooOld = 23
        case schemaTooNew = 24
        case notAnAnkiCollection = 25
        case damagedDatabase = 26
        case idOutOfRange = 27
        case invalidText = 28
        case invalidCollectionData = 29
        case mediaMissing = 30
        case emptyCollection = 31
        case workspaceFailure = 32
        case unsupportedCompression = 33
        case queryBudget = 34
        case interrupted = 130

        /// One line for `--help`: what the code means.
        public var summary: String {
            switch self {
            case .fileNotFound: return "the file does not exist"
            case .notAFile: return "the path is a folder or a device, not a file"
            case .emptyFile: return "the file is empty (0 bytes)"
            case .unreadableFile: return "the file cannot be read (permissions or I/O error)"
            case .unknownFormat: return "the file is neither an Anki package nor an Anki collection"
            case .damagedArchive: return "the package (zip) is truncated or damaged"
            case .unsafeEntryName: return "the package contains a file name that points outside it"
            case .duplicateEntryName: return "the package contains the same file name twice"
            case .unpackedSizeLimit: return "the package unpacks to more than the size limit"
            case .compressionRatioLimit: return "the package expands suspiciously much (zip bomb)"
            case .packageTooNew: return "the package was made by a newer Anki than this tool knows"
            case .collectionMissing: return "the package contains no collection"
            case .damagedCompressedData: return "compressed data inside the package is truncated or damaged"
            case .schemaTooOld: return "the collection's format version is too old"
            case .schemaTooNew: return "the collection's format version is too new"
            case .notAnAnkiCollection: return "the database is not an Anki collection"
            case .damagedDatabase: return "the collection database is damaged"
            case .idOutOfRange: return "the collection contains an id too large to be real"
            case .invalidText: return "the collection contains text that is not valid UTF-8"
            case .invalidCollectionData: return "the collection's settings are malformed"
            case .mediaMissing: return "the package's media list names files that are missing"
            case .emptyCollection: return "the collection contains no notes"
            case .workspaceFailure: return "a temporary working copy could not be made (disk full?)"
            case .unsupportedCompression: return "the package uses a compression method Anki never writes (bzip2, LZMA, ...) or is encrypted"
            case .queryBudget: return "reading the collection took far more work than a real one needs (damaged or built to stall)"
            case .interrupted: return "interrupted (Ctrl-C); temporary files were removed"
            }
        }
    }

    public let code: Code
    /// One line, in plain words, free of card content.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var exitCode: Int32 { code.rawValue }

    /// Errors are equal when they are the same kind of problem; the wording may differ.
    public static func == (lhs: ReaderError, rhs: ReaderError) -> Bool { lhs.code == rhs.code }
    public var description: String { message }

    /// The exit codes as a table for `--help`.
    public static var exitCodeTable: String {
        Code.allCases.map { "  \($0.rawValue)  \($0.summary)" }.joined(separator: "\n")
    }
}

extension ReaderError {
    static func damagedDatabase(_ detail: String = "") -> ReaderError {
        ReaderError(.damagedDatabase, "The collection database is damaged and cannot be read"
            + (detail.isEmpty ? "." : " (\(detail))."))
    }

    /// "The collection's deck list is malformed; ...", "The collection's deck options are malformed; ..."
    static func invalidData(_ part: CollectionPart, detail: String? = nil) -> ReaderError {
        ReaderError(.invalidCollectionData, "The collection's \(part.name) \(part.plural ? "are" : "is") malformed"
            + (detail.map { " (\($0))" } ?? "") + "; the file may be damaged.")
    }

    /// Text, a blob or NULL in a column of `table` where Anki writes a number.
    public static func notANumber(inTable table: String) -> ReaderError {
        invalidData(.table(table), detail: "text where Anki writes a number")
    }
}

/// A part of a collection named in `.invalidCollectionData` messages, with its grammatical number.
struct CollectionPart: Sendable {
    let name: String
    let plural: Bool

    static let configuration = CollectionPart(name: "configuration", plural: false)
    static let noteTypeList = CollectionPart(name: "note type list", plural: false)
    static let deckList = CollectionPart(name: "deck list", plural: false)
    static let deckOptions = CollectionPart(name: "deck options", plural: true)
    static let cardTemplates = CollectionPart(name: "card templates", plural: true)
    static let tables = CollectionPart(name: "tables", plural: true)
    static func table(_ name: String) -> CollectionPart { CollectionPart(name: "\(name) table", plural: false) }
}
