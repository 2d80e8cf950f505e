import Foundation
import Testing

/// What `prepare` writes next to the participant's files: never through a link it did not make, never
/// readable by others, and nothing of a killed run left for good.
@Suite("Output files are safe", .serialized)
struct OutputSafetyTests {
    static let deck = CLI.generated.appendingPathComponent("berlin-latest.apkg")
    static let answers = ["--review", "none", "--timezone", "UTC", "--consent-public", "no", "--confirm-special-categories"]

    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    static func isLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    @Test("a link planted under the token's temporary name is not followed", arguments: [false, true])
    func tokenPartialLink(_ ownTokenFile: Bool) throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let out = cli.cwd.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let victim = cli.cwd.appendingPathComponent("victim.txt")
        try Data("precious\n".utf8).write(to: victim)
        chmod(victim.path, 0o644)
        let tokenFile = ownTokenFile ? cli.cwd.appendingPathComponent("my-token.txt")
            : out.appendingPathComponent("anki-submission-withdrawal-token.txt")
        let planted = tokenFile.deletingLastPathComponent().appendingPathComponent(".\(tokenFile.lastPathComponent).partial")
        #expect(symlink(victim.path, planted.path) == 0)
        let extra = ownTokenFile ? ["--token-file", tokenFile.path] : []
        let result = try cli.run(["prepare", Self.deck.path, "--out", out.path, "--json"] + Self.answers + extra)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOf: victim, encoding: .utf8) == "precious\n", "the link's target was overwritten")
        #expect(Self.mode(victim.path) == 0o644, "the link's target was chmodded")
        #expect(Self.isLink(planted.path), "a link the tool did not make is left alone")
        #expect(!Self.isLink(tokenFile.path))
        #expect(Self.mode(tokenFile.path) == 0o600)
        #expect(try String(contentsOf: tokenFile, encoding: .utf8).contains("withdrawal token"))
    }

    @Test("--token-file naming a folder is refused as an option, before anything is written")
    func tokenFileIsFolder() throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let folder = cli.cwd.appendingPathComponent("tokens")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let result = try cli.run(["prepare", Self.deck.path, "--out", "out", "--token-file", folder.path] + Self.answers)
        #expect(result.status == 44, "\(result.stderr)")
        #expect(result.stderr.contains("folder"))
        #expect(!result.stderr.contains("disk full"))
        #expect(result.leftInWorkingDirectory == ["tokens"])
        #expect(result.leftInTemp.isEmpty)
    }

    @Test("files a killed run left behind are swept on the next run; anything else stays")
    func sweep() throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let fm = FileManager.default
        let out = cli.cwd.appendingPathComponent("out")
        try fm.createDirectory(at: out, withIntermediateDirectories: true)
        let victim = cli.cwd.appendingPathComponent("victim.txt")
        try Data("precious\n".utf8).write(to: victim)
        let leftovers = [".anki-submission-1A2B3C4D.partial", ".anki-submission-1A2B3C4D.partial-wal",
                         ".anki-submission-1A2B3C4D.partial-shm", ".anki-submit-token-0F0F0F0F.partial"]
        var old = [timeval(tv_sec: time(nil) - 3 * 86400, tv_usec: 0), timeval(tv_sec: time(nil) - 3 * 86400, tv_usec: 0)]
        for name in leftovers {
            try Data("x".utf8).write(to: out.appendingPathComponent(name))
            chmod(out.appendingPathComponent(name).path, 0o644)
            #expect(utimes(out.appendingPathComponent(name).path, &old) == 0)
        }
        // Look-alikes the tool did not make: a link, a folder, and other names.
        #expect(symlink(victim.path, out.appendingPathComponent(".anki-submission-DEADBEEF.partial").path) == 0)
        try fm.createDirectory(at: out.appendingPathComponent(".anki-submission-00000000.partial"), withIntermediateDirectories: true)
        let keep = ["notes.partial", ".anki-submission-notes.partial", "anki-submission-1A2B3C4D.partial"]
        for name in keep { try Data("keep".utf8).write(to: out.appendingPathComponent(name)) }
        // A working folder of a run that died, one that is not ours (a link), and one made just now by
        // something else with the same look (too young to be judged abandoned).
        let stale = cli.temp.appendingPathComponent("anki-submit-Ab12Cd")
        try fm.createDirectory(at: stale, withIntermediateDirectories: true)
        chmod(stale.path, 0o700)
        try Data("copy".utf8).write(to: stale.appendingPathComponent("collection.anki2"))
        #expect(utimes(stale.path, &old) == 0)
        let elsewhere = cli.cwd.appendingPathComponent("elsewhere")
        try fm.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: elsewhere.appendingPathComponent("file"))
        #expect(symlink(elsewhere.path, cli.temp.appendingPathComponent("anki-submit-LnK123").path) == 0)
        let young = cli.temp.appendingPathComponent("anki-submit-Yo0ng1")
        try fm.createDirectory(at: young, withIntermediateDirectories: true)
        chmod(young.path, 0o700)

        let result = try cli.run(["prepare", Self.deck.path, "--out", out.path] + Self.answers)
        #expect(result.status == 0, "\(result.stderr)")
        for name in leftovers { #expect(!fm.fileExists(atPath: out.appendingPathComponent(name).path), "\(name) stayed") }
        #expect(Self.isLink(out.appendingPathComponent(".anki-submission-DEADBEEF.partial").path))
        #expect(fm.fileExists(atPath: out.appendingPathComponent(".anki-submission-00000000.partial").path))
        for name in keep { #expect(fm.fileExists(atPath: out.appendingPathComponent(name).path), "\(name) was removed") }
        #expect(try String(contentsOf: victim, encoding: .utf8) == "precious\n")
        #expect(!fm.fileExists(atPath: stale.path), "the dead run's working folder stayed")
        #expect(Self.isLink(cli.temp.appendingPathComponent("anki-submit-LnK123").path))
        #expect(fm.fileExists(atPath: elsewhere.appendingPathComponent("file").path))
        #expect(fm.fileExists(atPath: young.path))
    }

    @Test("after kill -9 mid-write, what is left is private and the next run removes it")
    func killedMidWrite() throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let out = cli.cwd.appendingPathComponent("out")
        let fm = FileManager.default
        var caught: [String: mode_t] = [:]
        for _ in 0..<5 where caught.isEmpty {
            let (process, _, _) = cli.process(["prepare", Self.deck.path, "--out", out.path] + Self.answers)
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning, Date() < deadline {
                let names = (try? fm.contentsOfDirectory(atPath: out.path)) ?? []
                if names.contains(where: { $0.hasSuffix(".partial-wal") }) {
                    kill(process.processIdentifier, SIGKILL)
                    break
                }
                usleep(2000)
            }
            process.waitUntilExit()
            guard process.terminationReason == .uncaughtSignal else {
                try? fm.removeItem(at: out)
                continue
            }
            for name in (try? fm.contentsOfDirectory(atPath: out.path)) ?? [] {
                caught[name] = Self.mode(out.appendingPathComponent(name).path)
            }
        }
        try #require(!caught.isEmpty, "could not stop a run while it wrote")
        for (name, mode) in caught { #expect(mode == 0o600, "\(name) is \(String(mode, radix: 8))") }
        #expect(!((try? fm.contentsOfDirectory(atPath: cli.temp.path)) ?? []).isEmpty, "the killed run's copy is in TMPDIR")
        sleep(3)  // files changed in the last seconds are never judged abandoned
        let next = try cli.run(["prepare", Self.deck.path, "--out", out.path, "--json"] + Self.answers)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.leftInTemp.isEmpty, "\(next.leftInTemp)")
        let left = try fm.contentsOfDirectory(atPath: out.path).sorted()
        #expect(left == ["anki-submission-withdrawal-token.txt", "anki-submission.sqlite"], "\(left)")
    }

    @Test("a collection's -wal that is a link is refused in plain words, not called a full disk")
    func walLink() throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let unzip = Process()
        unzip.executableURL = URL(fileURLWithPath: "/usr/bin/unzip")
        unzip.arguments = ["-q", CLI.generated.appendingPathComponent("berlin-legacy1.apkg").path, "collection.anki2",
                           "-d", cli.cwd.path]
        try unzip.run()
        unzip.waitUntilExit()
        try #require(unzip.terminationStatus == 0)
        let secret = cli.cwd.appendingPathComponent("secret")
        try Data(repeating: 7, count: 4096).write(to: secret)
        chmod(secret.path, 0o000)
        defer { chmod(secret.path, 0o600) }
        #expect(symlink(secret.path, cli.cwd.appendingPathComponent("collection.anki2-wal").path) == 0)
        let result = try cli.run(["inspect", cli.cwd.appendingPathComponent("collection.anki2").path])
        #expect(result.status == 13, "\(result.status) \(result.stderr)")
        #expect(result.stderr.contains("link"))
        #expect(!result.stderr.contains("disk full"))
        #expect(result.leftInTemp.isEmpty)
    }
}
