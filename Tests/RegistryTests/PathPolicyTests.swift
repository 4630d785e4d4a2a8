import Foundation
import Registry
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Only real adapter directories under a configured root may be registered, and only regular files are read.
@Suite struct PathPolicyTests {
    /// Registers `path` as "probe" and returns the error.
    static func refusal(_ env: RegistryEnvironment, _ path: String, options: RegistryOptions = RegistryOptions(),
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> RegistryError? {
        let registry = try env.open(options)
        let error = registryError({ _ = try registry.registerAdapter(name: "probe", sourcePath: path) },
                                  sourceLocation: sourceLocation)
        #expect(try env.storeEntries().isEmpty, sourceLocation: sourceLocation)
        #expect(try registry.adapters(visibleTo: "default", isAdmin: true).isEmpty, sourceLocation: sourceLocation)
        return error
    }

    @Test func dotDotIsRefused() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        // Even when it would land back inside the root.
        let error = try Self.refusal(env, env.root.path + "/../root/a1-r8-qv")
        #expect(error?.kind == .forbidden)
        #expect(error?.message.contains("..") == true)
        #expect(try Self.refusal(env, env.root.path + "/a1-r8-qv/../../data")?.kind == .forbidden)
    }

    @Test func pathsOutsideEveryRootAreRefused() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let outside = env.base.appendingPathComponent("outside/a1")
        try RegistryEnvironment.copyAdapter(env.root.appendingPathComponent("a1-r8-qv"), to: outside)
        let error = try Self.refusal(env, outside.path)
        #expect(error?.kind == .forbidden)
        #expect(error?.message.contains("outside every adapter root") == true)
        #expect(error?.message.contains("\"probe\"") == true)
        // A sibling whose name merely starts with the root's name is outside too.
        let sibling = env.base.appendingPathComponent("root-evil/a1")
        try RegistryEnvironment.copyAdapter(env.root.appendingPathComponent("a1-r8-qv"), to: sibling)
        #expect(try Self.refusal(env, sibling.path)?.kind == .forbidden)
        // With no roots at all, nothing is accepted.
        let registry = try env.open(roots: [])
        #expect(registryError { _ = try registry.registerAdapter(name: "x", sourcePath: env.path("a1-r8-qv")) }?.kind == .forbidden)
    }

    @Test func symlinksLeavingTheRootAreRefused() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let outside = env.base.appendingPathComponent("outside/a1")
        try RegistryEnvironment.copyAdapter(env.root.appendingPathComponent("a1-r8-qv"), to: outside)
        let link = env.root.appendingPathComponent("sneaky")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: outside.path)
        let error = try Self.refusal(env, link.path)
        #expect(error?.kind == .forbidden)
        #expect(error?.message.contains(outside.path) == true)

        // A symlink that stays inside the root is fine: what counts is where it resolves.
        let inner = env.root.appendingPathComponent("alias")
        try FileManager.default.createSymbolicLink(atPath: inner.path, withDestinationPath: env.path("a1-r8-qv"))
        let registry = try env.open()
        _ = try registry.registerAdapter(name: "alias", sourcePath: inner.path)
    }

    @Test func fifosAndFilesAreNotAdapterDirectories() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let fifo = env.root.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let fifoError = try Self.refusal(env, fifo)
        #expect(fifoError?.kind == .invalid)
        #expect(fifoError?.message.contains("FIFO") == true)

        let file = env.root.appendingPathComponent("a1-r8-qv/adapter_config.json").path
        let fileError = try Self.refusal(env, file)
        #expect(fileError?.kind == .invalid)
        #expect(fileError?.message.contains("not an adapter directory") == true)

        #expect(try Self.refusal(env, env.root.path + "/missing")?.kind == .invalid)
        #expect(try Self.refusal(env, "root/a1-r8-qv")?.message.contains("absolute") == true)
    }

    @Test func socketsAndDevicesAreNotAdapterDirectories() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let path = env.root.appendingPathComponent("sock").path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        let socketError = try Self.refusal(env, path)
        #expect(socketError?.kind == .invalid)
        #expect(socketError?.message.contains("socket") == true)

        // A device, under a root that contains one.
        let registry = try env.open(roots: [URL(fileURLWithPath: "/dev")])
        let deviceError = registryError { _ = try registry.registerAdapter(name: "null", sourcePath: "/dev/null") }
        #expect(deviceError?.kind == .invalid)
        #expect(deviceError?.message.contains("device") == true)
    }

    @Test func symlinkedFilesInsideTheAdapterAreRefused() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let dir = env.root.appendingPathComponent("linked")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(contentsOf: env.root.appendingPathComponent("a1-r8-qv/adapter_config.json"))
            .write(to: dir.appendingPathComponent("adapter_config.json"))
        // Even a link to a file inside the root: the store copies only regular files.
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("adapter_model.safetensors").path,
                                                   withDestinationPath: env.path("a1-r8-qv") + "/adapter_model.safetensors")
        let error = try Self.refusal(env, dir.path)
        #expect(error?.kind == .forbidden)
        #expect(error?.message.contains("adapter_model.safetensors is a symlink") == true)
    }

    @Test func specialFilesInsideTheAdapterAreRefused() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let dir = env.root.appendingPathComponent("fifo-inside")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(contentsOf: env.root.appendingPathComponent("a1-r8-qv/adapter_config.json"))
            .write(to: dir.appendingPathComponent("adapter_config.json"))
        // A FIFO must be refused without blocking on open.
        #expect(mkfifo(dir.appendingPathComponent("adapter_model.safetensors").path, 0o600) == 0)
        let error = try Self.refusal(env, dir.path)
        #expect(error?.kind == .invalid)
        #expect(error?.message.contains("not a regular file") == true)
    }

    @Test func filesOverTheSizeBoundAreRefused() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let error = try Self.refusal(env, env.path("a1-r8-qv"), options: RegistryOptions(maxFileBytes: 10_000))
        #expect(error?.kind == .invalid)
        #expect(error?.message.contains("over the limit of 10000") == true)
    }
}
