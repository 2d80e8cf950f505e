import Foundation
import GRDB
import Testing

@testable import AnkiResearch

/// The release in the FSRS field's Parquet layout, read by the field's own tools (Tests/Parquet/
/// check_release.py in the tests' venv: pandas as srs-benchmark loads it, DuckDB, polars, fsrs-rs-python).
@Suite("research release: Parquet layout")
struct ParquetReleaseTests {
    static let python = CLI.root.appendingPathComponent(".build/venv/bin/python3")
    static var venvAvailable: Bool { FileManager.default.isExecutableFile(atPath: python.path) }

    static func runPython(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = python
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = readAll(pipe.fileHandleForReading.fileDescriptor)
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("srs-benchmark, DuckDB and polars read it unchanged; it equals the sources' history; FSRS fits agree",
          .enabled(if: venvAvailable, "needs .build/venv (make venv)"))
    func fieldTools() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.add(["berlin", "newyork", "auckland", "legacy"])
        _ = try ws.ingest()
        let out = ws.root.appendingPathComponent("release")
        _ = try Release(dataset: ws.dataset, out: out, date: Date(timeIntervalSince1970: 1_750_000_000)).run()

        let fm = FileManager.default
        for table in ParquetRelease.tables.map(\.name) {
            for n in 1...3 {
                #expect(fm.fileExists(atPath: out.appendingPathComponent("\(table)/user_id=\(n)/data.parquet").path), "\(table) \(n)")
            }
            #expect(!fm.fileExists(atPath: out.appendingPathComponent("\(table)/user_id=4").path))
        }
        #expect(fm.fileExists(atPath: out.appendingPathComponent("participants.parquet").path))
        // CSV only when asked for.
        #expect(!fm.fileExists(atPath: out.appendingPathComponent("participants.csv").path))
        #expect(!fm.fileExists(atPath: out.appendingPathComponent("revlogs/participant=1").path))
        let sums = try String(contentsOf: out.appendingPathComponent("SHA256SUMS"), encoding: .utf8)
        #expect(sums.contains("revlogs/user_id=1/data.parquet") && sums.contains("participants.parquet"))

        // The data card documents every Parquet table and column.
        let card = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        for table in ParquetRelease.tables {
            #expect(card.contains("### `\(table.name)/user_id=N/data.parquet`"))
            #expect(ParquetRelease.tableMeanings[table.name] != nil, "\(table.name)")
            for c in table.columns { #expect(ParquetRelease.columnMeanings["\(table.name).\(c.name)"] != nil, "\(table.name).\(c.name)") }
        }
        for c in ParquetRelease.participantColumns { #expect(ParquetRelease.columnMeanings["participants.\(c.name)"] != nil, "\(c.name)") }

        // The consenting participants' source collections, with their time zone and rollover hour.
        let truth = { (name: String) throws -> Int in
            let data = try Data(contentsOf: CLI.generated.appendingPathComponent("\(name)-truth.json"))
            return ((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["rollover"] as? Int) ?? -1
        }
        let sources: [[String: Any]] = [
            ["name": "berlin", "apkg": CLI.generated.appendingPathComponent("berlin-latest.apkg").path, "zone": "Europe/Berlin",
             "rollover": try truth("berlin")],
            ["name": "auckland", "apkg": CLI.generated.appendingPathComponent("auckland-latest.apkg").path, "zone": "Pacific/Auckland",
             "rollover": try truth("auckland")],
            ["name": "legacy", "apkg": CLI.generated.appendingPathComponent("berlin-legacy2.apkg").path, "zone": "Europe/Berlin",
             "rollover": try truth("berlin")],
        ]
        let sourceFile = ws.root.appendingPathComponent("sources.json")
        try JSONSerialization.data(withJSONObject: sources).write(to: sourceFile)
        let script = CLI.root.appendingPathComponent("Tests/Parquet/check_release.py")
        let (status, output) = try Self.runPython([script.path, out.path, sourceFile.path])
        #expect(status == 0, "\(output)")
    }

    @Test("the CLI writes CSV only with --csv")
    func csvFlag() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.add(["berlin"])
        _ = try ws.ingest()
        let out = ws.root.appendingPathComponent("release")
        let result = try CLI.run(["research", "release", "--dataset", ws.dataset.path, "--out", out.path, "--csv"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("revlogs/participant=1/data.csv").path))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("revlogs/user_id=1/data.parquet").path))
    }
}
