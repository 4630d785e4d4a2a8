import Engine
import Foundation
import HTTPServer
import Kernels
import Model
import Registry
import Server
import Tokenization
#if canImport(Glibc)
import Glibc
#endif

let serveOptions: [(name: String, value: String, help: String)] = [
    ("model", "DIR|FILE.gguf|demo", "Hugging Face model directory, a GGUF file (or a directory holding one), or demo (the built-in demo model; the default)"),
    ("dtype", "TYPE", "projection weights: stored (default), f32, bf16, or quantized at load: q8_0, q4_0, q4_k, q6_k"),
    ("socket", "PATH", "Unix socket (default $LORAD_SOCKET, else $XDG_RUNTIME_DIR/lorad/lorad.sock, else /tmp/lorad-$UID/lorad.sock)"),
    ("data-dir", "DIR", "registry and adapter store (default $XDG_STATE_HOME/lorad, else ~/.local/state/lorad)"),
    ("pool-memory", "SIZE", "memory budget for adapters and KV cache: 512M, 4G or bytes (default 2G)"),
    ("threads", "N", "compute threads (default: the number of cores)"),
    ("max-batch-tokens", "N", "rows per forward pass: decode rows plus prompt chunks (default 256)"),
    ("lookahead", "auto|off|W,N,G", "lookahead decoding default (default auto)"),
    ("listen-tcp", "HOST:PORT", "also listen on TCP (bearer token required; loopback unless HOST says otherwise)"),
    ("adapter-root", "DIR", "a folder adapters may be registered from (repeatable)"),
    ("register-adapters", "DIR", "at start, register every adapter folder in DIR as a public adapter of the default tenant (skips names already registered; repeatable)"),
    ("max-connections", "N", "open connections at most (default 1024; 128 of them only the Unix socket may use)"),
    ("max-connections-per-address", "N", "open TCP connections from one remote address at most (default 128)"),
    ("tenants-may-publish", "yes|no", "tenants may register public adapters (default no: publishing is for admins)"),
    ("pin-share", "F", "share of the pool one tenant's pinned adapters may hold, 0...1 (default 0.25)"),
    ("max-body-bytes", "SIZE", "request body limit (default 8M)"),
    ("request-timeout", "S", "a request begun must arrive whole within S seconds, else 408 (default 30)"),
    ("drain-seconds", "S", "on SIGTERM/SIGINT, how long running requests may take to finish (default 30)"),
    ("config", "FILE", "read options from FILE (`name = value` lines, # comments); flags on the command line win"),
] + replicaOptions

let serveUsage: String = {
    var s = "usage: lorad serve [options]\n  serves the OpenAI-compatible API and adapter management over a Unix socket\n\noptions:\n"
    for o in serveOptions {
        let flag = "  --\(o.name) \(o.value)"
        s += flag.padding(toLength: max(flag.count + 2, 34), withPad: " ", startingAt: 0) + o.help + "\n"
    }
    s += "\nexample: lorad serve --model demo --register-adapters adapters/demo --socket /tmp/lorad.sock\n"
    return s
}()

/// `lorad serve`: the daemon.
func serveCommand(_ args: [String]) throws {
    let names = Set(serveOptions.map(\.name))
    var a = try Arguments(args, options: names, switches: ["help"])
    if a.has("help") { print(serveUsage); return }
    guard a.positional.isEmpty else { throw UsageError("serve takes no positional arguments (got \"\(a.positional[0])\")") }
    if let file = a.string("config") {
        a = try Arguments(try configFileArguments(file, known: names) + args, options: names, switches: ["help"])
    }
    let settings = try ServeSettings(a)
    let daemon = try Daemon(settings)
    try daemon.run()
}

/// `lorad serve` options, checked.
struct ServeSettings {
    var model: String
    var socketPath: String
    var dataDirectory: URL
    var poolBytes: Int
    var threads: Int
    var maxBatchTokens: Int
    var precision: WeightPrecision
    var lookahead: LookaheadMode
    var tcp: (host: String, port: Int)?
    var adapterRoots: [URL]
    var registerFrom: [URL]
    var maxConnections: Int
    var maxConnectionsPerAddress: Int
    var tenantsMayPublish: Bool
    var pinShare: Double
    var maxBodyBytes: Int
    var drainSeconds: Double
    var requestTimeout: Double
    /// Running as one replica of many: metrics listener, adapter sync, declarative files (ReplicaSettings.swift).
    var replica: ReplicaSettings

