import Foundation
import Glibc

/// A response as the test client read it off the socket.
struct TestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

struct ClientError: Error, CustomStringConvertible {
    let description: String
}

/// A blocking HTTP/1.1 client on a raw socket: writes bytes exactly as given, reads responses (Content-Length,
/// chunked or close-delimited) with a receive timeout so a broken server fails the test instead of hanging it.
final class RawClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(unixPath: String, timeout: Int = 20) throws {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in unixPath.utf8.enumerated() { raw[i] = byte }
        }
        fd = try Self.connected(AF_UNIX, to: &address, name: unixPath)
        setReceiveTimeout(seconds: timeout)
    }

    /// `from`: the loopback source address to bind (127.0.0.0/8 is all local), for per-address tests.
    init(port: Int, from source: String? = nil, timeout: Int = 20) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        fd = try Self.connected(AF_INET, to: &address, name: "127.0.0.1:\(port)", source: source)
        setReceiveTimeout(seconds: timeout)
    }

    /// A blocking stream socket of `family` connected to `address` (a sockaddr_un or sockaddr_in).
    private static func connected<Address>(_ family: Int32, to address: inout Address, name: String,
                                           source: String? = nil) throws -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket: errno \(errno)") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                Glibc.close(fd)
                throw ClientError(description: "bind \(source): errno \(errno)")
            }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<Address>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw ClientError(description: "connect \(name): \(String(cString: strerror(code)))")
        }
        return fd
    }

    deinit { close() }

    private var closed = false

    func close() {
        if !closed { Glibc.close(fd) }
        closed = true
    }

    private func setReceiveTimeout(seconds: Int) {
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Shrinks the kernel receive buffer (a client that reads slowly fills it sooner).
    func setSmallReceiveBuffer() {
        var size: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    func write(_ text: String) throws { try write(Array(text.utf8)) }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClientError(description: "send: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Sends `GET target` (HTTP/1.1, plus any `headers` lines) and reads the response.
    func get(_ target: String, headers: String = "") throws -> TestResponse {
        try write("GET \(target) HTTP/1.1\r\nHost: lorad\r\n\(headers)\r\n")
        return try readResponse()
    }

    /// Reads more into the buffer; false at end of stream (or reset).
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer += chunk[0..<n]
                return true
            }
            if n == 0 { return false }
            switch errno {
            case EINTR: continue
            case EAGAIN: throw ClientError(description: "timed out waiting for the server")
            case ECONNRESET: return false
            default: throw ClientError(description: "recv: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func readLine() throws -> String {
        while true {
            if let lf = buffer.firstIndex(of: 10) {
                let end = lf > 0 && buffer[lf - 1] == 13 ? lf - 1 : lf
                let line = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(lf + 1)
                return line
            }
            guard try fill() else { throw ClientError(description: "connection closed mid-line: \(buffer.count) bytes") }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw ClientError(description: "connection closed with \(buffer.count)/\(count)") }
        }
        let bytes = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return bytes
    }

    /// Status line and headers.
    func readHead() throws -> (status: Int, headers: [(String, String)]) {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ClientError(description: "bad status line \"\(statusLine)\"")
        }
        var headers: [(String, String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw ClientError(description: "bad header \(line)") }
            headers.append((String(line[..<colon]),
                            line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return (status, headers)
    }

    /// One chunk of a chunked body; empty for the last chunk (its trailers are read too).
    func readChunk() throws -> [UInt8] {
        let sizeLine = try readLine()
        guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
            throw ClientError(description: "bad chunk size line \"\(sizeLine)\"")
        }
        if size == 0 {
            while try !readLine().isEmpty {}
            return []
        }
        let data = try readExactly(size)
        guard try readLine().isEmpty else { throw ClientError(description: "chunk not followed by CRLF") }
        return data
    }

    /// A whole response. `head`: the request was HEAD (no body follows whatever the headers say).
    func readResponse(head: Bool = false) throws -> TestResponse {
        let (status, headers) = try readHead()
        var response = TestResponse(status: status, headers: headers, body: [])
        if head || (100..<200).contains(status) || status == 204 || status == 304 { return response }
        if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            while true {
                let chunk = try readChunk()
                if chunk.isEmpty { break }
                response.body += chunk
            }
        } else if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            response.body = try readExactly(length)
        } else {
            response.body = try readToEnd()
        }
        return response
    }

    /// Everything until the server closes the connection.
    func readToEnd() throws -> [UInt8] {
        while try fill() {}
        defer { buffer = [] }
        return buffer
    }

    /// True when the server closed the connection without sending anything more.
    func serverClosed() -> Bool {
        (try? readToEnd())?.isEmpty ?? false
    }
}
