import Adapters
import Engine
import Foundation
import Kernels
import Model
import Registry
import Synchronization
import Tokenization
import Wire

/// Who is calling, after authentication.
public struct Identity: Sendable, Equatable {
    public var tenant: String
    public var isAdmin: Bool
}

/// The daemon's HTTP API: routes calls to endpoint handlers, resolves the caller's identity, and keeps slow work
/// (tokenizing, adapter loading, registry writes) off the transport's event loop.
public final class APIService: Sendable {
    public let engine: Engine
    public let registry: Registry
    public let tokenizer: Tokenizer
    public let residency: AdapterResidency
    public let router: AdapterRouter
    /// The base model's id in `/v1/models` and responses.
    public let modelId: String
    /// Renders chat messages with the model's chat template (nil: the model has none).
    public let renderChat: (@Sendable ([ChatMessage], Bool) throws -> String)?
    let daemonUID: UInt32
    let work = DispatchQueue(label: "lorad-api", attributes: .concurrent)
    let counters = Mutex(RequestCounters())
    let nextId = Mutex<UInt64>(0)

    public init(engine: Engine, registry: Registry, tokenizer: Tokenizer, modelId: String,
                renderChat: (@Sendable ([ChatMessage], Bool) throws -> String)?, pool: PagePool) {
        self.engine = engine
        self.registry = registry
        self.tokenizer = tokenizer
        self.modelId = modelId
        self.renderChat = renderChat
        self.residency = AdapterResidency(registry: registry, pool: pool)
        self.router = AdapterRouter(transformer: engine.model.transformer, tokenizer: tokenizer)
        self.daemonUID = getuid()
    }

    /// Entry point for every call; answers through `reply`, possibly later and from another thread.
    public func handle(_ call: APICall, reply: APIReply) {
        let counted = CountingReply(reply, service: self, path: call.path)
        work.async { [self] in
            do {
                // Liveness needs no identity (so probes work on the TCP listener without a token).
                if call.method == "GET" && call.path == "/health" {
                    counted.json(200, ["status": "ok", "cpu_path": CPUPath.current.description])
                    return
                }
                let identity = try identify(call)
                try route(call, identity: identity, reply: counted)
            } catch let e as APIError {
                counted.fail(e)
            } catch let e as RegistryError {
                counted.fail(Self.apiError(e))
            } catch let e as EngineError {
                counted.fail(Self.apiError(e))
            } catch {
                counted.fail(.server("\(error)"))
            }
        }
    }

    func newId(_ prefix: String) -> String {
        let n = nextId.withLock { v -> UInt64 in v += 1; return v }
        return "\(prefix)-\(String(UInt64(Date().timeIntervalSince1970 * 1000), radix: 36))\(String(n, radix: 36))"
    }

    // MARK: identity

