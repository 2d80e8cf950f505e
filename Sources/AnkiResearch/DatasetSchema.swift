// Schemas/dataset.sql links to Sources/AnkiResearch/Resources/dataset.sql, embedded at build time.
public enum DatasetSchema {
    /// Bumped whenever a table or column changes.
    public static let version = 1

    /// The working dataset's tables (`research ingest` creates them).
    public static let sql = String(decoding: PackageResources.dataset_sql, as: UTF8.self)
}
