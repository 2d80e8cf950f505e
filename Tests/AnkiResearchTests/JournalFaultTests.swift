import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import AnkiResearch

/// A small tmpfs this test mounts itself, so the disk really fills: writes end short and then fail
/// with ENOSPC exactly as on a full disk. Needs root (tests run as root here and in CI).
final class Tmpfs: @unchecked Sendable {
    let dir: URL

    /// Whether this process may mount a tmpfs; tried once.
    static let permitted: Bool = {
        guard let probe = try? Tmpfs(size: "64k") else { return false }
        probe.unmount()
        return true
    }()

    static let skipMessage: Comment = "mounting a tmpfs is not permitted here (needs root): the full-disk tests are skipped"

    struct MountFailed: Error {}

    init(size: String) throws {
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("anki-tmpfs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        guard Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size),mode=0700", "tmpfs", dir.path]) else {
            try? FileManager.default.removeItem(at: dir)
            throw MountFailed()
        }
    }

    func unmount() {
        _ = Self.run("/bin/umount", ["-l", dir.path])
        try? FileManager.default.removeItem(at: dir)
    }

    static func run(_ tool: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// Fills the file system with `filler` until ENOSPC.
    func fill(_ name: String = "filler") {
        let fd = open(dir.appendingPathComponent(name).path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x2E, count: 4096)
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
        }
    }

    func free(_ name: String = "filler") {
        unlink(dir.appendingPathComponent(name).path)
    }
}

@Suite("the withdrawal journal on a disk that fills and empties")
struct JournalFaultTests {
    static func record(_ n: Int) -> WithdrawalRecord {
        WithdrawalRecord(receipt: String(format: "W-TEST-%04d-AAAA-BBBB", n), receivedAt: "2025-01-01T00:00:00Z",
                         tokenSHA256: String(repeating: String(n % 10), count: 64))
    }

    static func lastByte(_ url: URL) throws -> UInt8? { try Data(contentsOf: url).last }

    @Test("a write that fails half way leaves no torn line; restarted on the full disk the journal says so; it recovers by itself when space returns",
          .enabled(if: Tmpfs.permitted, Tmpfs.skipMessage))
    func halfWrittenRecord() async throws {
        let fs = try Tmpfs(size: "64k")
        defer { fs.unmount() }
        let url = fs.dir.appendingPathComponent("withdrawals.journal")
        var writer = try JournalWriter(url: url)
        defer { writer.close() }
        try await writer.append(Self.record(0))
        fs.fill()
        // Records still fit in the journal's last page, until one is cut off half way.
        var acknowledged: [String] = [Self.record(0).receipt]
        var failed = false
        for n in 1..<100 {
            do {
                try await writer.append(Self.record(n))
                acknowledged.append(Self.record(n).receipt)
            } catch {
                failed = true
                break
            }
        }
        #expect(failed)
        // The half-written line is gone: the journal ends with a complete line.
        #expect(try Self.lastByte(url) == 0x0A)
        #expect(!writer.healthy)   // nothing more fits
        // Restarted while the disk is still full: it says it cannot take a record.
        writer.close()
        writer = try JournalWriter(url: url)
        #expect(!writer.healthy)
        await #expect(throws: (any Error).self) { try await writer.append(Self.record(400)) }
        #expect(try Self.lastByte(url) == 0x0A)
        // Space returns: the next request is recorded, without a restart.
        fs.free()
        #expect(writer.healthy)
        try await writer.append(Self.record(500))
        acknowledged.append(Self.record(500).receipt)
        let read = try WithdrawalJournal.read(url, from: 0)
        #expect(read.records.allSatisfy { $0.record != nil })   // no damaged line
        #expect(read.records.compactMap(\.record?.receipt) == acknowledged)
    }

    @Test("restarted on a full disk over a torn line: the tail is cut; a 503 does not stick; every 202 is readable",
          .enabled(if: Tmpfs.permitted, Tmpfs.skipMessage))
    func restartOverTornLine() async throws {
        let fs = try Tmpfs(size: "64k")
        defer { fs.unmount() }
        let url = fs.dir.appendingPathComponent("withdrawals.journal")
        do {
            let writer = try JournalWriter(url: url)
            try await writer.append(Self.record(1))
            writer.close()
        }
        fs.fill()
        // A crash in the middle of a write on the full disk: a torn line up to the last free byte.
        let fd = open(url.path, O_WRONLY | O_APPEND)
        let torn = Array("{\"receipt\":\"W-TORN".utf8) + [UInt8](repeating: 0x78, count: 8192)
        _ = torn.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect(try Self.lastByte(url) != 0x0A)

        let writer = try JournalWriter(url: url)
        defer { writer.close() }
        #expect(try Self.lastByte(url) == 0x0A)   // the torn tail is cut off even though the disk is full
        var options = WithdrawalServerOptions()
        options.requestsPerMinute = 6000
        options.burst = 1000
        let app = WithdrawalServer.makeApplication(options: options, journal: writer)
        let receipts = try await app.test(.router) { client -> [String] in
            var receipts: [String] = []
            // Requests until the disk cannot take one more.
            var refused = false
            for _ in 0..<100 where !refused {
                try await client.execute(uri: "/withdrawals", method: .post, headers: [.contentType: "text/plain"],
                                         body: ByteBuffer(string: WithdrawalServerTests.token())) { response in
                    if response.status == .accepted {
                        let object = try JSONSerialization.jsonObject(with: bodyData(response.body)) as? [String: String]
                        receipts.append(object?["receipt"] ?? "")
                    } else {
                        #expect(response.status == .serviceUnavailable)
                        refused = true
                    }
                }
            }
            #expect(refused)
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .serviceUnavailable) }
            fs.free()
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/withdrawals", method: .post, headers: [.contentType: "text/plain"],
                                     body: ByteBuffer(string: WithdrawalServerTests.token())) { response in
                #expect(response.status == .accepted)
                let object = try JSONSerialization.jsonObject(with: bodyData(response.body)) as? [String: String]
                receipts.append(object?["receipt"] ?? "")
            }
            return receipts
        }
        let read = try WithdrawalJournal.read(url, from: 0)
        #expect(read.records.allSatisfy { $0.record != nil })
        #expect(read.records.compactMap(\.record?.receipt) == [Self.record(1).receipt] + receipts)
    }
}