    /// A bearer token maps to its tenant; otherwise the peer's uid (root and the daemon's own uid are admin); an
    /// unmapped uid is the tenant `default`. Over TCP a valid token is required.
    func identify(_ call: APICall) throws -> Identity {
        if let auth = call.header("Authorization") {
            let parts = auth.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw APIError.unauthorized("the Authorization header must be \"Bearer TOKEN\"")
            }
            guard let tenant = try registry.tenant(forToken: parts[1].trimmingCharacters(in: .whitespaces)) else {
                throw APIError.unauthorized("the bearer token is not valid")
            }
            return Identity(tenant: tenant.name, isAdmin: false)
        }
        guard let uid = call.peerUID else {
            throw APIError.unauthorized("a bearer token is required on the TCP listener")
        }
        if uid == 0 || uid == daemonUID {
            return Identity(tenant: try registry.tenant(uid: uid)?.name ?? Tenant.defaultName, isAdmin: true)
        }
        return Identity(tenant: try registry.tenant(uid: uid)?.name ?? Tenant.defaultName, isAdmin: false)
    }

    // MARK: routing

    private func route(_ call: APICall, identity: Identity, reply: APIReply) throws {
        let parts = call.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let m = call.method
        // Paths with a name in them: /v1/adapters/{name}[/action], /v1/tenants/{name}[/tokens].
        let name = parts.count >= 3 ? parts[2] : ""
        switch parts.count {
        case 1 where parts[0] == "health" && m == "GET":
            reply.json(200, ["status": "ok", "cpu_path": CPUPath.current.description])
        case 1 where parts[0] == "metrics" && m == "GET":
            reply.respond(status: 200, contentType: "text/plain; version=0.0.4", body: Array(metricsText().utf8))
        case 1 where parts[0] == "tokenize" && m == "POST":
            try tokenize(call, reply)
        case 1 where parts[0] == "detokenize" && m == "POST":
            try detokenize(call, reply)
        case 2 where parts == ["v1", "models"] && m == "GET":
            try listModels(identity, reply)
        case 2 where parts == ["v1", "completions"] && m == "POST":
            try completions(try CompletionRequest(body: call.body), identity: identity, reply: reply)
        case 3 where parts == ["v1", "chat", "completions"] && m == "POST":
            try chatCompletions(try ChatRequest(body: call.body), identity: identity, reply: reply)
        case 2 where parts == ["v1", "adapters"] && m == "GET":
            try listAdapters(identity, reply)
        case 2 where parts == ["v1", "adapters"] && m == "POST":
            try registerAdapter(call, identity, reply)
        case 3 where parts[0] == "v1" && parts[1] == "adapters" && m == "GET":
            try showAdapter(name, identity, reply)
        case 3 where parts[0] == "v1" && parts[1] == "adapters" && m == "DELETE":
            try deleteAdapter(name, identity, reply)
        case 4 where parts[0] == "v1" && parts[1] == "adapters" && m == "POST"
            && ["load", "unload", "pin", "unpin"].contains(parts[3]):
            try adapterAction(name, parts[3], identity, reply)
        case 2 where parts == ["v1", "tenants"] && m == "GET":
            try listTenants(identity, reply)
        case 2 where parts == ["v1", "tenants"] && m == "POST":
            try createTenant(call, identity, reply)
        case 3 where parts[0] == "v1" && parts[1] == "tenants" && m == "DELETE":
            try deleteTenant(name, identity, reply)
        case 4 where parts[0] == "v1" && parts[1] == "tenants" && parts[3] == "tokens" && m == "POST":
            try createToken(name, identity, reply)
        default:
            if Self.isKnownPath(parts) {
                throw APIError(status: 405, type: "invalid_request_error", code: "method_not_allowed",
                               message: "\(m) is not allowed on \(call.path)")
            }
            throw APIError.notFound("no endpoint \(m) \(call.path)", code: "unknown_endpoint")
        }
    }

    /// A path some endpoint serves (with another method): answered 405, not 404.
    static func isKnownPath(_ parts: [String]) -> Bool {
        switch parts.count {
        case 1: return ["health", "metrics", "tokenize", "detokenize"].contains(parts[0])
        case 2: return parts[0] == "v1" && ["models", "completions", "adapters", "tenants"].contains(parts[1])
        case 3: return parts == ["v1", "chat", "completions"] || (parts[0] == "v1" && ["adapters", "tenants"].contains(parts[1]))
        case 4: return parts[0] == "v1" && (parts[1] == "adapters" || (parts[1] == "tenants" && parts[3] == "tokens"))
        default: return false
        }
    }

    static func apiError(_ e: RegistryError) -> APIError {
        switch e.kind {
        case .invalid: return .invalid(e.message)
        case .notFound: return .notFound(e.message)
        case .conflict: return .conflict(e.message)
        case .forbidden: return .forbidden(e.message)
        case .broken: return .unprocessable(e.message, code: "adapter_broken")
        case .limit: return .rateLimited(e.message)
        case .io: return .server(e.message)
        }
    }

    static func apiError(_ e: EngineError) -> APIError {
        switch e.kind {
        case .invalid: return .invalid(e.message)
        case .tooLarge: return .invalid(e.message, code: "context_length_exceeded")
        case .rateLimited: return .rateLimited(e.message)
        case .unavailable: return .unavailable(e.message)
        case .internalError: return .server(e.message)
        }
    }
}

/// Requests answered, by endpoint path and status (for /metrics).
struct RequestCounters {
    var byStatus: [String: Int] = [:]   // "path status" -> count
    var byTenant: [String: Int] = [:]
}

/// Counts each response's status once.
final class CountingReply: APIReply {
    private let inner: APIReply
    private let service: APIService
    private let path: String
    init(_ inner: APIReply, service: APIService, path: String) {
        self.inner = inner
        self.service = service
        self.path = path
    }
    private func count(_ status: Int) {
        let key = "\(Self.normalise(path)) \(status)"
        service.counters.withLock { $0.byStatus[key, default: 0] += 1 }
    }
    /// Adapter and tenant names are folded out of paths so metric labels stay bounded.
    static func normalise(_ path: String) -> String {
        let p = path.split(separator: "/").map(String.init)
        if p.count >= 3 && (p[1] == "adapters" || p[1] == "tenants") {
            return "/" + ([p[0], p[1], "{name}"] + p.dropFirst(3)).joined(separator: "/")
        }
        return path.count > 64 || !["health", "metrics", "v1", "tokenize", "detokenize"].contains(p.first ?? "") ? "other" : path
    }
    func respond(status: Int, contentType: String, body: [UInt8]) {
        count(status)
        inner.respond(status: status, contentType: contentType, body: body)
    }
    func startEventStream() {
        count(200)
        inner.startEventStream()
    }
    func send(_ bytes: [UInt8]) { inner.send(bytes) }
    func end() { inner.end() }
    func onClose(_ callback: @escaping @Sendable () -> Void) { inner.onClose(callback) }
}
