#if canImport(Glibc)
import Glibc
#endif

/// The file a Unix listening socket lives at: making its folder, clearing a stale one, and removing it again only
/// while it is still the one this server bound (a successor may have replaced it).
struct UnixSocketFile: Sendable {
    let path: String
    /// st_dev/st_ino right after bind.
    let device: UInt64
    let inode: UInt64

    /// Records the socket file just bound at `path`.
    static func bound(at path: String) throws -> UnixSocketFile {
        var info = stat()
        try syscall("stat \(path)") { lstat(path, &info) }
        return UnixSocketFile(path: path, device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Unlinks the file if it is still the socket recorded here.
    func remove() {
        var info = stat()
        guard retryingEINTR({ lstat(path, &info) }).result == 0,
              UInt64(info.st_dev) == device, UInt64(info.st_ino) == inode else { return }
        _ = retryingEINTR { unlink(path) }
    }

    /// Creates the missing folders above `path` with mode 0750 (exactly: the umask is undone by a chmod).
    static func prepareParent(of path: String) throws {
        let components = path.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in components {
            prefix += "/" + component
            var info = stat()
            if retryingEINTR({ stat(prefix, &info) }).result == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    throw HTTPServerError(.invalidAddress, "\(prefix) (above socket path \(path)) is not a folder")
                }
                continue
            }
            let (made, code) = retryingEINTR { mkdir(prefix, 0o750) }
            if made == -1 && code != EEXIST { throw HTTPServerError.system("mkdir \(prefix)", errno: code) }
            if made == 0 { try syscall("chmod \(prefix)") { chmod(prefix, 0o750) } }
        }
    }

    /// Makes `path` free to bind: nothing there, or a socket nobody answers on (removed). A live server or a file
    /// that is not a socket is an error naming the path.
    static func clearStale(at path: String) throws {
        var info = stat()
        let (found, code) = retryingEINTR { lstat(path, &info) }
        if found == -1 {
            if code == ENOENT { return }
            throw HTTPServerError.system("stat \(path)", errno: code)
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw HTTPServerError(.invalidAddress, "\(path) exists and is not a socket; refusing to replace it")
        }
        switch try probe(path) {
        case .refused:
            let (removed, code) = retryingEINTR { unlink(path) }
            if removed == -1 && code != ENOENT { throw HTTPServerError.system("unlink stale socket \(path)", errno: code) }
        case .gone:
            return
        case .listening:
            throw HTTPServerError(.alreadyListening, "another server is listening on \(path)")
        }
    }

    private enum Probe { case listening, refused, gone }

    /// A non-blocking connect: accepted or pending (EAGAIN: a full backlog) is a live server.
    private static func probe(_ path: String) throws -> Probe {
        let fd = try syscall("socket") {
            socket(AF_UNIX, LinuxAPI.sockStream | LinuxAPI.sockNonblock | LinuxAPI.sockCloexec, 0)
        }
        defer { closeDescriptor(fd) }
        let (result, code) = try SocketAddress.withUnixAddress(path) { address, length in
            retryingEINTR { connect(fd, address, length) }
        }
        if result == 0 { return .listening }
        switch code {
        case ECONNREFUSED: return .refused
        case ENOENT: return .gone
        case EAGAIN, EINPROGRESS: return .listening
        default: throw HTTPServerError.system("connect \(path)", errno: code)
        }
    }
}
