import Foundation
import Model
import Registry
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Opening checks the store against the rows: damaged or missing files and foreign base models mark adapters
/// broken (never deleted, never a crash), leftovers are removed, and the rest keeps working.
@Suite struct ReconcileTests {
    /// Registers "victim" (a1) and "bystander" (a0), closes, damages the victim's store with `damage`, reopens.
    static func damaged(_ options: RegistryOptions = RegistryOptions(),
                        _ damage: (URL) throws -> Void) throws -> (RegistryEnvironment, Registry, AdapterRecord) {
        let env = try RegistryEnvironment()
        let victim: AdapterRecord
        do {
            let registry = try env.open()
            victim = try registry.registerAdapter(name: "victim", sourcePath: env.path("a1-r8-qv"))
            _ = try registry.registerAdapter(name: "bystander", sourcePath: env.path("a0-r4-all"))
            registry.close()
        }
        try damage(env.store.appendingPathComponent(victim.sha256))
        return (env, try env.open(options), victim)
    }

    static func expectBroken(_ registry: Registry, _ victim: AdapterRecord, reason: String,
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
        let record = try #require(try registry.adapter(named: "victim", visibleTo: "default"), sourceLocation: sourceLocation)
        #expect(record.isBroken, sourceLocation: sourceLocation)
        #expect(record.brokenReason?.contains(reason) == true, "\(record.brokenReason ?? "nil")", sourceLocation: sourceLocation)
        #expect(registry.startupReport.broken["victim"] == record.brokenReason, sourceLocation: sourceLocation)
        let error = registryError({ _ = try registry.loadAdapter(record) }, sourceLocation: sourceLocation)
        #expect(error?.kind == .broken, sourceLocation: sourceLocation)
        #expect(error?.message.contains("adapter \"victim\" is broken") == true, sourceLocation: sourceLocation)
        // The other adapter is untouched.
        let bystander = try #require(try registry.adapter(named: "bystander", visibleTo: "default"), sourceLocation: sourceLocation)
        #expect(!bystander.isBroken, sourceLocation: sourceLocation)
        _ = try registry.loadAdapter(bystander)
    }