    init(_ a: Arguments) throws {
        let env = ProcessInfo.processInfo.environment
        model = a.string("model") ?? "demo"
        socketPath = a.string("socket") ?? defaultSocketPath(env)
        dataDirectory = URL(fileURLWithPath: a.string("data-dir") ?? defaultDataDirectory(env))
        poolBytes = try a.string("pool-memory").map { try parseSize($0, flag: "pool-memory") } ?? (2 << 30)
        // The pool is mapped without reserving it, so a budget past the machine's memory would start and then
        // fail under load (the OOM killer), long after the typo.
        let memory = memoryLimit()
        guard UInt64(poolBytes) <= memory.bytes else {
            throw UsageError("--pool-memory \(a.string("pool-memory") ?? "") is more than \(memory.what) "
                             + "(\(memory.bytes >> 20) MiB)")
        }
        threads = try a.int("threads") ?? ProcessInfo.processInfo.activeProcessorCount
        guard (1...256).contains(threads) else { throw UsageError("--threads must be 1...256") }
        precision = try weightPrecision(a)
        maxBatchTokens = try a.int("max-batch-tokens") ?? 256
        guard (1...65536).contains(maxBatchTokens) else { throw UsageError("--max-batch-tokens must be 1...65536") }
        lookahead = try lookaheadOption(a)
        if let spec = a.string("listen-tcp") {
            guard let colon = spec.lastIndex(of: ":"), let port = Int(spec[spec.index(after: colon)...]),
                  (0...65535).contains(port) else {
                throw UsageError("--listen-tcp expects HOST:PORT, got \"\(spec)\"")
            }
            let host = String(spec[..<colon])
            tcp = (host.isEmpty ? "127.0.0.1" : host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
        }
        registerFrom = a.strings("register-adapters").map { URL(fileURLWithPath: $0) }
        adapterRoots = a.strings("adapter-root").map { URL(fileURLWithPath: $0) } + registerFrom
        maxConnections = try a.int("max-connections") ?? 1024
        guard (1...1_000_000).contains(maxConnections) else { throw UsageError("--max-connections must be 1...1000000") }
        maxConnectionsPerAddress = try a.int("max-connections-per-address") ?? 128
        guard (1...1_000_000).contains(maxConnectionsPerAddress) else {
            throw UsageError("--max-connections-per-address must be 1...1000000")
        }
        switch a.string("tenants-may-publish") ?? "no" {
        case "yes": tenantsMayPublish = true
        case "no": tenantsMayPublish = false
        case let other: throw UsageError("--tenants-may-publish must be yes or no (got \"\(other)\")")
        }
        pinShare = try a.double("pin-share") ?? 0.25
        guard (0...1).contains(pinShare) else { throw UsageError("--pin-share must be in 0...1") }
        maxBodyBytes = try a.string("max-body-bytes").map { try parseSize($0, flag: "max-body-bytes") } ?? (8 << 20)
        drainSeconds = try a.double("drain-seconds") ?? 30
        guard drainSeconds >= 0 else { throw UsageError("--drain-seconds must not be negative") }
        requestTimeout = try a.double("request-timeout") ?? 30
        guard requestTimeout > 0 && requestTimeout <= 3600 else { throw UsageError("--request-timeout must be in (0, 3600]") }
        replica = try ReplicaSettings(a)
    }
}

func defaultSocketPath(_ env: [String: String]) -> String {
    if let s = env["LORAD_SOCKET"], !s.isEmpty { return s }
    if let r = env["XDG_RUNTIME_DIR"], !r.isEmpty { return r + "/lorad/lorad.sock" }
    return "/tmp/lorad-\(getuid())/lorad.sock"
}

func defaultDataDirectory(_ env: [String: String]) -> String {
    if let s = env["XDG_STATE_HOME"], !s.isEmpty { return s + "/lorad" }
    return (env["HOME"] ?? "/tmp") + "/.local/state/lorad"
}

/// The memory this process may use: the machine's, or its container's limit when one is set (cgroup v2
/// `memory.max`, v1 `memory.limit_in_bytes`, as a container sees them at /sys/fs/cgroup).
func memoryLimit() -> (bytes: UInt64, what: String) {
    var limit = (bytes: ProcessInfo.processInfo.physicalMemory, what: "this machine's memory")
    for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
        guard let data = FileManager.default.contents(atPath: path),
              let bytes = UInt64(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
              bytes < limit.bytes else { continue }   // "max", unreadable, or no lower than the machine's
        limit = (bytes, "this container's memory limit")
    }
    return limit
}

/// `512M`, `4G`, `64K`, or bytes.
func parseSize(_ text: String, flag: String) throws -> Int {
    let t = text.trimmingCharacters(in: .whitespaces).uppercased()
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var digits = Substring(t)
    var unit = 1
    if t.hasSuffix("B") && t.count > 1 { digits = digits.dropLast() }
    if let last = digits.last, let u = units[last] {
        unit = u
        digits = digits.dropLast()
    }
    guard let value = Double(digits), value.isFinite, value > 0, value * Double(unit) < 1e15 else {
        throw UsageError("--\(flag) expects a size like 512M, 4G or a byte count, got \"\(text)\"")
    }
    return Int(value * Double(unit))
}

/// A config file as command-line arguments: `name = value` (or `name value`) per line, `#` comments, blank lines.
/// LF or CRLF line ends, a leading UTF-8 byte-order mark, and tabs for spaces are all accepted.
func configFileArguments(_ path: String, known: Set<String>) throws -> [String] {
    guard let data = FileManager.default.contents(atPath: path), var text = String(data: data, encoding: .utf8) else {
        throw CommandError("cannot read the config file \(path)")
    }
    if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
    var out: [String] = []
    // Split on Character.isNewline: "\r\n" is one Character, so splitting on "\n" alone would never split a CRLF file.
    for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
        let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        if line.isEmpty { continue }
        let parts: [String]
        if let eq = line.firstIndex(of: "=") {
            parts = [String(line[..<eq]), String(line[line.index(after: eq)...])]
        } else {
            parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        }
        let name = parts[0].trimmingCharacters(in: .whitespaces)
        let value = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        guard known.contains(name), name != "config" else {
            throw CommandError("\(path):\(n + 1): unknown option \"\(name)\"")
        }
        let unquoted = value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"")
            ? String(value.dropFirst().dropLast()) : value
        guard !unquoted.isEmpty else { throw CommandError("\(path):\(n + 1): option \"\(name)\" needs a value") }
        out += ["--\(name)", unquoted]
    }
    return out
}
