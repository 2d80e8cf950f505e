import Foundation
import Testing

/// The review page's protections, each checked against the real `prepare` process over HTTP (curl).
/// Every test fails if its protection is removed.
@Suite("Review page security", .serialized, .enabled(if: ReviewPage.curlAvailable, "needs curl (installed by make test)"))
struct ReviewPageSecurityTests {
    @Test("only the secret address answers; everything else gets 403")
    func secret() throws {
        let page = try ReviewPage.start()
        defer { page.stop() }
        #expect(try page.request(path: "/").status == 403)
        #expect(try page.request(path: "/favicon.ico").status == 403)
        #expect(try page.request(path: "/wrong-secret/").status == 403)
        #expect(try page.request(path: "/\(page.secret.dropLast())/").status == 403)
        #expect(try page.request(path: "/\(page.secret)/api/state").status == 200)
        #expect(try page.request(path: "/\(page.secret)/").status == 200)
    }

    @Test("a request for another host name (DNS rebinding) is refused")
    func host() throws {
        let page = try ReviewPage.start()
        defer { page.stop() }
        let answer = try page.request(path: "/\(page.secret)/api/state", headers: ["Host: attacker.example:\(page.port)"])
        #expect(answer.status == 403)
    }

    @Test("state-changing requests need the CSRF token and the page's own origin")
    func csrf() throws {
        let page = try ReviewPage.start()
        defer { page.stop() }
        let path = "/\(page.secret)/api/bulk"
        let body = #"{"filter": "all", "exclude": true}"#
        let origin = "Origin: http://127.0.0.1:\(page.port)"
        let json = "Content-Type: application/json"
        #expect(try page.request(path: path, method: "POST", body: body, headers: [json, origin]).status == 403)
        #expect(try page.request(path: path, method: "POST", body: body,
                                 headers: [json, origin, "X-CSRF-Token: wrong"]).status == 403)
        #expect(try page.request(path: path, method: "POST", body: body,
                                 headers: [json, "Origin: http://evil.example", "X-CSRF-Token: \(page.csrf)"]).status == 403)
        #expect(try page.request(path: path, method: "POST", body: body,
                                 headers: [json, "X-CSRF-Token: \(page.csrf)"]).status == 403, "no origin at all")
        #expect(try page.request(path: path, method: "POST", body: body,
                                 headers: ["Content-Type: text/plain", origin, "X-CSRF-Token: \(page.csrf)"]).status == 415)
        // Nothing was excluded by the refused requests; the real page's request works.
        #expect(try page.request(path: "/\(page.secret)/api/state").body.contains("\"notes_excluded\":0"))
        let accepted = try page.request(path: path, method: "POST", body: body, headers: [json, origin, "X-CSRF-Token: \(page.csrf)"])
        #expect(accepted.status == 200)
        #expect(accepted.body.contains("\"notes_excluded\":120"))
    }

    @Test("every response carries a strict Content-Security-Policy and no inline script is on the page")
    func contentSecurityPolicy() throws {
        let page = try ReviewPage.start()
        defer { page.stop() }
        for path in ["/\(page.secret)/", "/\(page.secret)/app.js", "/\(page.secret)/api/notes", "/nope"] {
            let answer = try page.request(path: path)
            let csp = answer.header("content-security-policy") ?? ""
            #expect(csp.contains("default-src 'none'"), "\(path)")
            #expect(csp.contains("script-src 'self';"), "\(path)")
            #expect(!csp.contains("unsafe-eval"))
            #expect(csp.contains("frame-ancestors 'none'"))
            #expect(csp.contains("connect-src 'self'"))
            #expect(answer.header("x-content-type-options") == "nosniff")
            #expect(answer.header("referrer-policy") == "no-referrer")
        }
        let html = try page.request(path: "/\(page.secret)/").body
        #expect(!html.contains("<script>"), "no inline script")
        #expect(html.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil, "no inline event handler")
        // No external resource anywhere in the page, its script or its style sheet.
        for path in ["/\(page.secret)/", "/\(page.secret)/app.js", "/\(page.secret)/app.css"] {
            let text = try page.request(path: path).body
            #expect(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"), "\(path)")
        }
    }

    @Test("card fields with scripts, handlers and remote images come out sanitized from the API")
    func sanitizedNotes() throws {
        let page = try ReviewPage.start(deck: CLI.root.appendingPathComponent("Tests/Fixtures/review/hostile-html.apkg"))
        defer { page.stop() }
        let body = try page.request(path: "/\(page.secret)/api/notes?size=50").body
        for forbidden in ["<script", "onerror", "onload", "javascript:", "<img", "<iframe", "<object", "<svg",
                          "127.0.0.1:47999", "@import", "url("] {
            #expect(!body.contains(forbidden), "\(forbidden) reached the page")
        }
        #expect(body.contains("media-placeholder"))
    }

    @Test("oversized requests are refused")
    func bodyLimit() throws {
        let page = try ReviewPage.start()
        defer { page.stop() }
        let big = String(repeating: "x", count: 5 << 20)
        let answer = try page.request(path: "/\(page.secret)/api/decisions", method: "POST", body: big,
                                      headers: ["Content-Type: application/json", "Origin: http://127.0.0.1:\(page.port)",
                                                "X-CSRF-Token: \(page.csrf)"])
        #expect(answer.status == 413)
    }

    @Test("the server listens on 127.0.0.1 only")
    func loopbackOnly() throws {
        let page = try ReviewPage.start()
        defer { page.stop() }
        // Every address of this machine that is not loopback must refuse the connection.
        let addresses = ReviewPage.otherAddresses()
        for address in addresses {
            let answer = try page.request(path: "/\(page.secret)/", host: address)
            #expect(answer.status == 0, "answered on \(address)")
        }
        #expect(try page.request(path: "/\(page.secret)/").status == 200)
    }

    @Test("decisions saved from the page load back, and the same file works with --decisions")
    func decisionsRoundTrip() throws {
        let page = try ReviewPage.start()
        defer { page.stop() }
        let headers = ["Content-Type: application/json", "Origin: http://127.0.0.1:\(page.port)", "X-CSRF-Token: \(page.csrf)"]
        #expect(try page.request(path: "/\(page.secret)/api/bulk", method: "POST",
                                 body: #"{"filter": "flagged", "exclude": true}"#, headers: headers).status == 200)
        #expect(try page.request(path: "/\(page.secret)/api/survey", method: "POST",
                                 body: #"{"languages": ["de"], "domain": "travel", "consent_public": false, "special_confirmed": true}"#,
                                 headers: headers).status == 200)
        let saved = try page.request(path: "/\(page.secret)/api/decisions")
        #expect(saved.status == 200)
        #expect(saved.header("content-disposition")?.contains("attachment") == true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(saved.body.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "anki-submit-decisions")
        let excluded = (object["excluded_notes"] as? [Any])?.count ?? 0
        #expect(excluded > 0)
        // Everything included again, then the saved file loaded back.
        #expect(try page.request(path: "/\(page.secret)/api/bulk", method: "POST", body: #"{"exclude": false}"#,
                                 headers: headers).body.contains("\"notes_excluded\":0"))
        let loaded = try page.request(path: "/\(page.secret)/api/decisions", method: "POST", body: saved.body, headers: headers)
        #expect(loaded.status == 200)
        #expect(loaded.body.contains("\"notes_excluded\":\(excluded)"))
        // The same file drives the scripted path.
        let file = page.cli.cwd.appendingPathComponent("decisions.json")
        try Data(saved.body.utf8).write(to: file)
        let scripted = try page.cli.run(["prepare", CLI.generated.appendingPathComponent("berlin-latest.apkg").path,
                                         "--review", "none", "--decisions", file.path, "--out", "scripted",
                                         "--timezone", "UTC", "--json"])
        #expect(scripted.status == 0, "\(scripted.stderr)")
    }

    @Test("Ctrl-C while the page is open writes nothing and removes the temporary copy")
    func interrupt() throws {
        let page = try ReviewPage.start()
        defer { page.stop() }
        kill(page.process.processIdentifier, SIGINT)
        page.process.waitUntilExit()
        #expect(page.process.terminationStatus == 130)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: page.cli.temp.path)) ?? []).isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(
            atPath: page.cli.cwd.appendingPathComponent("out").path)) ?? []).isEmpty)
    }

    @Test("quitting on the page writes nothing and exits 45; bad decisions files are refused")
    func quit() throws {
        let page = try ReviewPage.start()
        let headers = ["Content-Type: application/json", "Origin: http://127.0.0.1:\(page.port)", "X-CSRF-Token: \(page.csrf)"]
        let refused = try page.request(path: "/\(page.secret)/api/decisions", method: "POST",
                                       body: #"{"excluded_notes": [1]}"#, headers: headers)
        #expect(refused.status == 400)
        #expect(try page.request(path: "/\(page.secret)/api/quit", method: "POST", body: "{}", headers: headers).status == 200)
        page.process.waitUntilExit()
        #expect(page.process.terminationStatus == 45)
        let written = (try? FileManager.default.contentsOfDirectory(atPath: page.cli.cwd.appendingPathComponent("out").path)) ?? []
        #expect(written.isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: page.cli.temp.path)) ?? []).isEmpty)
        page.cli.cleanUp()
    }
}

