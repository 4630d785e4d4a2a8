import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An open regular file: its descriptor (closed on deinit) and its size when opened.
final class OpenedFile {
    let fd: Int32
    let size: Int
    let describe: String

    init(fd: Int32, size: Int, describe: String) {
        self.fd = fd
        self.size = size
        self.describe = describe
    }

    deinit { FileOps.close(fd) }
}

/// An adapter source directory that passed the policy, held open so the files are read from the directory that
/// was checked even if its path is swapped afterwards.
final class SourceDirectory {
    let path: String
    let fd: Int32

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { FileOps.close(fd) }
}

/// Which adapter directories may be registered: only real directories under a configured adapter root
/// (`--adapter-root`, plus the demo `adapters/` folder), after resolving every symlink; no `..`; files inside
/// are opened with O_NOFOLLOW, must be regular files, and are bounded in size.
struct PathPolicy: Sendable {
    let roots: [URL]
    let maxFileBytes: Int

    /// The roots as real paths; roots that do not exist are skipped.
    func resolvedRoots() throws -> [String] {
        try roots.compactMap { try FileOps.realPath($0.path) }
    }

    private func inside(_ path: String, roots: [String]) -> Bool {
        roots.contains { root in path == root || path.hasPrefix(root == "/" ? "/" : root + "/") }
    }

    /// Checks `path` and opens it as the source of adapter `adapter`.
    func openSource(_ path: String, adapter: String) throws -> SourceDirectory {
        guard !path.isEmpty else { throw RegistryError(.invalid, "adapter \"\(adapter)\": the path is empty") }
        guard path.hasPrefix("/") else {
            throw RegistryError(.invalid, "adapter \"\(adapter)\": path \"\(path)\" must be absolute")
        }
        guard !path.split(separator: "/").contains("..") else {
            throw RegistryError(.forbidden, "adapter \"\(adapter)\": path \"\(path)\" contains \"..\"; give a path inside an adapter root")
        }
        guard !path.utf8.contains(0) else {
            throw RegistryError(.invalid, "adapter \"\(adapter)\": path contains a NUL byte")
        }
        let roots = try resolvedRoots()
        // Outside every root: the same answer whether or not the path exists, so callers cannot probe the host.
        let lexicalRoots = roots + self.roots.map { $0.standardizedFileURL.path }
        guard inside(URL(fileURLWithPath: path).standardizedFileURL.path, roots: lexicalRoots) else {
            let list = roots.isEmpty ? "none configured" : roots.joined(separator: ", ")
            throw RegistryError(.forbidden, "adapter \"\(adapter)\": \(path) is outside every adapter root; roots: \(list); add one with --adapter-root")
        }
        guard let real = try FileOps.realPath(path) else {
            throw RegistryError(.invalid, "adapter \"\(adapter)\": \(path) does not exist")
        }
        guard inside(real, roots: roots) else {
            let list = roots.isEmpty ? "none configured" : roots.joined(separator: ", ")
            let via = real == path ? "" : " (it resolves to \(real))"
            throw RegistryError(.forbidden, "adapter \"\(adapter)\": \(path) is outside every adapter root\(via); roots: \(list); add one with --adapter-root")
        }
        let st = try FileOps.lstat(real)
        guard st.st_mode & S_IFMT == S_IFDIR else {
            throw RegistryError(.invalid, "adapter \"\(adapter)\": \(path) is \(FileOps.fileType(st.st_mode)), not an adapter directory")
        }
        let fd = try FileOps.open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        let source = SourceDirectory(path: real, fd: fd)
        // The path could have been swapped between realpath and open: check where the descriptor really points.
        if let held = FileOps.pathOfDescriptor(fd), !inside(held, roots: roots) {
            throw RegistryError(.forbidden, "adapter \"\(adapter)\": \(path) moved outside every adapter root while being opened")
        }
        return source
    }

    /// Opens `name` inside `directory` for reading: no symlinks, regular files only, at most `maxFileBytes`.
    /// Returns nil when the file does not exist.
    func openFile(_ name: String, in directory: SourceDirectory, adapter: String) throws -> OpenedFile? {
        try Self.openRegularFile(name, dirfd: directory.fd, dirPath: directory.path, adapter: adapter, maxBytes: maxFileBytes)
    }

    static func openRegularFile(_ name: String, dirfd: Int32, dirPath: String, adapter: String, maxBytes: Int) throws -> OpenedFile? {
        let describe = "\(dirPath)/\(name)"
        let fd: Int32
        do {
            // O_NONBLOCK so a FIFO planted under the name cannot block the open; regular files ignore it.
            fd = try FileOps.openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, describe: describe)
        } catch let e as RegistryError where e.errno == ENOENT {
            return nil
        } catch let e as RegistryError where e.errno == ELOOP {
            throw RegistryError(.forbidden, "adapter \"\(adapter)\": \(describe) is a symlink; lorad reads only regular files")
        }
        let st: stat
        do { st = try FileOps.fstat(fd, describe: describe) } catch {
            FileOps.close(fd)
            throw error
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            FileOps.close(fd)
            throw RegistryError(.invalid, "adapter \"\(adapter)\": \(describe) is \(FileOps.fileType(st.st_mode)), not a regular file")
        }
        guard Int(st.st_size) <= maxBytes else {
            FileOps.close(fd)
            throw RegistryError(.invalid, "adapter \"\(adapter)\": \(describe) is \(st.st_size) bytes, over the limit of \(maxBytes)")
        }
        return OpenedFile(fd: fd, size: Int(st.st_size), describe: describe)
    }
}
