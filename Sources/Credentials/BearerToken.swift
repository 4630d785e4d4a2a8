/// Bearer tokens: `lrd_` + 43 base64url characters (32 random bytes). Only a salted SHA-256 is stored, plus a
/// short unsalted lookup prefix of another hash so a token finds its row without scanning; the token itself is
/// shown once, at creation. Shared by the registry (which stores and checks hashes) and loractl (which makes a
/// token and its hash line for a tenants file without a daemon).
public enum BearerToken {
    public static let prefix = "lrd_"
    public static let randomBytes = 32
    public static let encodedLength = 43

    /// A new token from the system's cryptographic random source (getrandom on Linux).
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        return prefix + base64url((0..<randomBytes).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    public static func base64url(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            let chunk = (UInt32(bytes[i]) << 16) | (n > 1 ? UInt32(bytes[i + 1]) << 8 : 0) | (n > 2 ? UInt32(bytes[i + 2]) : 0)
            for j in 0...n { out.append(alphabet[Int((chunk >> UInt32(18 - 6 * j)) & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func isWellFormed(_ token: String) -> Bool {
        guard token.hasPrefix(prefix) else { return false }
        let body = token.utf8.dropFirst(prefix.utf8.count)
        return body.count == encodedLength && body.allSatisfy {
            ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f
        }
    }

    /// 16 hex digits identifying the row; reveals nothing usable about a 256-bit random token.
    public static func lookup(_ token: String) -> String {
        var h = SHA256()
        h.update("lorad-token-lookup\u{0}")
        h.update(token)
        return String(h.hexDigest().prefix(16))
    }

    public static func hash(_ token: String, salt: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(salt)
        h.update(token)
        return h.finalize()
    }

    /// Compares every byte whatever the first difference, so timing reveals nothing about the stored hash.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

/// A token as a tenants file stores it: `sha256:LOOKUP:SALT:HASH` (16, 32 and 64 lowercase hex digits), what the
/// registry keeps per token. Never the token itself.
public struct TokenHash: Sendable, Equatable {
    public var lookup: String
    public var salt: [UInt8]
    public var hash: [UInt8]

    /// Hashes `token` with a fresh 16-byte salt.
    public init(token: String) {
        var rng = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        self.init(lookup: BearerToken.lookup(token), salt: salt, hash: BearerToken.hash(token, salt: salt))
    }

    public init(lookup: String, salt: [UInt8], hash: [UInt8]) {
        self.lookup = lookup
        self.salt = salt
        self.hash = hash
    }

    /// Parses `sha256:LOOKUP:SALT:HASH`; nil when any part is missing, of the wrong length or not hex.
    public init?(text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "sha256", parts[1].utf8.count == 16, Self.hexBytes(parts[1]) != nil,
              let salt = Self.hexBytes(parts[2]), salt.count == 16,
              let hash = Self.hexBytes(parts[3]), hash.count == 32 else { return nil }
        self.init(lookup: parts[1], salt: salt, hash: hash)
    }

    public var text: String { "sha256:\(lookup):\(SHA256.hex(salt)):\(SHA256.hex(hash))" }

    /// Does `token` hash to this?
    public func matches(_ token: String) -> Bool {
        BearerToken.lookup(token) == lookup && BearerToken.constantTimeEqual(BearerToken.hash(token, salt: salt), hash)
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        let digits = Array(s.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = value(digits[i]), let lo = value(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
