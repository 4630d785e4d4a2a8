#if canImport(Glibc)
import Glibc
#endif

/// A bound, listening, non-blocking socket. Made (and its errors thrown) on the caller's thread, then handed to the
/// loop, which alone accepts on it and closes it.
struct ListeningSocket: Sendable {
    enum Kind: Sendable { case unix, tcp }

    /// Pending connections the kernel queues before accept.
    static let backlog: Int32 = 511

    let fd: Int32
    let kind: Kind
    /// The socket file this server created, removed on close; nil for TCP and adopted descriptors.
    let file: UnixSocketFile?

    /// Binds a Unix socket at `path` with file mode `mode` (see `HTTPServer.listen(unixPath:mode:)`).
    static func unix(path: String, mode: UInt32) throws -> ListeningSocket {
        try UnixSocketFile.prepareParent(of: path)
        try UnixSocketFile.clearStale(at: path)
        let fd = try syscall("socket") {
            socket(AF_UNIX, LinuxAPI.sockStream | LinuxAPI.sockNonblock | LinuxAPI.sockCloexec, 0)
        }
        do {
            // On Linux the file bind creates takes the socket inode's mode (less the umask): no looser window.
            _ = retryingEINTR { fchmod(fd, mode_t(mode)) }
            _ = try SocketAddress.withUnixAddress(path) { address, length in
                try syscall("bind \(path)") { bind(fd, address, length) }
            }
            let file = try UnixSocketFile.bound(at: path)
            do {
                try syscall("chmod \(path)") { chmod(path, mode_t(mode)) }
                try syscall("listen \(path)") { listen(fd, backlog) }
            } catch {
                file.remove()
                throw error
            }
            return ListeningSocket(fd: fd, kind: .unix, file: file)
        } catch {
            closeDescriptor(fd)
            throw error
        }
    }

    /// Binds TCP `host:port` (port 0: the kernel picks) and returns the socket with its bound port.
    static func tcp(host: String, port: Int) throws -> (socket: ListeningSocket, port: Int) {
        var (storage, length) = try SocketAddress.ip(host: host, port: port)
        let fd = try syscall("socket") {
            socket(Int32(storage.ss_family), LinuxAPI.sockStream | LinuxAPI.sockNonblock | LinuxAPI.sockCloexec, 0)
        }
        do {
            var on: Int32 = 1
            try syscall("setsockopt SO_REUSEADDR") {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            }
            try syscall("bind \(host):\(port)") {
                withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
                }
            }
            try syscall("listen \(host):\(port)") { listen(fd, backlog) }
            let bound = SocketAddress.local(of: fd).map(SocketAddress.port(of:)) ?? port
            return (ListeningSocket(fd: fd, kind: .tcp, file: nil), bound)
        } catch {
            closeDescriptor(fd)
            throw error
        }
    }

    /// Takes over a descriptor that is already listening (systemd socket activation): stream socket, Unix or IP.
    static func adopt(_ fd: Int32) throws -> ListeningSocket {
        guard let local = SocketAddress.local(of: fd) else {
            throw HTTPServerError(.invalidAddress, "descriptor \(fd) is not a socket")
        }
        let kind: Kind
        switch Int32(local.ss_family) {
        case AF_UNIX: kind = .unix
        case AF_INET, AF_INET6: kind = .tcp
        default: throw HTTPServerError(.invalidAddress, "descriptor \(fd) is not a Unix or TCP socket")
        }
        guard option(fd, SO_TYPE) == LinuxAPI.sockStream else {
            throw HTTPServerError(.invalidAddress, "descriptor \(fd) is not a stream socket")
        }
        guard option(fd, SO_ACCEPTCONN) == 1 else {
            throw HTTPServerError(.invalidAddress, "descriptor \(fd) is not listening")
        }
        let flags = try syscall("fcntl F_GETFL \(fd)") { fcntl(fd, F_GETFL) }
        try syscall("fcntl F_SETFL \(fd)") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        try syscall("fcntl F_SETFD \(fd)") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return ListeningSocket(fd: fd, kind: kind, file: nil)
    }

    private static func option(_ fd: Int32, _ name: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        let (result, _) = retryingEINTR { getsockopt(fd, SOL_SOCKET, name, &value, &length) }
        return result == 0 ? value : nil
    }

    /// Closes the descriptor and removes the socket file this server made.
    func close() {
        closeDescriptor(fd)
        file?.remove()
    }

    enum Accepted {
        /// A new non-blocking, close-on-exec connection and the peer's address.
        case connection(Int32, sockaddr_storage)
        /// Nothing pending.
        case none
        /// Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): pause accepting for a moment.
        case exhausted(Int32)
        /// The one pending connection failed before we took it (ECONNABORTED, EPROTO, ...): try the next.
        case aborted
    }

    func accept() -> Accepted {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let (fd, code) = retryingEINTR {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    LinuxAPI.accept4(self.fd, $0, &length, LinuxAPI.sockNonblock | LinuxAPI.sockCloexec)
                }
            }
        }
        if fd >= 0 { return .connection(fd, storage) }
        switch code {
        case EAGAIN, EWOULDBLOCK: return .none
        case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .exhausted(code)
        default: return .aborted
        }
    }
}
