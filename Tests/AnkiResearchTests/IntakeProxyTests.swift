import Foundation
import Testing

@testable import AnkiResearch

/// nginx (Debian's) terminating TLS in front of `research serve`, with a CA the test makes with openssl,
/// as README's researcher guide shows it.
enum Proxy {
    static let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let openssl = ["/usr/bin/openssl", "/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func run(_ tool: String, _ arguments: [String], in folder: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failed(description: "\(tool) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
    }

    struct Failed: Error, CustomStringConvertible { let description: String }

    /// A CA (ca.pem) and a certificate for 127.0.0.1 and localhost signed by it (server.pem, server.key).
    static func makeCertificates(in folder: URL) throws {
        let tool = openssl!
        try run(tool, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                       "-subj", "/CN=anki-submit test CA"], in: folder)
        try run(tool, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                       "-subj", "/CN=127.0.0.1"], in: folder)
        try "subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n"
            .write(to: folder.appendingPathComponent("san.ext"), atomically: true, encoding: .utf8)
        try run(tool, ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                       "-out", "server.pem", "-days", "2", "-extfile", "san.ext"], in: folder)
    }

    /// The configuration README shows, with this test's folder, ports and certificate.
    static func configuration(folder: URL, port: Int, upstream: Int) -> String {
        let f = folder.path
        return """
            daemon off;
            master_process off;
            pid \(f)/nginx.pid;
            error_log \(f)/error.log warn;
            events { worker_connections 128; }
            http {
              access_log off;
              client_body_temp_path \(f)/body;
              proxy_temp_path \(f)/proxy;
              fastcgi_temp_path \(f)/fastcgi;
              uwsgi_temp_path \(f)/uwsgi;
              scgi_temp_path \(f)/scgi;
              server {
                listen 127.0.0.1:\(port) ssl;
                ssl_certificate \(f)/server.pem;
                ssl_certificate_key \(f)/server.key;
                ssl_protocols TLSv1.2 TLSv1.3;
                client_max_body_size 256m;
                location / {
                  proxy_pass http://127.0.0.1:\(upstream);
                  proxy_http_version 1.1;
                  proxy_request_buffering off;
                  proxy_set_header Host $host;
                  proxy_set_header X-Forwarded-For $remote_addr;
                  proxy_read_timeout 300s;
                }
              }
            }
            """
    }

    /// nginx in the foreground; stops with the returned process.
    static func start(folder: URL, upstream: Int) throws -> (Process, Int) {
        for _ in 0..<5 {
            let port = Send.closedPort()
            try configuration(folder: folder, port: port, upstream: upstream)
                .write(to: folder.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: nginx!)
            process.arguments = ["-p", folder.path, "-c", folder.appendingPathComponent("nginx.conf").path,
                                 "-e", folder.appendingPathComponent("error.log").path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Listening once a TCP connection succeeds.
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline && process.isRunning {
                if connects(port) { return (process, port) }
                usleep(50_000)
            }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        let log = (try? String(contentsOf: folder.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
        throw Failed(description: "nginx did not start: \(log)")
    }

    static func connects(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    static func stop(_ process: Process) {
        guard process.isRunning else { return }
        process.terminate()   // SIGTERM: nginx's fast shutdown
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

@Suite("research serve behind nginx with TLS", .serialized)
struct IntakeProxyTests {
    static let enabled = Proxy.nginx != nil && Proxy.openssl != nil && Intake.curl != nil
    static let skip: Comment = "nginx, openssl or curl is missing: `make test` installs them (apt packages nginx, openssl, curl)"

    @Test("prepare --send-to https://… --ca-file uploads through nginx; without the CA the certificate is refused (exit 48)",
          .enabled(if: enabled, skip), .timeLimit(.minutes(3)))
    func throughNginx() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let tls = ws.root.appendingPathComponent("tls")
        try FileManager.default.createDirectory(at: tls, withIntermediateDirectories: true)
        try Proxy.makeCertificates(in: tls)
        let spool = ws.root.appendingPathComponent("spool")
        let server = try Intake.Server(spool: spool, journal: ws.journal, extra: ["--trust-forwarded-for"])
        defer { server.stop() }
        let (nginx, port) = try Proxy.start(folder: tls, upstream: server.port)
        defer { Proxy.stop(nginx) }
        let address = "https://127.0.0.1:\(port)/submissions"
        let ca = tls.appendingPathComponent("ca.pem").path

        // Without the study's CA: the certificate cannot be verified, nothing is sent, the file stays.
        let untrusted = ws.root.appendingPathComponent("untrusted")
        let refused = try CLI.run(Send.prepareArguments(out: untrusted) + ["--send-to", address])
        #expect(refused.status == 48, "\(refused.stderr)")
        #expect(refused.stderr.contains("could not be verified") || refused.stderr.contains("TLS")
                || refused.stderr.contains("certificate"), "\(refused.stderr)")
        #expect(FileManager.default.fileExists(atPath: untrusted.appendingPathComponent("anki-submission.sqlite").path))
        #expect(Intake.names(spool).isEmpty)

        let out = ws.root.appendingPathComponent("out")
        let result = try CLI.run(Send.prepareArguments(out: out) + ["--send-to", address, "--ca-file", ca])
        #expect(result.status == 0, "\(result.stderr)")
        let sha = Intake.sha256(out.appendingPathComponent("anki-submission.sqlite"))
        #expect(Intake.names(spool) == ["\(sha).sqlite"])
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("anki-submission.receipt.json").path))

        // curl through the proxy: retry dedup and junk, as on loopback.
        let again = try Intake.post(address, file: out.appendingPathComponent("anki-submission.sqlite"), extra: ["--cacert", ca])
        #expect(again.status == 200)
        let junk = try Intake.post(address, data: Data(repeating: 1, count: 10_000), extra: ["--cacert", ca])
        #expect(junk.status == 422)
        #expect(Intake.names(spool) == ["\(sha).sqlite"])
    }
}
