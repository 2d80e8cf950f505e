// Schemas/release.sql links to Sources/AnkiResearch/Resources/release.sql, embedded at build time.
public enum ReleaseSchema {
    /// Bumped whenever a table or column changes.
    public static let version = 1

    /// The public release's tables (`research release` writes them).
    public static let sql = String(decoding: PackageResources.release_sql, as: UTF8.self)
}
