public enum SubmissionSchema {
    /// Bumped whenever a table or column changes.
    public static let version = 2

    /// The text of `Schemas/submission.sql` (embedded at build time).
    public static let sql = String(decoding: PackageResources.submission_sql, as: UTF8.self)
}
