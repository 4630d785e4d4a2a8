import Adapters
import Foundation
import Registry
import Testing

/// Registering, listing, sharing, deleting and loading adapters, and what survives a restart.
@Suite struct AdapterRegistrationTests {
    @Test func registerRecordsEveryField() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        let before = Date().addingTimeInterval(-1)
        let record = try registry.registerAdapter(name: "qv", sourcePath: env.path("a1-r8-qv"), isPublic: true,
                                                  description: "query/value adapter", scale: 0.5)
        let expected = try RegistryEnvironment.expectedHash(of: env.root.appendingPathComponent("a1-r8-qv"))
        #expect(record.name == "qv")
        #expect(record.tenant == "default")
        #expect(record.isPublic)
        #expect(record.description == "query/value adapter")
        #expect(record.rank == 8)
        #expect(record.alpha == 16)
        #expect(record.targetModules == ["q_proj", "v_proj"])
        #expect(record.sha256 == expected.sha256)
        #expect(record.sizeBytes == expected.size)
        #expect(record.baseModel == RegistryEnvironment.fingerprint)
        #expect(record.createdAt >= before && record.createdAt <= Date())
        #expect(record.lastUsedAt == nil)
        #expect(record.requests == 0)
        #expect(record.scale == 0.5)
        #expect(!record.isBroken)

