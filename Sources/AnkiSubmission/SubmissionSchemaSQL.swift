public enum SubmissionSchema {
    /// Bumped whenever a table or column changes.
    public static let version = 1

    /// The schema without its indexes (a bulk writer creates those after the rows).
    public static var tableStatements: String {
        sql.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("CREATE INDEX") }.joined(separator: "\n")
    }

    /// The `CREATE INDEX` statements of the schema.
    public static var indexStatements: [String] {
        sql.split(separator: "\n").filter { $0.hasPrefix("CREATE INDEX") }.map(String.init)
    }

    /// The text of `Schemas/submission.sql` (embedded at build time).
    public static let sql = String(decoding: PackageResources.submission_sql, as: UTF8.self)
}
