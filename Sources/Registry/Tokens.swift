import Credentials
import Foundation

/// The token format and hashing live in Credentials (loractl makes tenants-file lines with them too).
typealias TokenHashing = BearerToken

extension Registry {
    /// Creates a bearer token for `tenant` and returns it. This is the only time the token is visible.
    public func createToken(tenant: String) throws -> String {
        let token = TokenHashing.prefix + TokenHashing.base64url(try FileOps.randomBytes(TokenHashing.randomBytes))
        let salt = try FileOps.randomBytes(16)
        let hash = TokenHashing.hash(token, salt: salt)
        try withDatabase { db in
            try db.transaction {
                let tenantID = try Self.tenantID(tenant, in: db)
                try db.run("INSERT INTO tokens (tenant_id, lookup, salt, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                           tenantID, TokenHashing.lookup(token), salt, hash, Date())
                try Self.audit(db, actor: "admin", action: "token.create", subject: tenant,
                               detail: "token #\(db.lastInsertRowID)")
            }
        }
        return token
    }

    /// The tenant a bearer token belongs to, or nil for an unknown or malformed token.
    public func tenant(forToken token: String) throws -> Tenant? {
        guard TokenHashing.isWellFormed(token) else { return nil }
        let lookup = TokenHashing.lookup(token)
        return try withDatabase { db in
            guard let row = try db.query("SELECT tenant_id, salt, hash FROM tokens WHERE lookup = ?", lookup).first else {
                return nil
            }
            let expected = try row.blob("hash")
            guard TokenHashing.constantTimeEqual(TokenHashing.hash(token, salt: try row.blob("salt")), expected) else {
                return nil
            }
            return try db.query(Self.tenantSelect + " WHERE t.id = ?", try row.int("tenant_id")).first.map(Self.tenant(from:))
        }
    }

    /// Revokes every token of `tenant`; returns how many there were.
    @discardableResult
    public func revokeTokens(tenant: String) throws -> Int {
        try withDatabase { db in
            try db.transaction {
                let tenantID = try Self.tenantID(tenant, in: db)
                let count = try db.run("DELETE FROM tokens WHERE tenant_id = ?", tenantID)
                try Self.audit(db, actor: "admin", action: "token.revoke", subject: tenant, detail: "\(count) token(s)")
                return count
            }
        }
    }
}