        // The store holds byte-identical private copies.
        let dir = registry.storeDirectory(for: record)
        #expect(dir.lastPathComponent == record.sha256)
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            #expect(FileManager.default.contents(atPath: dir.appendingPathComponent(file).path)
                    == FileManager.default.contents(atPath: env.root.appendingPathComponent("a1-r8-qv/\(file)").path))
        }
        #expect(try env.storeEntries() == [record.sha256])

        let adapter = try registry.loadAdapter(record)
        #expect(adapter.name == "qv")
        #expect(adapter.rank == 8)
        let all = try registry.adapters(visibleTo: "default", isAdmin: false)
        #expect(all == [record])
        #expect(try registry.auditLog().first?.action == "adapter.register")
    }

    @Test func everyFieldSurvivesARestart() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        var tenants: [Tenant] = []
        var adapters: [AdapterRecord] = []
        var audit: [AuditEntry] = []
        do {
            let registry = try env.open()
            _ = try registry.createTenant(name: "alice", uid: 1234, maxConcurrent: 3, maxAdapters: 5)
            _ = try registry.createTenant(name: "bob")
            _ = try registry.registerAdapter(name: "a0", sourcePath: env.path("a0-r4-all"), tenant: "alice",
                                             description: "all modules", scale: 1.25)
            _ = try registry.registerAdapter(name: "a2", sourcePath: env.path("a2-r16-all-rslora"), tenant: "bob",
                                             isPublic: true)
            _ = try registry.registerAdapter(name: "a3", sourcePath: env.path("a3-r8-all-alpha24"))
            try registry.setDefaultAdapter(tenant: "alice", adapter: "a2")
            try registry.recordUse(name: "a0", at: Date(timeIntervalSince1970: 1_750_000_000.5))
            try registry.recordUse(name: "a0", at: Date(timeIntervalSince1970: 1_750_000_001.25))
            try registry.recordUse(name: "a2")
            tenants = try registry.tenants()
            adapters = try registry.adapters(visibleTo: "default", isAdmin: true)
            audit = try registry.auditLog()
            registry.close()
        }
        #expect(adapters.count == 3)
        #expect(adapters.first { $0.name == "a0" }?.requests == 2)
        #expect(adapters.first { $0.name == "a0" }?.lastUsedAt == Date(timeIntervalSince1970: 1_750_000_001.25))
        #expect(tenants.first { $0.name == "alice" }?.defaultAdapter == "a2")

        let reopened = try env.open()
        #expect(reopened.startupReport.isClean)
        #expect(try reopened.tenants() == tenants)
        #expect(try reopened.adapters(visibleTo: "default", isAdmin: true) == adapters)
        #expect(try reopened.auditLog() == audit)
        for record in adapters { _ = try reopened.loadAdapter(record) }
    }

    @Test func namesAreUniqueAndValidated() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        _ = try registry.createTenant(name: "alice")
        _ = try registry.registerAdapter(name: "taken", sourcePath: env.path("a0-r4-all"), tenant: "alice")
        let clash = registryError { _ = try registry.registerAdapter(name: "taken", sourcePath: env.path("a1-r8-qv")) }
        #expect(clash?.kind == .conflict)
        #expect(clash?.message.contains("\"taken\"") == true)
        for bad in ["Taken", "../x", "", "a b", String(repeating: "x", count: 65)] {
            let error = registryError { _ = try registry.registerAdapter(name: bad, sourcePath: env.path("a1-r8-qv")) }
            #expect(error?.kind == .invalid, "\(bad)")
        }
        let noTenant = registryError { _ = try registry.registerAdapter(name: "x", sourcePath: env.path("a1-r8-qv"), tenant: "ghost") }
        #expect(noTenant?.kind == .notFound)
        #expect(registryError { _ = try registry.registerAdapter(name: "s", sourcePath: env.path("a1-r8-qv"), scale: .nan) }?.kind == .invalid)
        // Failed registrations leave nothing behind in the store.
        #expect(try env.storeEntries().count == 1)
    }

    @Test func maxAdaptersIsEnforced() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        _ = try registry.createTenant(name: "small", maxAdapters: 2)
        _ = try registry.registerAdapter(name: "one", sourcePath: env.path("a0-r4-all"), tenant: "small")
        _ = try registry.registerAdapter(name: "two", sourcePath: env.path("a1-r8-qv"), tenant: "small")
        let full = registryError { _ = try registry.registerAdapter(name: "three", sourcePath: env.path("a2-r16-all-rslora"), tenant: "small") }
        #expect(full?.kind == .limit)
        #expect(full?.message.contains("\"small\"") == true)
        // Other tenants are not affected; freeing a slot lets the tenant register again.
        _ = try registry.registerAdapter(name: "three", sourcePath: env.path("a2-r16-all-rslora"))
        try registry.deleteAdapter(name: "one", by: "small")
        _ = try registry.registerAdapter(name: "four", sourcePath: env.path("a3-r8-all-alpha24"), tenant: "small")
    }

    @Test func tenantsSeeTheirOwnAndPublicAdapters() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        _ = try registry.createTenant(name: "alice")
        _ = try registry.createTenant(name: "bob")
        _ = try registry.registerAdapter(name: "alice-private", sourcePath: env.path("a0-r4-all"), tenant: "alice")
        _ = try registry.registerAdapter(name: "alice-public", sourcePath: env.path("a1-r8-qv"), tenant: "alice", isPublic: true)
        _ = try registry.registerAdapter(name: "bob-private", sourcePath: env.path("a2-r16-all-rslora"), tenant: "bob")

        #expect(try registry.adapters(visibleTo: "alice").map(\.name) == ["alice-private", "alice-public"])
        #expect(try registry.adapters(visibleTo: "bob").map(\.name) == ["alice-public", "bob-private"])
        #expect(try registry.adapters(visibleTo: "default").map(\.name) == ["alice-public"])
        #expect(try registry.adapters(visibleTo: "default", isAdmin: true).count == 3)
        #expect(try registry.adapter(named: "alice-private", visibleTo: "bob") == nil)
        #expect(try registry.adapter(named: "alice-private", visibleTo: "bob", isAdmin: true)?.tenant == "alice")
        #expect(try registry.adapter(named: "alice-public", visibleTo: "bob")?.tenant == "alice")
        #expect(try registry.adapter(named: "nothing", visibleTo: "bob") == nil)

        // Bob cannot delete Alice's adapters: the private one does not exist for him, the public one is not his.
        #expect(registryError { try registry.deleteAdapter(name: "alice-private", by: "bob") }?.kind == .notFound)
        #expect(registryError { try registry.deleteAdapter(name: "alice-public", by: "bob") }?.kind == .forbidden)
        #expect(registryError { try registry.deleteAdapter(name: "nothing", by: "bob") }?.kind == .notFound)
        try registry.deleteAdapter(name: "alice-public", by: "alice")
        try registry.deleteAdapter(name: "bob-private", by: "alice", isAdmin: true)
        #expect(try registry.adapters(visibleTo: "x", isAdmin: true).map(\.name) == ["alice-private"])
    }

    @Test func defaultAdapters() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        _ = try registry.createTenant(name: "alice")
        _ = try registry.createTenant(name: "bob")
        _ = try registry.registerAdapter(name: "mine", sourcePath: env.path("a0-r4-all"), tenant: "alice")
        _ = try registry.registerAdapter(name: "shared", sourcePath: env.path("a1-r8-qv"), tenant: "bob", isPublic: true)
        _ = try registry.registerAdapter(name: "secret", sourcePath: env.path("a2-r16-all-rslora"), tenant: "bob")

        try registry.setDefaultAdapter(tenant: "alice", adapter: "mine")
        #expect(try registry.tenant(named: "alice")?.defaultAdapter == "mine")
        try registry.setDefaultAdapter(tenant: "alice", adapter: "shared")
        #expect(try registry.tenant(named: "alice")?.defaultAdapter == "shared")
        #expect(registryError { try registry.setDefaultAdapter(tenant: "alice", adapter: "secret") }?.kind == .notFound)
        #expect(registryError { try registry.setDefaultAdapter(tenant: "ghost", adapter: "shared") }?.kind == .notFound)
        // Deleting the adapter clears the default rather than leaving it dangling.
        try registry.deleteAdapter(name: "shared", by: "bob")
        #expect(try registry.tenant(named: "alice")?.defaultAdapter == nil)
        try registry.setDefaultAdapter(tenant: "alice", adapter: "mine")
        try registry.setDefaultAdapter(tenant: "alice", adapter: nil)
        #expect(try registry.tenant(named: "alice")?.defaultAdapter == nil)
    }

    @Test func identicalFilesAreStoredOnce() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        // The same files under a second path are the same content.
        try RegistryEnvironment.copyAdapter(env.root.appendingPathComponent("a0-r4-all"),
                                            to: env.root.appendingPathComponent("copy"))
        let x = try registry.registerAdapter(name: "x", sourcePath: env.path("a0-r4-all"))
        let y = try registry.registerAdapter(name: "y", sourcePath: env.path("copy"))
        #expect(x.sha256 == y.sha256)
        #expect(try env.storeEntries() == [x.sha256])

        try registry.deleteAdapter(name: "x", by: "default")
        #expect(try env.storeEntries() == [x.sha256])
        _ = try registry.loadAdapter(y)
        let reopened = try env.open()
        #expect(try reopened.adapter(named: "y", visibleTo: "default")?.isBroken == false)
        try reopened.deleteAdapter(name: "y", by: "default")
        #expect(try env.storeEntries().isEmpty)
    }

    @Test func editingTheSourceLaterChangesNothing() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        let record = try registry.registerAdapter(name: "stable", sourcePath: env.path("a3-r8-all-alpha24"))
        let source = env.root.appendingPathComponent("a3-r8-all-alpha24")
        try Data("garbage".utf8).write(to: source.appendingPathComponent("adapter_model.safetensors"))
        try FileManager.default.removeItem(at: source.appendingPathComponent("adapter_config.json"))
        let adapter = try registry.loadAdapter(record)
        #expect(adapter.rank == 8)
        let reopened = try env.open()
        let again = try #require(try reopened.adapter(named: "stable", visibleTo: "default"))
        #expect(!again.isBroken)
        _ = try reopened.loadAdapter(again)
    }

    @Test func invalidAdaptersAreRefusedWithThePeftMessage() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        let bad = env.root.appendingPathComponent("bad-rank")
        try RegistryEnvironment.copyAdapter(env.root.appendingPathComponent("a1-r8-qv"), to: bad)
        let configURL = bad.appendingPathComponent("adapter_config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        config["r"] = 4
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let error = registryError { _ = try registry.registerAdapter(name: "bad", sourcePath: bad.path) }
        #expect(error?.kind == .invalid)
        // PeftAdapter's own text passes through.
        #expect(error?.message.contains("adapter \"bad\"") == true)
        #expect(error?.message.contains("adapter_config.json says 4") == true)

        let empty = env.root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let missing = registryError { _ = try registry.registerAdapter(name: "empty", sourcePath: empty.path) }
        #expect(missing?.kind == .invalid)
        #expect(missing?.message.contains("adapter_config.json") == true)

        let pickle = env.root.appendingPathComponent("pickle")
        try RegistryEnvironment.copyAdapter(env.root.appendingPathComponent("a1-r8-qv"), to: pickle)
        try FileManager.default.moveItem(at: pickle.appendingPathComponent("adapter_model.safetensors"),
                                        to: pickle.appendingPathComponent("adapter_model.bin"))
        #expect(registryError { _ = try registry.registerAdapter(name: "pickle", sourcePath: pickle.path) }?
            .message.contains("pickle") == true)
        #expect(try env.storeEntries().isEmpty)
        #expect(try registry.adapters(visibleTo: "default", isAdmin: true).isEmpty)
    }

    @Test func loradJSONSuppliesDefaults() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        let dir = env.root.appendingPathComponent("described")
        try RegistryEnvironment.copyAdapter(env.root.appendingPathComponent("a1-r8-qv"), to: dir)
        try Data(#"{"name": "described", "description": "Writes SQL.", "scale": 0.75}"#.utf8)
            .write(to: dir.appendingPathComponent("lorad.json"))
        let record = try registry.registerAdapter(name: "described", sourcePath: dir.path)
        #expect(record.description == "Writes SQL.")
        #expect(record.scale == 0.75)
        #expect(record.sha256 == (try RegistryEnvironment.expectedHash(of: dir)).sha256)
        #expect(FileManager.default.fileExists(atPath: registry.storeDirectory(for: record).appendingPathComponent("lorad.json").path))
        // An explicit description wins over lorad.json.
        let other = try registry.registerAdapter(name: "explicit", sourcePath: dir.path, description: "mine")
        #expect(other.description == "mine" && other.sha256 == record.sha256)

        try Data("[1, 2]".utf8).write(to: dir.appendingPathComponent("lorad.json"))
        #expect(registryError { _ = try registry.registerAdapter(name: "broken-json", sourcePath: dir.path) }?.kind == .invalid)
    }

    @Test func recordUseCounts() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        _ = try registry.registerAdapter(name: "used", sourcePath: env.path("a1-r8-qv"))
        let when = Date(timeIntervalSince1970: 1_800_000_000)
        for _ in 0..<10 { try registry.recordUse(name: "used", at: when) }
        let record = try #require(try registry.adapter(named: "used", visibleTo: "default"))
        #expect(record.requests == 10)
        #expect(record.lastUsedAt == when)
        #expect(registryError { try registry.recordUse(name: "unused") }?.kind == .notFound)
    }

    @Test func loadingADeletedAdapterIsNotFound() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        let record = try registry.registerAdapter(name: "gone", sourcePath: env.path("a1-r8-qv"))
        try registry.deleteAdapter(name: "gone", by: "default")
        #expect(registryError { _ = try registry.loadAdapter(record) }?.kind == .notFound)
    }
}
