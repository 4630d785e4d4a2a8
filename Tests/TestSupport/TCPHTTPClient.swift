import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A test's HTTP/1.1 client over TCP to 127.0.0.1: one request per connection (`Connection: close`).
public struct TCPHTTPClient: Sendable {
    public let port: Int

    public init(port: Int) { self.port = port }

    /// The port a daemon's ready line gives after `marker` (e.g. "metrics on 127.0.0.1:").
    public static func port(in log: String, after marker: String) -> Int? {
        guard let r = log.range(of: marker) else { return nil }
        return Int(log[r.upperBound...].prefix { $0.isNumber })
    }

    public func request(_ method: String, _ target: String, body: String? = nil,
                        headers: [String: String] = [:]) throws -> UnixHTTPClient.Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else { throw TestDaemonError(description: "connect 127.0.0.1:\(port) failed") }
        var tv = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        UnixHTTPClient.write(fd, Array((head + "\r\n" + (body ?? "")).utf8))
        return try UnixHTTPClient.parse(UnixHTTPClient.readAll(fd))
    }
}
