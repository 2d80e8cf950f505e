import Foundation

/// A tiny blocking TCP client for 127.0.0.1, for tests that need what an HTTP client will not do:
/// idle connections, headers sent a byte at a time, raw garbage.
enum RawTCP {
    /// A connected socket with send and receive timeouts, or nil.
    static func connect(port: Int, timeout: Double = 5) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        if !ok {
            close(fd)
            return nil
        }
        return fd
    }

    @discardableResult
    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    @discardableResult
    static func send(_ fd: Int32, _ text: String) -> Bool { send(fd, Array(text.utf8)) }

    /// Reads one response (head and a Content-Length body), or until the peer closes or the receive
    /// timeout passes. The status is nil when no status line arrived.
    static func readResponse(_ fd: Int32) -> (status: Int?, body: String) {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let headEnd = data.range(of: Data("\r\n\r\n".utf8)) {
                let head = String(decoding: data[..<headEnd.lowerBound], as: UTF8.self)
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if data.count - headEnd.upperBound >= length {
                    let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) }
                    return (status, String(decoding: data[headEnd.upperBound...], as: UTF8.self))
                }
            }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: data, as: UTF8.self)
        let status = text.hasPrefix("HTTP/1.1 ") ? Int(text.dropFirst(9).prefix(3)) : nil
        return (status, text)
    }

    /// One request on a fresh connection.
    static func request(port: Int, _ text: String, timeout: Double = 5) -> (status: Int?, body: String) {
        guard let fd = connect(port: port, timeout: timeout) else { return (nil, "") }
        defer { close(fd) }
        send(fd, text)
        return readResponse(fd)
    }

    static func post(port: Int, token: String, timeout: Double = 5) -> (status: Int?, body: String) {
        let body = "{\"token\":\"\(token)\"}"
        return request(port: port, "POST /withdrawals HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                       + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)", timeout: timeout)
    }

    /// Whether the peer closes the connection within `seconds` (reading and discarding anything sent).
    static func closes(_ fd: Int32, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000)))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { return false }
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n == 0 { return true }
            if n < 0 && errno != EAGAIN && errno != EINTR { return true }   // reset
        }
        return false
    }
}
