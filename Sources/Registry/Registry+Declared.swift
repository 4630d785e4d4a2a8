import Credentials
import Foundation

/// Tenants as a tenants file declares them (`--tenants-file`): the registry is brought to match, so replicas that
/// read the same file accept the same tokens.
extension Registry {
    /// A tenant's name and limits, checked as every path that creates or changes a tenant checks them.
    static func checkTenant(name: String, maxConcurrent: Int?, maxAdapters: Int?) throws {
        try Names.check(name, what: "tenant")
        if let maxConcurrent, maxConcurrent < 1 {
            throw RegistryError(.invalid, "tenant \"\(name)\": max_concurrent \(maxConcurrent) must be at least 1")
        }
        if let maxAdapters, maxAdapters < 0 {
            throw RegistryError(.invalid, "tenant \"\(name)\": max_adapters \(maxAdapters) must not be negative")
        }
    }

    /// Creates `name` or updates its limits, and makes its tokens exactly `tokens` (hashes, as the file holds them).
    /// Returns whether anything changed. Other tenants are not touched.
    @discardableResult
    public func applyDeclaredTenant(name: String, maxConcurrent: Int?, maxAdapters: Int?, tokens: [TokenHash]) throws -> Bool {
        try Self.checkTenant(name: name, maxConcurrent: maxConcurrent, maxAdapters: maxAdapters)
        return try withDatabase { db in
            try db.transaction {
                var changed = false
                if let existing = try Self.tenant(named: name, in: db) {
                    if existing.maxConcurrent != maxConcurrent || existing.maxAdapters != maxAdapters {
                        try db.run("UPDATE tenants SET max_concurrent = ?, max_adapters = ? WHERE name = ?",
                                   maxConcurrent, maxAdapters, name)
                        try Self.audit(db, actor: "tenants-file", action: "tenant.limits", subject: name,
                                       detail: "max_concurrent \(maxConcurrent.map(String.init) ?? "none"), max_adapters \(maxAdapters.map(String.init) ?? "none")")
                        changed = true
                    }
                } else {
                    try db.run("INSERT INTO tenants (name, max_concurrent, max_adapters, created_at) VALUES (?, ?, ?, ?)",
                               name, maxConcurrent, maxAdapters, Date())
                    try Self.audit(db, actor: "tenants-file", action: "tenant.create", subject: name)
                    changed = true
                }
                let id = try Self.tenantID(name, in: db)
                let stored = try db.query("SELECT lookup, salt, hash FROM tokens WHERE tenant_id = ?", id).map {
                    TokenHash(lookup: try $0.string("lookup"), salt: try $0.blob("salt"), hash: try $0.blob("hash"))
                }
                let wanted = Set(tokens.map(\.text)), have = Set(stored.map(\.text))
                if wanted != have {
                    for token in tokens where !have.contains(token.text) {
                        if let owner = try db.query("SELECT t.name FROM tokens k JOIN tenants t ON t.id = k.tenant_id WHERE k.lookup = ? AND k.tenant_id != ?",
                                                    token.lookup, id).first {
                            throw RegistryError(.conflict, "tenant \"\(name)\": a declared token is already a token of tenant \"\(try owner.string("name"))\"")
                        }
                    }
                    try db.run("DELETE FROM tokens WHERE tenant_id = ?", id)
                    for token in tokens {
                        try db.run("INSERT INTO tokens (tenant_id, lookup, salt, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                                   id, token.lookup, token.salt, token.hash, Date())
                    }
                    try Self.audit(db, actor: "tenants-file", action: "token.replace", subject: name,
                                   detail: "\(stored.count) -> \(tokens.count) token(s)")
                    changed = true
                }
                return changed
            }
        }
    }
}
