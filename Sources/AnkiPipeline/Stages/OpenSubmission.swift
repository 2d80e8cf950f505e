import AnkiReader
import AnkiSubmission
import Foundation
import GRDB

/// Creates the submission as a hidden temporary file in the output folder (secure_delete on, the
/// schema from `Schemas/submission.sql`) and attaches the collection's read-only working copy.
struct OpenSubmission: PipelineStage {
    static let name = "open-submission"
    static let summary = "the submission is built in a temporary file, renamed only when complete"

    func run(_ context: PipelineContext) throws {
        let folder = context.options.outputDirectory
        // Folders this run creates are removed again if it fails (only while empty).
        var missing: [String] = []
        var probe = folder.standardizedFileURL
        while !FileManager.default.fileExists(atPath: probe.path), probe.path != "/" {
            missing.append(probe.path)
            probe = probe.deletingLastPathComponent()
        }
        context.createdFolders = missing
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw PrepareError(.outputFailure, "Cannot create the output folder \(folder.path).")
        }
        // What a killed run left here (recognised by name, owner and a lock nobody holds) goes first.
        Workspace.sweepAbandonedPartialFiles(in: folder)
        if let tokenFolder = context.options.tokenFile?.deletingLastPathComponent(), tokenFolder.path != folder.path {
            Workspace.sweepAbandonedPartialFiles(in: tokenFolder)
        }
        // Made by us, new, private and not through a link; SQLite then opens the existing empty file
        // (and gives its -wal and -shm the same mode 0600).
        let partial: URL
        do {
            partial = try Workspace.createPartialFile(in: folder, stem: "anki-submission").url
        } catch {
            throw PrepareError(.outputFailure, "Cannot write in \(folder.path) (\(error.reason)).")
        }
        context.partialURL = partial
        do {
            var config = Configuration()
            config.label = "anki-submit.submission"
            // References are proven by the audit before the file is renamed; enforcing them row by row
            // would only slow the bulk copy (and decks can name parents created after them).
            config.foreignKeysEnabled = false
            // WAL while it is built, so the audit can read what is committed while the review log is
            // still written; no checkpoints until the write stage turns it back into one file. No
            // fsync per commit: the file is synced once, before the rename. Temporary b-trees (a sort,
            // a materialized sub-query) in memory: nothing of the participant's goes to a file in
            // /var/tmp, even one unlinked at once.
            config.prepareDatabase { db in
                try db.execute(sql: "PRAGMA secure_delete = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY")
                try AnkiCollection.prepareConnection(db)
            }
            let queue = try DatabaseQueue(path: partial.path, configuration: config)
            context.output = queue
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: SubmissionSchema.sql)
                try db.execute(sql: "ATTACH DATABASE ? AS src", arguments: [context.source.databaseURL.path])
            }
        } catch let error as DatabaseError {
            throw PrepareError(.outputFailure,
                               "Cannot write in \(folder.path) (\(error.resultCode == .SQLITE_FULL ? "disk full" : "not writable")).")
        }
        context.report.note("building in the output folder under a temporary name")
    }
}
