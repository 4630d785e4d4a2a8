import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a call to the daemon failed before it answered: loractl exits 3 on these.
struct ConnectError: Error, CustomStringConvertible {
    let description: String
}

/// One HTTP response from the daemon.
struct DaemonResponse {
    var status: Int
    var headers: [String: String]   // lower-cased names
    var body: [UInt8]

    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }
}

/// A minimal HTTP/1.1 client over the daemon's Unix socket: one request per connection (`Connection: close`),
/// whole responses or server-sent events. Bounded reads: a misbehaving peer cannot make it buffer without limit.
final class DaemonClient {
    let socketPath: String
    let token: String?
    static let maxResponseBytes = 256 << 20

    init(socketPath: String, token: String?) {
        self.socketPath = socketPath
        self.token = token
    }

    /// The connected descriptor of the request in flight (closed to cancel a stream from a signal handler).
    nonisolated(unsafe) static var activeDescriptor: Int32 = -1

    private func connectSocket() throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ConnectError(description: "cannot create a socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw ConnectError(description: "socket path \(socketPath) is too long (\(bytes.count) bytes)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if result != 0 {
            let code = errno
            close(fd)
            switch code {
            case ENOENT, ECONNREFUSED:
                throw ConnectError(description: "cannot connect to \(socketPath): is lorad running? start it with `lorad serve`")
            case EACCES, EPERM:
                throw ConnectError(description: "permission denied on \(socketPath): your user may not use this daemon (ask its operator to add you to the socket's group)")
            default:
                throw ConnectError(description: "cannot connect to \(socketPath): \(String(cString: strerror(code)))")
            }
        }
        var timeout = timeval(tv_sec: 600, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    private func requestBytes(_ method: String, _ path: String, body: [UInt8]?) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUser-Agent: loractl\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        return Array((head + "\r\n").utf8) + (body ?? [])
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConnectError(description: "the daemon closed the connection: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// A JSON object body with `raw` members added as given (JSON text kept byte for byte, e.g. a schema whose
    /// member order matters; JSONSerialization would reorder it).
    static func encode(_ json: Any, raw: [(String, String)]) throws -> [UInt8] {
        var body = Array(try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]))
        for (key, value) in raw where body.last == 0x7D {
            body.removeLast()
            body += Array(((body.count > 1 ? "," : "") + "\"\(key)\":\(value)}").utf8)
        }
        return body
    }

    /// Writes a request. When the daemon closed the connection first (it refused it: too many connections,
    /// shutting down), its answer is usually waiting to be read: that answer is returned instead of "Broken pipe".
    private func sendRequest(_ fd: Int32, _ bytes: [UInt8]) throws -> DaemonResponse? {
        do {
            try writeAll(fd, bytes)
            return nil
        } catch let failure as ConnectError {
            var reader = ResponseReader(fd: fd)
            guard let head = try? reader.readHead() else { throw failure }
            return DaemonResponse(status: head.status, headers: head.headers, body: (try? reader.readBody(head)) ?? [])
        }
    }

    /// Sends one request and returns the whole response.
    func call(_ method: String, _ path: String, json: Any? = nil, raw: [(String, String)] = []) throws -> DaemonResponse {
        let body = try json.map { try Self.encode($0, raw: raw) }
        let fd = try connectSocket()
        defer { close(fd) }
        if let refusal = try sendRequest(fd, requestBytes(method, path, body: body)) { return refusal }
        var reader = ResponseReader(fd: fd)
        let head = try reader.readHead()
        let payload = try reader.readBody(head)
        return DaemonResponse(status: head.status, headers: head.headers, body: payload)
    }

    /// Sends one request whose answer may be an event stream: `onEvent` gets each `data:` payload as it arrives.
    /// A non-stream answer (an error) is returned whole, with `onEvent` never called.
    func stream(_ method: String, _ path: String, json: Any, raw: [(String, String)] = [],
                onEvent: (String) throws -> Void) throws -> DaemonResponse {
        let body = try Self.encode(json, raw: raw)
        let fd = try connectSocket()
        Self.activeDescriptor = fd
        defer {
            Self.activeDescriptor = -1
            close(fd)
        }
        if let refusal = try sendRequest(fd, requestBytes(method, path, body: body)) { return refusal }
        var reader = ResponseReader(fd: fd)
        let head = try reader.readHead()
        guard head.status == 200, head.headers["content-type"]?.hasPrefix("text/event-stream") == true else {
            return DaemonResponse(status: head.status, headers: head.headers, body: try reader.readBody(head))
        }
        var pending: [UInt8] = []
        try reader.forEachBodyPiece(head) { piece in
            pending += piece
            // Events end with a blank line.
            while let end = Self.eventEnd(pending) {
                let event = String(decoding: pending[..<end.start], as: UTF8.self)
                pending.removeFirst(end.next)
                for line in event.split(separator: "\n") where line.hasPrefix("data:") {
                    try onEvent(line.dropFirst(5).trimmingCharacters(in: .whitespaces))
                }
            }
        }
        return DaemonResponse(status: head.status, headers: head.headers, body: [])
    }

    private static func eventEnd(_ bytes: [UInt8]) -> (start: Int, next: Int)? {
        guard bytes.count >= 2 else { return nil }
        for i in 0..<(bytes.count - 1) where bytes[i] == 10 && bytes[i + 1] == 10 { return (i, i + 2) }
        return nil
    }
}

/// Reads an HTTP/1.1 response from a socket: the head, then a Content-Length, chunked or close-delimited body.
struct ResponseReader {
    struct Head {
        var status: Int
        var headers: [String: String]
    }

