import Credentials
import Foundation
import Registry
import Synchronization

/// One declarative file's entries, as parsed. Both files are lines of words; `#` starts a comment; blank lines are
/// skipped; every unknown word is an error naming its line.
///
/// tenants file (`--tenants-file`, a Kubernetes Secret):
///     tenant NAME [max_concurrent=N] [max_adapters=N] [default_adapter=ADAPTER]
///     token NAME sha256:LOOKUP:SALT:HASH        (the line `loractl tenants token NAME --hash-only` prints)
/// adapters file (`--adapters-file`, a ConfigMap):
///     adapter NAME PATH [tenant=NAME] [public=true|false] [scale=X]       (public defaults to true)
public struct DeclaredTenant: Sendable, Equatable {
    public var name: String
    public var maxConcurrent: Int?
    public var maxAdapters: Int?
    public var defaultAdapter: String?
    public var tokens: [TokenHash] = []
}

public struct DeclaredAdapter: Sendable, Equatable {
    public var name: String
    public var path: String
    public var tenant = Tenant.defaultName
    public var isPublic = true
    public var scale: Double?
}

public struct DeclaredFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ path: String, _ line: Int?, _ message: String) {
        description = line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)"
    }
}

public enum DeclaredFiles {
    static let maxBytes = 4 << 20
    static let maxLineBytes = 4096
    static let maxEntries = 100_000

    public static func parseTenants(_ text: String, path: String) throws -> [DeclaredTenant] {
        var tenants: [DeclaredTenant] = []
        var index: [String: Int] = [:]
        var lookups: Set<String> = []
        for (n, words) in try lines(text, path: path) {
            switch words[0] {
            case "tenant":
                guard words.count >= 2 else { throw DeclaredFileError(path, n, "\"tenant\" needs a name") }
                var t = DeclaredTenant(name: words[1])
                guard index[t.name] == nil else { throw DeclaredFileError(path, n, "tenant \"\(t.name)\" is declared twice") }
                for (key, value) in try options(words.dropFirst(2), path: path, line: n) {
                    switch key {
                    case "max_concurrent": t.maxConcurrent = try int(value, key, path, n)
                    case "max_adapters": t.maxAdapters = try int(value, key, path, n)
                    case "default_adapter": t.defaultAdapter = value
                    default: throw DeclaredFileError(path, n, "unknown tenant option \"\(key)\" (accepted: max_concurrent, max_adapters, default_adapter)")
                    }
                }
                index[t.name] = tenants.count
                tenants.append(t)
            case "token":
                guard words.count == 3 else { throw DeclaredFileError(path, n, "expected \"token NAME sha256:LOOKUP:SALT:HASH\"") }
                guard let i = index[words[1]] else {
                    throw DeclaredFileError(path, n, "token for tenant \"\(words[1])\", which no earlier \"tenant\" line declares")
                }
                guard let hash = TokenHash(text: words[2]) else {
                    let shown = BearerToken.isWellFormed(words[2]) ? "a plain token (store its hash: loractl tenants token NAME --hash-only)" : "not sha256:LOOKUP(16 hex):SALT(32 hex):HASH(64 hex)"
                    throw DeclaredFileError(path, n, "the token is \(shown)")
                }
                guard lookups.insert(hash.lookup).inserted else { throw DeclaredFileError(path, n, "this token is listed twice") }
                tenants[i].tokens.append(hash)
            default:
                throw DeclaredFileError(path, n, "unknown entry \"\(words[0])\" (expected tenant or token)")
            }
        }
        return tenants
    }

    public static func parseAdapters(_ text: String, path: String) throws -> [DeclaredAdapter] {
        var adapters: [DeclaredAdapter] = []
        var names: Set<String> = []
        for (n, words) in try lines(text, path: path) {
            guard words[0] == "adapter" else {
                throw DeclaredFileError(path, n, "unknown entry \"\(words[0])\" (expected adapter)")
            }
            guard words.count >= 3 else { throw DeclaredFileError(path, n, "expected \"adapter NAME PATH [options]\"") }
            var a = DeclaredAdapter(name: words[1], path: words[2])
            guard names.insert(a.name).inserted else { throw DeclaredFileError(path, n, "adapter \"\(a.name)\" is declared twice") }
            for (key, value) in try options(words.dropFirst(3), path: path, line: n) {
                switch key {
                case "tenant": a.tenant = value
                case "public":
                    guard let b = ["true": true, "false": false][value] else {
                        throw DeclaredFileError(path, n, "public must be true or false, got \"\(value)\"")
                    }
                    a.isPublic = b
                case "scale":
                    guard let s = Double(value), s.isFinite else { throw DeclaredFileError(path, n, "scale must be a number, got \"\(value)\"") }
                    a.scale = s
                default: throw DeclaredFileError(path, n, "unknown adapter option \"\(key)\" (accepted: tenant, public, scale)")
                }
            }
            adapters.append(a)
        }
        return adapters
    }

    /// Reads a declarative file, bounded.
    public static func read(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw DeclaredFileError(path, nil, "cannot be read") }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maxBytes + 1)) ?? Data()
        guard data.count <= maxBytes else { throw DeclaredFileError(path, nil, "is larger than \(maxBytes >> 20) MiB") }
        guard let text = String(data: data, encoding: .utf8) else { throw DeclaredFileError(path, nil, "is not UTF-8") }
        return text
    }

    /// Non-empty lines as words (split on spaces and tabs), with their 1-based line numbers.
    static func lines(_ text: String, path: String) throws -> [(Int, [String])] {
        var out: [(Int, [String])] = []
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            guard raw.utf8.count <= maxLineBytes else { throw DeclaredFileError(path, i + 1, "line longer than \(maxLineBytes) bytes") }
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\u{FEFF}" }).map(String.init)
            if words.isEmpty { continue }
            out.append((i + 1, words))
            guard out.count <= maxEntries else { throw DeclaredFileError(path, i + 1, "more than \(maxEntries) entries") }
        }
        return out
    }

    static func options(_ words: ArraySlice<String>, path: String, line: Int) throws -> [(String, String)] {
        try words.map { w in
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex, w.index(after: eq) != w.endIndex else {
                throw DeclaredFileError(path, line, "expected key=value, got \"\(w)\"")
            }
            return (String(w[..<eq]), String(w[w.index(after: eq)...]))
        }
    }

    static func int(_ value: String, _ key: String, _ path: String, _ line: Int) throws -> Int {
        guard let n = Int(value) else { throw DeclaredFileError(path, line, "\(key) must be an integer, got \"\(value)\"") }
        return n
    }
}
