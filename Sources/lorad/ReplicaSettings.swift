import Foundation
import HTTPServer
import Server

/// `lorad serve` options for running as one replica of many behind a gateway (docs in deploy/README.md).
let replicaOptions: [(name: String, value: String, help: String)] = [
    ("listen-metrics", "HOST:PORT", "serve GET /metrics, /health and /ready there without a token (for the cluster's scraper, the gateway's endpoint picker and readiness probes); nothing else"),
    ("metrics-compat", "none|vllm", "also write the endpoint-picker series under vLLM's names (vllm:num_requests_waiting, vllm:gpu_cache_usage_perc, vllm:lora_requests_info, ...) (default none)"),
    ("max-loras", "N", "adapters resident in the pool at most (reported as max_lora; default: as many as the pool holds)"),
    ("listen-adapter-sync", "HOST:PORT", "loopback only: vLLM's load_lora_adapter/unload_lora_adapter, /v1/models and /health without a token, as an admin, for an adapter-syncer sidecar in the same pod"),
    ("tenants-file", "FILE", "tenants and token hashes (a Kubernetes Secret), applied at start, on SIGHUP and when the file changes"),
    ("adapters-file", "FILE", "the adapters to serve (a ConfigMap), applied at start, on SIGHUP and when the file changes"),
]

/// The replica options, checked.
struct ReplicaSettings {
    var metricsAddress: (host: String, port: Int)?
    var metricsCompat: MetricsCompat
    var maxLoras: Int?
    var adapterSyncAddress: (host: String, port: Int)?
    var tenantsFile: String?
    var adaptersFile: String?

    init(_ a: Arguments) throws {
        metricsAddress = try a.string("listen-metrics").map { try parseListenAddress($0, flag: "listen-metrics") }
        let compat = a.string("metrics-compat") ?? "none"
        guard let c = MetricsCompat(rawValue: compat) else {
            throw UsageError("--metrics-compat expects none or vllm, got \"\(compat)\"")
        }
        metricsCompat = c
        maxLoras = try a.int("max-loras")
        if let n = maxLoras, !(1...100_000).contains(n) { throw UsageError("--max-loras must be 1...100000") }
        adapterSyncAddress = try a.string("listen-adapter-sync").map { try parseListenAddress($0, flag: "listen-adapter-sync") }
        if let host = adapterSyncAddress?.host, !["127.0.0.1", "::1", "localhost"].contains(host) {
            throw UsageError("--listen-adapter-sync answers as an admin without a token, so it listens on loopback only (127.0.0.1, ::1 or localhost), not \"\(host)\"")
        }
        tenantsFile = a.string("tenants-file")
        adaptersFile = a.string("adapters-file")
    }
}

/// `HOST:PORT`, `:PORT` (loopback) or `[v6]:PORT`.
func parseListenAddress(_ spec: String, flag: String) throws -> (host: String, port: Int) {
    guard let colon = spec.lastIndex(of: ":"), let port = Int(spec[spec.index(after: colon)...]),
          (0...65535).contains(port) else {
        throw UsageError("--\(flag) expects HOST:PORT, got \"\(spec)\"")
    }
    let host = String(spec[..<colon])
    return (host.isEmpty ? "127.0.0.1" : host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
}

/// The extra listeners of a replica: each its own HTTP server (own connection limit, own loop thread), so a busy
/// API never starves the probes, and a probe listener never reaches an API endpoint.
final class ReplicaListeners: Sendable {
    let servers: [(server: HTTPServer, what: String, host: String, port: Int)]

    init(settings: ReplicaSettings, service: APIService, http: HTTPServerConfiguration) throws {
        var list: [(HTTPServer, String, String, Int)] = []
        for (address, scope, what) in [(settings.metricsAddress, ScopedService.Scope.probes, "metrics"),
                                       (settings.adapterSyncAddress, .adapterSync, "adapter sync")] {
            guard let address else { continue }
            var configuration = http
            configuration.maxConnections = min(http.maxConnections, 64)
            // TCP only: no connections kept back for a Unix socket (the reserve would leave TCP none).
            configuration.unixReserve = 0
            configuration.maxConnectionsPerAddress = min(http.maxConnectionsPerAddress, 64)
            let scoped = ScopedService(api: service, scope: scope)
            let server = try HTTPServer(configuration: configuration) { request, responder in
                scoped.handle(HTTPBridge.call(from: request), reply: HTTPAPIReply(responder))
            }
            let port = try server.listen(host: address.host, port: address.port)
            list.append((server, what, address.host, port))
        }
        servers = list
    }

    func start() throws {
        for s in servers { try s.server.start() }
    }

    /// " and metrics on HOST:PORT ..." for the ready line.
    var summary: String {
        servers.map { " and \($0.what) on \($0.host.contains(":") ? "[\($0.host)]" : $0.host):\($0.port)" }.joined()
    }

    func shutdown() {
        for s in servers { s.server.shutdown() }
    }
}
