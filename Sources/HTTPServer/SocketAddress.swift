#if canImport(Glibc)
import Glibc
#endif

/// Socket addresses made from user strings (Unix socket paths, IP literals) and printed back as "host:port".
enum SocketAddress {
    /// sun_path holds 108 bytes including the terminating NUL.
    static let maxUnixPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// Calls `body` with a sockaddr_un for `path`. An `abstract` name gets a leading NUL and no terminator.
    static func withUnixAddress<R>(_ path: String, abstract: Bool = false,
                                   _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) throws -> R {
        let bytes = Array(path.utf8)
        let room = maxUnixPathBytes   // a path + NUL, or NUL + an abstract name, within sun_path
        guard !bytes.contains(0) else {
            throw HTTPServerError(.invalidAddress, "socket path \(path) contains a NUL byte")
        }
        guard !bytes.isEmpty, bytes.count <= room else {
            throw HTTPServerError(.invalidAddress,
                                  "socket path \(path) is \(bytes.count) bytes; the limit is 1...\(maxUnixPathBytes)")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let offset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        let length: Int
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            if abstract {
                raw[0] = 0
                for (i, b) in bytes.enumerated() { raw[i + 1] = b }
            } else {
                for (i, b) in bytes.enumerated() { raw[i] = b }
                raw[bytes.count] = 0
            }
        }
        length = abstract ? offset + 1 + bytes.count : offset + bytes.count + 1
        return try withUnsafePointer(to: &address) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(length)) }
        }
    }

    /// An IPv4/IPv6 literal (brackets allowed around IPv6) or `localhost` (127.0.0.1) with a port.
    static func ip(host: String, port: Int) throws -> (storage: sockaddr_storage, length: socklen_t) {
        guard (0...65535).contains(port) else {
            throw HTTPServerError(.invalidAddress, "port \(port) is outside 0...65535")
        }
        var name = host
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name == "localhost" { name = "127.0.0.1" }
        var storage = sockaddr_storage()
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr = v4
            withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: &address) { dst.copyMemory(from: $0) } }
            return (storage, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            address.sin6_addr = v6
            withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: &address) { dst.copyMemory(from: $0) } }
            return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
        throw HTTPServerError(.invalidAddress,
                              "listen address \"\(host)\" is not an IPv4/IPv6 literal or localhost")
    }

    /// "a.b.c.d:port", "[v6]:port", or nil for other families.
    static func describe(_ storage: sockaddr_storage) -> String? {
        var copy = storage
        return withUnsafePointer(to: &copy) { raw -> String? in
            switch Int32(storage.ss_family) {
            case AF_INET:
                return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                    var address = p.pointee.sin_addr
                    var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                    guard inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil else { return nil }
                    return "\(string(text)):\(UInt16(bigEndian: p.pointee.sin_port))"
                }
            case AF_INET6:
                return raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    var address = p.pointee.sin6_addr
                    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                    guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return nil }
                    return "[\(string(text))]:\(UInt16(bigEndian: p.pointee.sin6_port))"
                }
            default:
                return nil
            }
        }
    }

    /// The local address of a socket (getsockname).
    static func local(of fd: Int32) -> sockaddr_storage? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let (result, _) = retryingEINTR {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
        }
        return result == 0 ? storage : nil
    }

    /// The port of a bound IPv4/IPv6 socket.
    static func port(of storage: sockaddr_storage) -> Int {
        var copy = storage
        return withUnsafePointer(to: &copy) { raw in
            switch Int32(storage.ss_family) {
            case AF_INET:
                return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            case AF_INET6:
                return raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            default:
                return 0
            }
        }
    }

    private static func string(_ text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
