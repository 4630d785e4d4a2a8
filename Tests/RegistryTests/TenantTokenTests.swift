import Foundation
import Registry
import Testing

/// Tenants (names, uids, limits, deletion) and bearer tokens (shown once, stored only as salted hashes).
@Suite struct TenantTokenTests {
    @Test func defaultTenantExistsFromTheFirstOpen() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        #expect(try registry.tenants().map(\.name) == ["default"])
        #expect(try registry.tenant(named: "default")?.uid == nil)
    }

    @Test func createAndFindTenants() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        let alice = try registry.createTenant(name: "alice", uid: 1000, maxConcurrent: 4, maxAdapters: 10)
        #expect(alice.name == "alice" && alice.uid == 1000 && alice.maxConcurrent == 4 && alice.maxAdapters == 10)
        #expect(alice.defaultAdapter == nil)
        #expect(try registry.tenant(named: "alice") == alice)
        #expect(try registry.tenant(uid: 1000) == alice)
        #expect(try registry.tenant(uid: 1001) == nil)
        #expect(try registry.tenant(named: "bob") == nil)
        let big = try registry.createTenant(name: "big-uid", uid: UInt32.max)
        #expect(try registry.tenant(uid: UInt32.max) == big)
        #expect(try registry.tenants().map(\.name) == ["alice", "big-uid", "default"])

        #expect(registryError { _ = try registry.createTenant(name: "alice") }?.kind == .conflict)
        let uidClash = registryError { _ = try registry.createTenant(name: "alias", uid: 1000) }
        #expect(uidClash?.kind == .conflict)
        #expect(uidClash?.message.contains("alice") == true)
        #expect(registryError { _ = try registry.createTenant(name: "neg", maxAdapters: -1) }?.kind == .invalid)
        #expect(registryError { _ = try registry.createTenant(name: "zero", maxConcurrent: 0) }?.kind == .invalid)
    }

    @Test(arguments: ["", "Alice", "-x", ".x", "_x", "a b", "a/b", "é", String(repeating: "a", count: 65)])
    func invalidTenantNames(_ name: String) throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        let error = registryError { _ = try registry.createTenant(name: name) }
        #expect(error?.kind == .invalid)
        #expect(error?.message.contains("\"\(name)\"") == true)
    }

    @Test(arguments: ["a", "0", "team-1.prod_x", String(repeating: "z", count: 64)])
    func validTenantNames(_ name: String) throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        #expect(try registry.createTenant(name: name).name == name)
    }

    @Test func deletingTenants() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        _ = try registry.createTenant(name: "owner")
        _ = try registry.createTenant(name: "empty")
        _ = try registry.registerAdapter(name: "mine", sourcePath: env.path("a1-r8-qv"), tenant: "owner")
        let token = try registry.createToken(tenant: "empty")

        let busy = registryError { try registry.deleteTenant(name: "owner") }
        #expect(busy?.kind == .conflict)
        #expect(busy?.message.contains("mine") == true)
        #expect(registryError { try registry.deleteTenant(name: "default") }?.kind == .forbidden)
        #expect(registryError { try registry.deleteTenant(name: "ghost") }?.kind == .notFound)

        try registry.deleteTenant(name: "empty")
        #expect(try registry.tenant(named: "empty") == nil)
        #expect(try registry.tenant(forToken: token) == nil)
        // Once its adapters are gone, the owner can go too.
        try registry.deleteAdapter(name: "mine", by: "owner")
        try registry.deleteTenant(name: "owner")
        #expect(try registry.tenants().map(\.name) == ["default"])
    }

    @Test func tokensResolveToTheirTenant() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        _ = try registry.createTenant(name: "alice")
        _ = try registry.createTenant(name: "bob")
        let a = try registry.createToken(tenant: "alice")
        let b = try registry.createToken(tenant: "bob")
        let a2 = try registry.createToken(tenant: "alice")
        for token in [a, b, a2] {
            #expect(token.hasPrefix("lrd_") && token.count == 47)
        }
        #expect(Set([a, b, a2]).count == 3)
        #expect(try registry.tenant(forToken: a)?.name == "alice")
        #expect(try registry.tenant(forToken: a2)?.name == "alice")
        #expect(try registry.tenant(forToken: b)?.name == "bob")

        // A token one character off, truncated, extended, or empty resolves to nobody.
        var wrong = Array(a)
        wrong[20] = wrong[20] == "A" ? "B" : "A"
        for bad in [String(wrong), String(a.dropLast()), a + "x", "", "lrd_", "Bearer " + a, a.uppercased()] {
            #expect(try registry.tenant(forToken: bad) == nil, "\(bad)")
        }
        #expect(registryError { _ = try registry.createToken(tenant: "ghost") }?.kind == .notFound)

        #expect(try registry.revokeTokens(tenant: "alice") == 2)
        #expect(try registry.tenant(forToken: a) == nil)
        #expect(try registry.tenant(forToken: b)?.name == "bob")
    }

    /// The token never reaches the disk: neither the database file nor its WAL holds it, open or closed.
    @Test func tokensAreNeverStoredInClear() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        _ = try registry.createTenant(name: "alice")
        let tokens = try (0..<5).map { _ in try registry.createToken(tenant: "alice") }

        func assertAbsent(_ when: String) throws {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let path = env.data.appendingPathComponent("registry.sqlite" + suffix).path
                guard let bytes = FileManager.default.contents(atPath: path) else { continue }
                for token in tokens {
                    // Neither the whole token nor its random part (which would reveal it) occurs.
                    #expect(bytes.range(of: Data(token.utf8)) == nil, "\(when): token found in registry.sqlite\(suffix)")
                    #expect(bytes.range(of: Data(token.dropFirst(4).utf8)) == nil, "\(when): token body in \(suffix)")
                }
            }
        }
        #expect(FileManager.default.fileExists(atPath: env.data.appendingPathComponent("registry.sqlite-wal").path))
        try assertAbsent("while open")
        registry.close()
        try assertAbsent("after close")
        #expect(registryError { _ = try registry.tenants() }?.kind == .io)

        let reopened = try env.open()
        #expect(try reopened.tenant(forToken: tokens[3])?.name == "alice")
    }
}