/// The whole review in headless Chromium: Tests/Browser/review_e2e.py (Selenium, Debian packages).
@Suite("Review page in a real browser", .enabled(if: ReviewPage.browserAvailable,
                                                   "needs chromium, chromium-driver and python3-selenium (make test installs them)"))
struct ReviewPageBrowserTests {
    @Test("exclude a flagged note, remove a tag, confirm, answer, submit; hostile HTML neither runs nor fetches")
    func endToEnd() throws {
        let out = CLI.root.appendingPathComponent(".build/test-output/review-browser")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [CLI.root.appendingPathComponent("Tests/Browser/review_e2e.py").path,
                             "--bin", CLI.binary.path, "--out", out.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let failed = output.split(separator: "\n").filter { $0.hasPrefix("FAIL") || $0.contains("Error") || $0.contains("Exception") }
        #expect(process.terminationStatus == 0, "browser test failed:\n\(failed.joined(separator: "\n"))\n\(output.suffix(2000))")
    }

    @Test("a card's CSS (:host fixed/sticky/absolute, !important, huge, negative margins, transform, ::before) stays in its box")
    func cardContainment() throws {
        let out = CLI.root.appendingPathComponent(".build/test-output/card-containment")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [CLI.root.appendingPathComponent("Tests/Browser/card_containment.py").path,
                             "--bin", CLI.binary.path, "--out", out.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let failed = output.split(separator: "\n").filter { $0.hasPrefix("FAIL") || $0.contains("Error") || $0.contains("Exception") }
        #expect(process.terminationStatus == 0, "browser test failed:\n\(failed.joined(separator: "\n"))\n\(output.suffix(2000))")
    }
}

/// A running `prepare` with its review page, found through the address it prints.
final class ReviewPage: @unchecked Sendable {
    let cli: CLI
    let process: Process
    let port: Int
    let secret: String
    let csrf: String

    static let curlAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")
    static let browserAvailable = ["/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/python3",
                                   "/usr/lib/python3/dist-packages/selenium/__init__.py"]
        .allSatisfy { FileManager.default.fileExists(atPath: $0) }

    struct Answer {
        var status: Int
        var headers: [String]
        var body: String
        func header(_ name: String) -> String? {
            headers.first { $0.lowercased().hasPrefix(name + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
    }

    private init(cli: CLI, process: Process, port: Int, secret: String, csrf: String) {
        self.cli = cli
        self.process = process
        self.port = port
        self.secret = secret
        self.csrf = csrf
    }

    /// `fileLimit`: the page's process runs under `ulimit -n fileLimit`.
    static func start(deck: URL = CLI.generated.appendingPathComponent("berlin-latest.apkg"),
                      fileLimit: Int? = nil) throws -> ReviewPage {
        let cli = try CLI()
        let (process, out, _) = cli.process(["prepare", deck.path, "--no-browser", "--out", "out", "--timezone", "UTC"])
        if let fileLimit {
            process.arguments = ["-c", "ulimit -n \(fileLimit) && exec \"$0\" \"$@\"", CLI.binary.path] + (process.arguments ?? [])
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
        }
        try process.run()
        var text = ""
        let handle = out.fileHandleForReading
        while !text.contains("\n"), process.isRunning || text.isEmpty {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Review page: http://127.0.0.1:") }) else {
            process.terminate()
            throw ReviewPageError.noAddress(text)
        }
        let address = line.dropFirst("Review page: http://127.0.0.1:".count)
        let parts = address.split(separator: "/")
        guard parts.count >= 2, let port = Int(parts[0]) else { throw ReviewPageError.noAddress(String(line)) }
        let secret = String(parts[1])
        let page = ReviewPage(cli: cli, process: process, port: port, secret: secret, csrf: "")
        let html = try page.request(path: "/\(secret)/").body
        guard let range = html.range(of: #"name="csrf-token" content=""#),
              let end = html[range.upperBound...].firstIndex(of: "\"") else { throw ReviewPageError.noAddress("no CSRF token") }
        return ReviewPage(cli: cli, process: process, port: port, secret: secret,
                          csrf: String(html[range.upperBound..<end]))
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        cli.cleanUp()
    }

    /// One request with curl; status 0 when no connection could be made.
    func request(path: String, method: String = "GET", body: String? = nil, headers: [String] = [],
                 host: String = "127.0.0.1") throws -> Answer {
        let dir = cli.temp.deletingLastPathComponent()
        let headerFile = dir.appendingPathComponent("headers-\(UUID().uuidString)")
        let bodyFile = dir.appendingPathComponent("body-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: headerFile)
            try? FileManager.default.removeItem(at: bodyFile)
        }
        var arguments = ["-s", "-g", "--max-time", "20", "-X", method, "-D", headerFile.path, "-o", bodyFile.path,
                         "-w", "%{http_code}"]
        for header in headers { arguments += ["-H", header] }
        if let body {
            let payload = dir.appendingPathComponent("payload-\(UUID().uuidString)")
            try Data(body.utf8).write(to: payload)
            arguments += ["--data-binary", "@" + payload.path]
        }
        arguments.append("http://\(host):\(port)\(path)")
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = arguments
        let out = Pipe()
        curl.standardOutput = out
        curl.standardError = FileHandle.nullDevice
        try curl.run()
        let code = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        let headerText = (try? String(contentsOf: headerFile, encoding: .utf8)) ?? ""
        let bodyText = (try? String(contentsOf: bodyFile, encoding: .utf8)) ?? ""
        return Answer(status: Int(code) ?? 0, headers: headerText.components(separatedBy: "\r\n"), body: bodyText)
    }

    /// This machine's IPv4 addresses other than loopback.
    static func otherAddresses() -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "hostname -I 2>/dev/null || true"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try? process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { $0.contains(".") && !$0.hasPrefix("127.") }
    }
}

enum ReviewPageError: Error { case noAddress(String) }