    let fd: Int32
    private var buffer: [UInt8] = []
    private var closed = false

    init(fd: Int32) { self.fd = fd }

    private mutating func fill() throws -> Bool {
        if closed { return false }
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                throw ConnectError(description: "lost the connection to the daemon: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                closed = true
                return false
            }
            buffer += chunk[0..<n]
            guard buffer.count <= DaemonClient.maxResponseBytes else {
                throw ConnectError(description: "the daemon's response is larger than \(DaemonClient.maxResponseBytes) bytes")
            }
            return true
        }
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for i in 0...(buffer.count - pattern.count) where buffer[i] == pattern[0] {
            if Array(buffer[i..<(i + pattern.count)]) == pattern { return i }
        }
        return nil
    }

    mutating func readHead() throws -> Head {
        while true {
            if let end = find([13, 10, 13, 10]) {
                let text = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                let lines = text.components(separatedBy: "\r\n")
                let parts = lines[0].split(separator: " ", maxSplits: 2)
                guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
                    throw ConnectError(description: "the daemon sent a malformed status line: \(lines[0].prefix(80))")
                }
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                if status == 100 { continue }   // 100 Continue: the real head follows
                return Head(status: status, headers: headers)
            }
            guard try fill() else { throw ConnectError(description: "the daemon closed the connection without answering") }
        }
    }

    mutating func readBody(_ head: Head) throws -> [UInt8] {
        var out: [UInt8] = []
        try forEachBodyPiece(head) { out += $0 }
        return out
    }

    /// Calls `body` with each piece of the response body as it arrives.
    mutating func forEachBodyPiece(_ head: Head, _ body: ([UInt8]) throws -> Void) throws {
        if head.headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                var lineEnd = find([13, 10])
                while lineEnd == nil {
                    guard try fill() else { throw ConnectError(description: "the daemon's response ended mid-chunk") }
                    lineEnd = find([13, 10])
                }
                let sizeText = String(decoding: buffer[..<lineEnd!], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                    throw ConnectError(description: "the daemon sent a malformed chunk size")
                }
                buffer.removeFirst(lineEnd! + 2)
                if size == 0 { return }
                while buffer.count < size + 2 {
                    guard try fill() else { throw ConnectError(description: "the daemon's response ended mid-chunk") }
                }
                try body(Array(buffer[..<size]))
                buffer.removeFirst(size + 2)
            }
        }
        if let lengthText = head.headers["content-length"], let length = Int(lengthText) {
            guard length <= DaemonClient.maxResponseBytes else {
                throw ConnectError(description: "the daemon's response is \(length) bytes, over the limit")
            }
            while buffer.count < length {
                guard try fill() else { throw ConnectError(description: "the daemon's response was cut short") }
            }
            try body(Array(buffer[..<length]))
            return
        }
        // Close-delimited.
        repeat {
            if !buffer.isEmpty {
                try body(buffer)
                buffer.removeAll()
            }
        } while try fill()
    }
}
