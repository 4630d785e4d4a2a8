import Foundation

/// Bearer tokens: `lrd_` + 43 base64url characters (32 random bytes). Only a salted SHA-256 is stored, plus a
/// short unsalted lookup prefix of another hash so a token finds its row without scanning; the token itself is
/// returned once, at creation.
enum TokenHashing {
    static let prefix = "lrd_"
    static let randomBytes = 32
    static let encodedLength = 43

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func isWellFormed(_ token: String) -> Bool {
        guard token.hasPrefix(prefix) else { return false }
        let body = token.utf8.dropFirst(prefix.utf8.count)
        return body.count == encodedLength && body.allSatisfy {
            ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f
        }
    }

    /// 16 hex digits identifying the row; reveals nothing usable about a 256-bit random token.
    static func lookup(_ token: String) -> String {
        var h = SHA256()
        h.update("lorad-token-lookup\u{0}")
        h.update(token)
        return String(h.hexDigest().prefix(16))
    }

    static func hash(_ token: String, salt: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(salt)
        h.update(token)
        return h.finalize()
    }

    /// Compares every byte whatever the first difference, so timing reveals nothing about the stored hash.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

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
