import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The content-addressed adapter store, `DATA_DIR/adapters/<sha256>/`: private copies of registered adapters' files.
///
/// Content address: SHA-256 over, for each present file in the order adapter_config.json,
/// adapter_model.safetensors, lorad.json: the file name in UTF-8, one 0x00 byte, the file size as a 64-bit
/// big-endian integer, then the file's bytes. (Self-delimiting, so no two file sets share a stream.)
///
/// Crash safety: files are copied into `.tmp-<uuid>` (locked with flock while in use), fsynced, the staging
/// directory is renamed to `<sha256>` and the store directory fsynced, all before the registry row commits.
/// Removal renames to `.trash-<uuid>` first. `cleanup` deletes unlocked staging directories, trash, and store
/// directories no row references. Store changes happen under an exclusive flock on `.lock`, across processes.
struct AdapterStore: Sendable {
    static let fileNames = ["adapter_config.json", "adapter_model.safetensors", "lorad.json"]
    static let requiredFiles: Set<String> = ["adapter_config.json", "adapter_model.safetensors"]
    static let maxLoradJSONBytes = 1 << 20
    private static let chunkBytes = 1 << 20

    let root: URL

    init(root: URL) throws {
        self.root = root
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw RegistryError(.io, "cannot create the adapter store \(root.path): \(error.localizedDescription)")
        }
    }

    func directory(sha256: String) -> URL { root.appendingPathComponent(sha256) }

    static func isContentAddress(_ name: String) -> Bool {
        name.utf8.count == 64 && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Runs `body` holding the store's exclusive lock (a fresh descriptor each time, so threads and processes
    /// both exclude each other; the kernel drops the lock if the process dies).
    func withLock<T>(_ body: () throws -> T) throws -> T {
        let path = root.appendingPathComponent(".lock").path
        let fd = try FileOps.open(path, O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
        defer { FileOps.close(fd) }
        try syscall("flock \(path)") { flock(fd, LOCK_EX) }
        return try body()
    }

    /// A staging directory for one registration: locked while this object lives, removed on deinit unless installed.
    final class Staging {
        let path: String
        let fd: Int32
        fileprivate var files: [(name: String, fd: Int32)] = []
        fileprivate var installed = false

        fileprivate init(path: String, fd: Int32) {
            self.path = path
            self.fd = fd
        }

        deinit {
            for file in files { FileOps.close(file.fd) }
            if !installed { try? FileManager.default.removeItem(atPath: path) }
            FileOps.close(fd)
        }
    }

    func makeStaging() throws -> Staging {
        try withLock {
            let path = root.appendingPathComponent(".tmp-\(UUID().uuidString.lowercased())").path
            try FileOps.mkdir(path)
            let fd = try FileOps.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
            let staging = Staging(path: path, fd: fd)
            try syscall("flock \(path)") { flock(fd, LOCK_EX | LOCK_NB) }
            return staging
        }
    }

    /// What a copy produced.
    struct Imported {
        var sha256: String
        var sizeBytes: Int
        var loradJSON: Data?
    }

    /// Copies the adapter files from `source` into `staging`, hashing as it goes. Files are read once, through
    /// descriptors opened with O_NOFOLLOW, so what is hashed is exactly what is stored.
    /// `progress(bytesCopied, totalBytes)` is called after each chunk (every file is opened first, so the total is
    /// known from the start).
    func copy(from source: SourceDirectory, policy: PathPolicy, adapter: String, into staging: Staging,
              afterFirstFile: () -> Void, progress: (Int, Int) -> Void = { _, _ in }) throws -> Imported {
        var hasher = SHA256()
        var loradJSON: Data?
        var files: [(name: String, file: OpenedFile)] = []
        for name in Self.fileNames {
            guard let file = try policy.openFile(name, in: source, adapter: adapter) else {
                guard Self.requiredFiles.contains(name) else { continue }
                if name == "adapter_model.safetensors",
                   (try? policy.openFile("adapter_model.bin", in: source, adapter: adapter)) != nil {
                    throw RegistryError(.invalid, "adapter \"\(adapter)\": adapter_model.bin is a pickle, which lorad never loads; save the adapter as safetensors (adapter_model.safetensors)")
                }
                throw RegistryError(.invalid, "adapter \"\(adapter)\": \(source.path) has no \(name)")
            }
            if name == "lorad.json", file.size > Self.maxLoradJSONBytes {
                throw RegistryError(.invalid, "adapter \"\(adapter)\": lorad.json is \(file.size) bytes, over the limit of \(Self.maxLoradJSONBytes)")
            }
            files.append((name, file))
        }
        let total = files.reduce(0) { $0 + $1.file.size }
        var copied = 0
        progress(0, total)
        for (name, file) in files {
            let out = try FileOps.openat(staging.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o444,
                                         describe: "\(staging.path)/\(name)")
            staging.files.append((name, out))
            let kept = try Self.stream(file, name: name, into: &hasher, copyTo: out, keep: name == "lorad.json") { n in
                copied += n
                progress(copied, total)
            }
            if name == "lorad.json" { loradJSON = kept }
            if name == "adapter_config.json" { afterFirstFile() }
        }
        return Imported(sha256: hasher.hexDigest(), sizeBytes: total, loradJSON: loradJSON)
    }

    /// Feeds one file's header and exactly `file.size` bytes to `hasher`, optionally writing them to `copyTo`;
    /// fails if the file changes size while being read. Returns the bytes when `keep` is set.
    private static func stream(_ file: OpenedFile, name: String, into hasher: inout SHA256, copyTo: Int32?,
                               keep: Bool, chunkDone: (Int) -> Void = { _ in }) throws -> Data? {
        hasher.update(name)
        hasher.update([0])
        let size = UInt64(file.size)
        hasher.update((0..<8).map { UInt8(truncatingIfNeeded: size >> (56 - 8 * UInt64($0))) })
        var kept = keep ? Data() : nil
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkBytes, alignment: 64)
        defer { buffer.deallocate() }
        guard let base = buffer.baseAddress else { return kept }
        var left = file.size
        while true {
            let n = try FileOps.read(file.fd, base, left > 0 ? min(chunkBytes, left) : 1, describe: file.describe)
            if n == 0 { break }
            guard n <= left else { throw RegistryError(.invalid, "\(file.describe) grew while being read") }
            let chunk = UnsafeRawBufferPointer(start: base, count: n)
            hasher.update(chunk)
            if let copyTo { try FileOps.writeAll(copyTo, chunk, describe: name) }
            kept?.append(contentsOf: chunk)
            left -= n
            chunkDone(n)
        }
        guard left == 0 else { throw RegistryError(.invalid, "\(file.describe) shrank while being read") }
        return kept
    }

    /// Makes the staged files and the staging directory durable.
    func sync(_ staging: Staging) throws {
        for file in staging.files { try FileOps.fsync(file.fd, describe: "\(staging.path)/\(file.name)") }
        try FileOps.fsync(staging.fd, describe: staging.path)
    }

    /// Moves `staging` into place as `sha256` (caller holds the lock). Returns false when that directory already
    /// exists (the staging copy is then dropped with the Staging object).
    func install(_ staging: Staging, sha256: String) throws -> Bool {
        let target = directory(sha256: sha256).path
        if FileManager.default.fileExists(atPath: target) { return false }
        try FileOps.rename(staging.path, target)
        staging.installed = true
        try FileOps.fsyncDirectory(root.path)
        return true
    }

    /// Replaces a damaged store directory with the staged copy (caller holds the lock).
    func replace(_ sha256: String, with staging: Staging) throws {
        try remove(sha256)
        guard try install(staging, sha256: sha256) else {
            throw RegistryError(.io, "store directory \(sha256) reappeared while being replaced")
        }
    }

    /// Removes a store directory: rename to trash (atomic), make that durable, then delete (caller holds the lock).
    func remove(_ sha256: String) throws {
        let path = directory(sha256: sha256).path
        guard FileManager.default.fileExists(atPath: path) else { return }
        let trash = root.appendingPathComponent(".trash-\(UUID().uuidString.lowercased())").path
        try FileOps.rename(path, trash)
        try FileOps.fsyncDirectory(root.path)
        try? FileManager.default.removeItem(atPath: trash)
    }

    /// The files' identity as stat sees it: for each present file its name, inode, size, mtime and ctime (ns).
    /// Any write, replacement, truncation, chmod or touch changes it (ctime cannot be set back), so an unchanged
    /// stamp means unchanged files, short of the disk itself rotting.
    func stamp(of sha256: String) throws -> (stamp: String, sizeBytes: Int) {
        let path = directory(sha256: sha256).path
        let dirfd = try FileOps.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        defer { FileOps.close(dirfd) }
        var stamp = ""
        var total = 0
        for name in Self.fileNames {
            guard let st = try FileOps.fstatat(dirfd, name, describe: "\(path)/\(name)") else {
                if Self.requiredFiles.contains(name) { throw RegistryError(.broken, "\(name) is missing from the store") }
                continue
            }
            guard st.st_mode & S_IFMT == S_IFREG else {
                throw RegistryError(.broken, "\(name) in the store is \(FileOps.fileType(st.st_mode)), not a regular file")
            }
            stamp += "\(name):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec);"
            total += Int(st.st_size)
        }
        return (stamp, total)
    }

    /// The content hash of a store directory, read the same way registration reads a source.
    func contentHash(of sha256: String) throws -> String {
        let path = directory(sha256: sha256).path
        let dirfd = try FileOps.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        defer { FileOps.close(dirfd) }
        var hasher = SHA256()
        for name in Self.fileNames {
            guard let file = try PathPolicy.openRegularFile(name, dirfd: dirfd, dirPath: path, adapter: sha256,
                                                            maxBytes: Int.max) else {
                if Self.requiredFiles.contains(name) { throw RegistryError(.broken, "\(name) is missing from the store") }
                continue
            }
            _ = try Self.stream(file, name: name, into: &hasher, copyTo: nil, keep: false)
        }
        return hasher.hexDigest()
    }

    /// The outcome of checking one store directory.
    struct Check {
        /// Why the directory cannot be served; nil when it is intact.
        var problem: String?
        /// The stamp to record as verified: set only when the bytes were just hashed and matched.
        var verifiedStamp: String?
        var rehashed = false
    }

    /// Checks the store directory `sha256` against the recorded size and hash. Presence and sizes are always
    /// checked; the files are rehashed with `.full`, or with `.changed` when their stamp differs from
    /// `recordedStamp` (the stamp of the last successful hash), never with `.sizes`.
    func check(_ sha256: String, sizeBytes: Int, recordedStamp: String?,
               verification: RegistryOptions.Verification) -> Check {
        let path = directory(sha256: sha256).path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return Check(problem: "its store directory \(path) is missing")
        }
        do {
            let before = try stamp(of: sha256)
            if before.sizeBytes != sizeBytes {
                return Check(problem: "its stored files hold \(before.sizeBytes) bytes, the registry recorded \(sizeBytes) (truncated or modified)")
            }
            let rehash: Bool
            switch verification {
            case .full: rehash = true
            case .changed: rehash = before.stamp != recordedStamp
            case .sizes: rehash = false
            }
            guard rehash else { return Check() }
            let actual = try contentHash(of: sha256)
            if actual != sha256 {
                return Check(problem: "its stored files hash to \(actual), the registry recorded \(sha256) (modified or damaged)",
                             rehashed: true)
            }
            // Record the stamp only if nothing changed while hashing, so it always describes verified bytes.
            let after = try stamp(of: sha256)
            return Check(verifiedStamp: after.stamp == before.stamp ? after.stamp : nil, rehashed: true)
        } catch let e as RegistryError {
            return Check(problem: "its stored files cannot be read: \(e.message)")
        } catch {
            return Check(problem: "its stored files cannot be read: \(error)")
        }
    }

    /// Deletes leftovers (caller holds the lock): staging directories nobody holds, trash, and store directories
    /// not in `referenced`. Returns the names removed. Entries the store does not recognise are left alone.
    func cleanup(referenced: Set<String>) throws -> [String] {
        let fm = FileManager.default
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: root.path) } catch {
            throw RegistryError(.io, "cannot list the adapter store \(root.path): \(error.localizedDescription)")
        }
        var removed: [String] = []
        for name in entries.sorted() {
            let path = root.appendingPathComponent(name).path
            if name.hasPrefix(".tmp-") {
                guard let fd = try? FileOps.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW) else { continue }
                defer { FileOps.close(fd) }
                // A live registration holds its staging directory's lock; a dead one's lock died with it.
                guard (try? syscall("flock \(path)") { flock(fd, LOCK_EX | LOCK_NB) }) != nil else { continue }
                try? fm.removeItem(atPath: path)
                removed.append(name)
            } else if name.hasPrefix(".trash-") {
                try? fm.removeItem(atPath: path)
                removed.append(name)
            } else if Self.isContentAddress(name), !referenced.contains(name) {
                try remove(name)
                removed.append(name)
            }
        }
        if !removed.isEmpty { try FileOps.fsyncDirectory(root.path) }
        return removed
    }
}
