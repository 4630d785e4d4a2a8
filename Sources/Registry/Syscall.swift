import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a system call, retrying on EINTR; a result of -1 becomes an `.io` RegistryError naming `what`.
@discardableResult
func syscall<T: FixedWidthInteger>(_ what: @autoclosure () -> String, _ body: () -> T) throws -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw RegistryError(.io, "\(what()): \(String(cString: strerror(code)))", errno: code)
    }
}

/// Small wrappers over the file system calls the store and the path policy use. Every descriptor is O_CLOEXEC.
enum FileOps {
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws -> Int32 {
        try syscall("open \(path)") { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    static func openat(_ dirfd: Int32, _ name: String, _ flags: Int32, mode: mode_t = 0, describe: String) throws -> Int32 {
        try syscall("open \(describe)") { Glibc.openat(dirfd, name, flags | O_CLOEXEC, mode) }
    }

    static func close(_ fd: Int32) {
        // close is not retried on EINTR on Linux: the descriptor is gone either way.
        _ = Glibc.close(fd)
    }

    static func fstat(_ fd: Int32, describe: String) throws -> stat {
        var st = stat()
        try syscall("stat \(describe)") { Glibc.fstat(fd, &st) }
        return st
    }

    /// stat of `name` in a directory without following a symlink; nil when it does not exist.
    static func fstatat(_ dirfd: Int32, _ name: String, describe: String) throws -> stat? {
        var st = stat()
        do {
            try syscall("stat \(describe)") { Glibc.fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) }
        } catch let e as RegistryError where e.errno == ENOENT {
            return nil
        }
        return st
    }

    static func lstat(_ path: String) throws -> stat {
        var st = stat()
        try syscall("stat \(path)") { Glibc.lstat(path, &st) }
        return st
    }

    static func fsync(_ fd: Int32, describe: String) throws {
        try syscall("fsync \(describe)") { Glibc.fsync(fd) }
    }

    /// fsyncs a directory so the names created or renamed in it are durable.
    static func fsyncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, describe: path)
    }

    static func rename(_ from: String, _ to: String) throws {
        try syscall("rename \(from) to \(to)") { Glibc.rename(from, to) }
    }

    static func mkdir(_ path: String, mode: mode_t = 0o700) throws {
        try syscall("mkdir \(path)") { Glibc.mkdir(path, mode) }
    }

    /// Reads up to `count` bytes; returns 0 at end of file.
    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, describe: String) throws -> Int {
        try syscall("read \(describe)") { Glibc.read(fd, buffer, count) }
    }

    /// Writes all of `bytes`, looping over short writes.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, describe: String) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = try syscall("write \(describe)") { Glibc.write(fd, p, left) }
            p += n
            left -= n
        }
    }

    /// The canonical absolute path of `path` with every symlink resolved, or nil when it does not exist.
    static func realPath(_ path: String) throws -> String? {
        guard let resolved = Glibc.realpath(path, nil) else {
            let code = Glibc.errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw RegistryError(.io, "realpath \(path): \(String(cString: strerror(code)))", errno: code)
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The path the kernel holds for an open descriptor (/proc/self/fd), or nil where /proc is not mounted.
    static func pathOfDescriptor(_ fd: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = buffer.withUnsafeMutableBufferPointer { readlink("/proc/self/fd/\(fd)", $0.baseAddress!, $0.count - 1) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Fills `count` bytes from the kernel's random source (/dev/urandom never blocks once the system is up).
    static func randomBytes(_ count: Int) throws -> [UInt8] {
        let fd = try open("/dev/urandom", O_RDONLY)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        try bytes.withUnsafeMutableBytes { raw in
            while filled < count {
                let n = try read(fd, raw.baseAddress! + filled, count - filled, describe: "/dev/urandom")
                guard n > 0 else { throw RegistryError(.io, "read /dev/urandom: unexpected end of file") }
                filled += n
            }
        }
        return bytes
    }

    static func fileType(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFREG: return "a regular file"
        case S_IFLNK: return "a symlink"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return "a special file"
        }
    }
}
