import Engine
import Foundation
import Kernels
import Registry
import Synchronization
import Wire

/// What a replica tells its orchestrator and gateway: which metric names it writes, and whether it is ready for
/// traffic (nil reason = ready). Set by the daemon; read by every request thread.
public final class ServingState: Sendable {
    private let compat = Mutex(MetricsCompat.none)
    private let notReady = Mutex<String?>("starting")

    public var metricsCompat: MetricsCompat {
        get { compat.withLock { $0 } }
        set { compat.withLock { $0 = newValue } }
    }

    /// Why the replica should get no traffic now (starting, draining, a declarative file failed), or nil.
    public var notReadyReason: String? {
        get { notReady.withLock { $0 } }
        set { notReady.withLock { $0 = newValue } }
    }
}

/// A listener with a narrow job, answered without a token:
/// - `probes` (`--listen-metrics`): `GET /metrics` (every series, tenants included: the listener is for the
///   cluster's scraper and the gateway's endpoint picker), `GET /health`, `GET /ready`; nothing else.
/// - `adapterSync` (`--listen-adapter-sync`, loopback only): what vLLM's adapter syncer calls, as an admin:
///   `GET /health`, `GET /v1/models`, `POST /v1/load_lora_adapter`, `POST /v1/unload_lora_adapter`.
public final class ScopedService: Sendable {
    public enum Scope: Sendable { case probes, adapterSync }

    public let api: APIService
    public let scope: Scope

    public init(api: APIService, scope: Scope) {
        self.api = api
        self.scope = scope
    }

    /// The routes each scope serves: method and path.
    static func routes(_ scope: Scope) -> [(method: String, path: String)] {
        switch scope {
        case .probes: return [("GET", "/metrics"), ("GET", "/health"), ("GET", "/ready")]
        case .adapterSync:
            return [("GET", "/health"), ("GET", "/v1/models"), ("POST", "/v1/load_lora_adapter"),
                    ("POST", "/v1/unload_lora_adapter")]
        }
    }

    public func handle(_ call: APICall, reply: APIReply) {
        let routes = Self.routes(scope)
        let path = call.path.count > 1 && call.path.hasSuffix("/") ? String(call.path.dropLast()) : call.path
        guard routes.contains(where: { $0.path == path }) else {
            let served = routes.map { "\($0.method) \($0.path)" }.joined(separator: ", ")
            reply.fail(.notFound("no endpoint \(call.method) \(call.path) on this listener (it serves \(served))",
                                 code: "unknown_endpoint"))
            return
        }
        guard routes.contains(where: { $0.path == path && $0.method == call.method }) else {
            reply.fail(APIError(status: 405, type: "invalid_request_error", code: "method_not_allowed",
                                message: "\(call.method) is not allowed on \(path)"))
            return
        }
        let api = self.api
        api.work.async {
            do { try Self.answer(path, call, api: api, reply: reply) } catch { reply.fail(Self.apiError(error)) }
        }
    }

    static func apiError(_ error: Error) -> APIError {
        switch error {
        case let e as APIError: return e
        case let e as RegistryError: return APIService.apiError(e)
        case let e as EngineError: return APIService.apiError(e)
        default: return .server("\(error)")
        }
    }

    private static func answer(_ path: String, _ call: APICall, api: APIService, reply: APIReply) throws {
        // Every adapter-sync call acts as the daemon's own user: the listener is loopback-only, i.e. the pod's
        // containers (the syncer sidecar), never the network.
        let admin = Identity(tenant: "default", isAdmin: true)
        switch path {
        case "/metrics":
            // The operator's view: every tenant's series (this listener belongs inside the cluster).
            reply.respond(status: 200, contentType: "text/plain; version=0.0.4", body: Array(api.metricsText(for: admin).utf8))
        case "/health":
            reply.json(200, ["status": "ok", "cpu_path": CPUPath.current.description])
        case "/ready":
            if let reason = api.serving.notReadyReason {
                reply.json(503, ["status": "not ready", "reason": reason])
            } else {
                reply.json(200, ["status": "ready"])
            }
        case "/v1/models":
            try api.listModels(admin, reply)
        case "/v1/load_lora_adapter":
            try api.vllmLoadLoRA(call, admin, reply)
        default:
            try api.vllmUnloadLoRA(call, admin, reply)
        }
    }
}
