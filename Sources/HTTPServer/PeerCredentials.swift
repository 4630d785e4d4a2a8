#if canImport(Glibc)
import Glibc
#endif

/// Who is on the other end of a Unix socket connection, as the kernel recorded it at connect time (SO_PEERCRED).
public struct PeerCredentials: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let uid: UInt32
    public let gid: UInt32
    public let pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }

    public var description: String { "uid=\(uid) gid=\(gid) pid=\(pid)" }

    /// struct ucred from <sys/socket.h> (a _GNU_SOURCE type the Glibc module does not import): pid, uid, gid.
    private struct UCred {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    /// The credentials of the peer of a connected Unix socket, or nil when the kernel has none (not a Unix socket).
    static func of(socket fd: Int32) -> PeerCredentials? {
        var credentials = UCred()
        var length = socklen_t(MemoryLayout<UCred>.size)
        let (result, _) = retryingEINTR { getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) }
        guard result == 0, Int(length) == MemoryLayout<UCred>.size else { return nil }
        return PeerCredentials(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid)
    }
}