    /// Flips one byte in place, then puts the modification time back, as a sneaky edit would.
    static func flipByteInPlace(_ url: URL, offsetFromEnd: Int = 3) throws {
        let path = url.path
        var st = stat()
        #expect(stat(path, &st) == 0)
        #expect(chmod(path, 0o644) == 0)  // the store's files are read-only
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size - UInt64(offsetFromEnd))
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: size - UInt64(offsetFromEnd))
        try handle.write(contentsOf: [byte ^ 0x40])
        try handle.close()
        var times = [st.st_atim, st.st_mtim]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        #expect(chmod(path, 0o444) == 0)
    }

    @Test func flippedByteIsCaughtByTheRehash() throws {
        let (env, registry, victim) = try Self.damaged { dir in
            try Self.flipByteInPlace(dir.appendingPathComponent("adapter_model.safetensors"))
        }
        defer { env.removeAll() }
        try Self.expectBroken(registry, victim, reason: "hash")
        #expect(registry.startupReport.rehashed == [victim.sha256])
        // Still broken, not repaired, on the next open; the row is never deleted.
        let again = try env.open()
        #expect(try again.adapter(named: "victim", visibleTo: "default")?.isBroken == true)
        #expect(again.startupReport.broken.isEmpty)
    }

    /// The default policy rehashes only store directories whose files' stat stamp changed; `.full` rehashes all.
    @Test func untouchedStoresAreNotRehashed() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let a: AdapterRecord, b: AdapterRecord
        do {
            let registry = try env.open()
            a = try registry.registerAdapter(name: "a", sourcePath: env.path("a0-r4-all"))
            b = try registry.registerAdapter(name: "b", sourcePath: env.path("a1-r8-qv"))
            _ = try registry.registerAdapter(name: "b-too", sourcePath: env.path("a1-r8-qv"))
            registry.close()
        }
        #expect(try env.open().startupReport.rehashed.isEmpty)
        #expect(try env.open(RegistryOptions(verification: .full)).startupReport.rehashed == [a.sha256, b.sha256].sorted())
        #expect(try env.open(RegistryOptions(verification: .sizes)).startupReport.rehashed.isEmpty)
        // Touching a file (no content change) costs one rehash, then the new stamp is trusted.
        let file = env.store.appendingPathComponent(b.sha256).appendingPathComponent("adapter_config.json")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: file.path)
        let touched = try env.open()
        #expect(touched.startupReport.rehashed == [b.sha256])
        #expect(touched.startupReport.broken.isEmpty)
        #expect(try env.open().startupReport.rehashed.isEmpty)
    }

    @Test func editedWhileRunningIsCaughtAtLoad() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        let record = try registry.registerAdapter(name: "victim", sourcePath: env.path("a1-r8-qv"))
        _ = try registry.loadAdapter(record)
        try Self.flipByteInPlace(registry.storeDirectory(for: record).appendingPathComponent("adapter_config.json"),
                                 offsetFromEnd: 20)
        let error = registryError { _ = try registry.loadAdapter(record) }
        #expect(error?.kind == .broken)
        #expect(error?.message.contains("hash") == true)
    }

    @Test func truncatedFileIsCaughtBySize() throws {
        let (env, registry, victim) = try Self.damaged(RegistryOptions(verification: .sizes)) { dir in
            let path = dir.appendingPathComponent("adapter_model.safetensors").path
            #expect(chmod(path, 0o644) == 0)  // the store's files are read-only
            #expect(truncate(path, 100) == 0)
        }
        defer { env.removeAll() }
        try Self.expectBroken(registry, victim, reason: "bytes")
    }

    @Test func deletedFileIsCaught() throws {
        let (env, registry, victim) = try Self.damaged { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("adapter_model.safetensors"))
        }
        defer { env.removeAll() }
        try Self.expectBroken(registry, victim, reason: "missing")
    }

    @Test func deletedStoreDirectoryIsCaught() throws {
        let (env, registry, victim) = try Self.damaged { dir in try FileManager.default.removeItem(at: dir) }
        defer { env.removeAll() }
        try Self.expectBroken(registry, victim, reason: "missing")
    }

    /// With size-only verification a same-size edit goes unnoticed at open; the policy is explicit about it.
    @Test func sizeOnlyPolicySkipsTheRehash() throws {
        let (env, registry, _) = try Self.damaged(RegistryOptions(verification: .sizes)) { dir in
            let url = dir.appendingPathComponent("adapter_config.json")
            var bytes = try Data(contentsOf: url)
            bytes[bytes.count - 2] = UInt8(ascii: " ")
            try FileManager.default.removeItem(at: url)
            try bytes.write(to: url)
        }
        defer { env.removeAll() }
        #expect(registry.startupReport.broken.isEmpty)
        #expect(try env.open().adapter(named: "victim", visibleTo: "default")?.brokenReason?.contains("hash") == true)
    }

    @Test func filesRemovedWhileRunningMakeLoadingBroken() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        let record = try registry.registerAdapter(name: "victim", sourcePath: env.path("a1-r8-qv"))
        try FileManager.default.removeItem(at: registry.storeDirectory(for: record).appendingPathComponent("adapter_config.json"))
        #expect(registryError { _ = try registry.loadAdapter(record) }?.kind == .broken)
        #expect(try registry.adapter(named: "victim", visibleTo: "default")?.isBroken == true)
    }

    @Test func registeringTheSameFilesAgainRepairsTheStore() throws {
        let (env, registry, victim) = try Self.damaged { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("adapter_model.safetensors"))
        }
        defer { env.removeAll() }
        let fresh = try registry.registerAdapter(name: "fresh", sourcePath: env.path("a1-r8-qv"))
        #expect(fresh.sha256 == victim.sha256)
        let repaired = try #require(try registry.adapter(named: "victim", visibleTo: "default"))
        #expect(!repaired.isBroken)
        _ = try registry.loadAdapter(repaired)
    }

    @Test func leftoversAreCleanedAtOpen() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let kept: AdapterRecord
        do {
            let registry = try env.open()
            kept = try registry.registerAdapter(name: "kept", sourcePath: env.path("a1-r8-qv"))
            registry.close()
        }
        let fm = FileManager.default
        let orphan = String(repeating: "ab", count: 32)
        for name in [".tmp-dead", ".trash-old", orphan] {
            try fm.createDirectory(at: env.store.appendingPathComponent(name), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: env.store.appendingPathComponent(name).appendingPathComponent("adapter_model.safetensors"))
        }
        try Data("not ours".utf8).write(to: env.store.appendingPathComponent("README"))
        let registry = try env.open()
        #expect(Set(registry.startupReport.removedLeftovers) == [".tmp-dead", ".trash-old", orphan])
        #expect(Set(try env.storeEntries()) == ["README", kept.sha256])
        _ = try registry.loadAdapter(kept)
    }

    /// A second tiny-llama whose config.json differs in a way that keeps the shapes.
    static func lookalikeFingerprint() throws -> ModelFingerprint {
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.tinyLlama.appendingPathComponent("config.json"))) as? [String: Any])
        json["rms_norm_eps"] = 1e-6
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        let fingerprint = ModelFingerprint(configJSON: data, config: try ModelConfig(json: data))
        #expect(fingerprint.hasSameShapes(as: RegistryEnvironment.fingerprint))
        #expect(fingerprint != RegistryEnvironment.fingerprint)
        return fingerprint
    }

    @Test func anotherBaseModelMarksAdaptersBrokenUntilItIsBack() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        do {
            let registry = try env.open()
            _ = try registry.registerAdapter(name: "victim", sourcePath: env.path("a1-r8-qv"))
            registry.close()
        }
        let other = try Self.lookalikeFingerprint()
        do {
            let registry = try env.open(baseModel: other)
            let record = try #require(try registry.adapter(named: "victim", visibleTo: "default"))
            #expect(record.brokenReason?.contains("registered for another base model") == true)
            let error = registryError { _ = try registry.loadAdapter(record) }
            #expect(error?.kind == .broken)
            #expect(error?.message.contains("registered for another base model") == true)
            // New registrations under this model are fine and record its fingerprint.
            let fresh = try registry.registerAdapter(name: "fresh", sourcePath: env.path("a0-r4-all"))
            #expect(fresh.baseModel == other)
            registry.close()
        }
        let registry = try env.open()
        #expect(registry.startupReport.repaired == ["victim"])
        #expect(try registry.adapter(named: "victim", visibleTo: "default")?.isBroken == false)
        #expect(try registry.adapter(named: "fresh", visibleTo: "default")?.isBroken == true)
    }

    @Test func adaptersForOtherShapesAreRefusedAtRegistration() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.tinyLlama.appendingPathComponent("config.json"))) as? [String: Any])
        json["hidden_size"] = 128
        let data = try JSONSerialization.data(withJSONObject: json)
        let config = try ModelConfig(json: data)
        let registry = try env.open(baseModel: ModelFingerprint(configJSON: data, config: config), config: config)
        let error = registryError { _ = try registry.registerAdapter(name: "wrong", sourcePath: env.path("a1-r8-qv")) }
        #expect(error?.kind == .invalid)
        #expect(error?.message.contains("hidden size") == true)
        #expect(try env.storeEntries().isEmpty)
    }

    @Test func aFingerprintMustDescribeTheConfig() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        var wrong = RegistryEnvironment.fingerprint
        wrong.hiddenSize += 1
        #expect(registryError { _ = try env.open(baseModel: wrong) }?.kind == .invalid)
    }
}
