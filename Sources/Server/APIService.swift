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
    /// A local user the socket admits but no tenant maps (tenant `default`): may use adapters, may not register,
    /// delete, pin or unload them (tenant `default` owns the daemon's own adapters).
    public var isUnmapped = false
}

/// The API's own limits, beside the HTTP server's (docs/operations.md lists them with their defaults).
public struct APILimits: Sendable {
    /// API calls one tenant may have in progress on the workers at once (tokenizing, resolving, registering; a
    /// generation's slot is given back when it reaches the engine); past it -> 429. A tenant's `max_concurrent`
    /// overrides it. Admins are not limited.
    public var tenantCalls = 4
    /// Request body bytes of `/tokenize` and `/detokenize`; past it -> 413.
    public var tokenizeBodyBytes = 1 << 20
    /// Request body bytes of the adapter and tenant endpoints; past it -> 413.
    public var adminBodyBytes = 64 << 10
    /// Request body bytes of `/v1/completions` and `/v1/chat/completions`; past it -> 413.
    public var generationBodyBytes = 8 << 20
    /// Tenants may register `public: true` adapters (otherwise publishing is for admins: 403).
    public var tenantsMayPublish = false
    /// Of the pool's pages, the share one tenant's pinned adapters may hold (admins' pins are not counted).
    public var pinShare = 0.25

    public init() {}
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
    /// Arguments: the messages, add_generation_prompt, the request's `tools` as JSON (nil: none).
    public let renderChat: (@Sendable ([ChatMessage], Bool, String?) throws -> String)?
    let daemonUID: UInt32
    public let limits: APILimits
    /// Tenants' work: tokenizing, templates, adapter loads, registry writes (a concurrent queue, CPU-wide).
    let work = DispatchQueue(label: "lorad-api", attributes: .concurrent)
    /// Identification, admission and /metrics: a serial queue of its own (libdispatch gives serial queues a
    /// thread even while the workers are all busy), so it never waits behind tenant work.
    let control = DispatchQueue(label: "lorad-api-control")
    /// Admins' calls, on their own thread for the same reason.
    let adminWork = DispatchQueue(label: "lorad-api-admin")
    /// API calls in progress per tenant (`APILimits.tenantCalls`).
    let tenantCalls = Mutex<[String: Int]>([:])
    let counters = Mutex(RequestCounters())
    let nextId = Mutex<UInt64>(0)
    /// Replica-facing settings and state: metric names, readiness (ServingMetrics.swift, ScopedListeners.swift).
    public let serving = ServingState()

    public init(engine: Engine, registry: Registry, tokenizer: Tokenizer, modelId: String,
                renderChat: (@Sendable ([ChatMessage], Bool, String?) throws -> String)?, pool: PagePool,
                limits: APILimits = APILimits()) {
        self.limits = limits
        self.engine = engine
        self.registry = registry
        self.tokenizer = tokenizer
        self.modelId = modelId
        self.renderChat = renderChat
        self.residency = AdapterResidency(registry: registry, pool: pool)
        self.router = AdapterRouter(transformer: engine.model.transformer, tokenizer: tokenizer)
        self.daemonUID = getuid()
    }

    /// Entry point for every call; answers through `reply`, possibly later and from another thread. `/health` is
    /// answered at once on the caller's thread; everything else is identified on the control lane, then runs there
    /// (/metrics), on the admin lane, or on the workers within the tenant's share.
    public func handle(_ call: APICall, reply: APIReply) {
        let counted = CountingReply(reply, service: self, path: call.path)
        // Liveness needs no identity (so probes work on the TCP listener without a token) and no worker.
        if call.method == "GET" && call.path == "/health" {
            counted.json(200, ["status": "ok", "cpu_path": CPUPath.current.description])
            return
        }
        let gone = ClientGone(reply)
        control.async { [self] in
            answering(counted) {
                let identity = try identify(call)
                if call.path == "/metrics" {
                    guard call.method == "GET" else {
                        throw APIError.methodNotAllowed("\(call.method) is not allowed on \(call.path)", allowed: ["GET"])
                    }
                    counted.respond(status: 200, contentType: "text/plain; version=0.0.4",
                                    body: Array(metricsText(for: identity).utf8))
                    return
                }
                try checkBodySize(call)
                let release = try admit(identity)
                let job: @Sendable () -> Void = { [self] in
                    defer { release() }
                    guard !gone.isGone else { return }   // the client left while the call waited
                    answering(counted) { try route(call, identity: identity, reply: counted, gone: gone) }
                }
                (identity.isAdmin ? adminWork : work).async(execute: job)
            }
        }
    }

    /// Runs `body`, answering its error in the OpenAI shape (a client that left gets nothing).
    private func answering(_ reply: APIReply, _ body: () throws -> Void) {
        do {
            try body()
        } catch let e as APIError {
            reply.fail(e)
        } catch let e as RegistryError {
            reply.fail(Self.apiError(e))
        } catch let e as EngineError {
            reply.fail(Self.apiError(e))
        } catch let e as TokenizerError {
            reply.fail(.invalid(e.message, code: "tokenizer_error"))
        } catch is EncodeCancelled {
            return
        } catch {
            reply.fail(.server("\(error)"))
        }
    }

    /// Takes one of the tenant's call slots (admins need none); the returned closure gives it back.
    private func admit(_ identity: Identity) throws -> @Sendable () -> Void {
        guard !identity.isAdmin else { return {} }
        let tenant = identity.tenant
        let limit = (try? registry.tenant(named: tenant))?.flatMap(\.maxConcurrent) ?? limits.tenantCalls
        let admitted = tenantCalls.withLock { calls -> Bool in
            guard calls[tenant, default: 0] < limit else { return false }
            calls[tenant, default: 0] += 1
            return true
        }
        guard admitted else {
            throw APIError.rateLimited("tenant \"\(tenant)\" already has \(limit) API calls in progress (the limit); try again when one ends")
        }
        let once = OnceAction { [self] in
            tenantCalls.withLock { c in
                let left = c[tenant, default: 1] - 1
                c[tenant] = left > 0 ? left : nil
            }
        }
        return { once.run() }
    }

    /// Each endpoint's body limit (below the HTTP server's, which applies to all).
    private func checkBodySize(_ call: APICall) throws {
        let limit: Int
        switch call.path {
        case "/tokenize", "/detokenize": limit = limits.tokenizeBodyBytes
        case "/v1/completions", "/v1/chat/completions": limit = limits.generationBodyBytes
        default: limit = limits.adminBodyBytes
        }
        guard call.body.count <= limit else {
            throw APIError.tooLarge("the request body is \(call.body.count) bytes; \(call.path) takes at most \(limit)")
        }
    }

    /// Tokenizes text a client sent: stops when the client goes away, and a split regex that runs past its step
    /// budget is a 400 naming it.
    func encodeUntrusted(_ text: String, addSpecialTokens: Bool, gone: ClientGone) throws -> [Int] {
        try tokenizer.encode(text, addSpecialTokens: addSpecialTokens, isCancelled: { gone.isGone })
    }

    func newId(_ prefix: String) -> String {
        let n = nextId.withLock { v -> UInt64 in v += 1; return v }
        return "\(prefix)-\(String(UInt64(Date().timeIntervalSince1970 * 1000), radix: 36))\(String(n, radix: 36))"
    }

    // MARK: identity

    /// A bearer token maps to its tenant; otherwise the peer's uid (root and the daemon's own uid are admin); an
    /// unmapped uid is the tenant `default`. Over TCP a valid token is required.
    func identify(_ call: APICall) throws -> Identity {
        let authorizations = call.headers.filter { $0.name.caseInsensitiveCompare("Authorization") == .orderedSame }
        guard authorizations.count <= 1 else {
            throw APIError.invalid("the request has \(authorizations.count) Authorization headers; send one",
                                   code: "duplicate_authorization")
        }
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
        if let tenant = try registry.tenant(uid: uid) { return Identity(tenant: tenant.name, isAdmin: false) }
        return Identity(tenant: Tenant.defaultName, isAdmin: false, isUnmapped: true)
    }

    // MARK: routing

    private func route(_ call: APICall, identity: Identity, reply: APIReply, gone: ClientGone) throws {
        let parts = call.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let m = call.method
        // Paths with a name in them: /v1/models/{id}, /v1/adapters/{name}[/action], /v1/tenants/{name}[/tokens].
        let name = parts.count >= 3 ? parts[2] : ""
        switch parts.count {
        case 1 where parts[0] == "tokenize" && m == "POST", 2 where parts == ["v1", "tokenize"] && m == "POST":
            try tokenize(call, identity, reply, gone: gone)
        case 1 where parts[0] == "detokenize" && m == "POST", 2 where parts == ["v1", "detokenize"] && m == "POST":
            try detokenize(call, identity, reply)
        case 2 where parts == ["v1", "models"] && m == "GET":
            try listModels(identity, reply)
        case 3 where parts[0] == "v1" && parts[1] == "models" && m == "GET":
            try showModel(name, identity, reply)
        case 2 where parts == ["v1", "completions"] && m == "POST":
            try completions(try CompletionRequest(body: call.body), identity: identity, reply: reply, gone: gone,
                            constraint: try structuredOutput(call.body))
        case 3 where parts == ["v1", "chat", "completions"] && m == "POST":
            try chatCompletions(try ChatRequest(body: call.body), body: call.body, identity: identity, reply: reply, gone: gone)
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
        case 2 where parts == ["v1", "load_lora_adapter"] && m == "POST":
            try vllmLoadLoRA(call, identity, reply)
        case 2 where parts == ["v1", "unload_lora_adapter"] && m == "POST":
            try vllmUnloadLoRA(call, identity, reply)
        case 2 where parts == ["v1", "tenants"] && m == "GET":
            try listTenants(identity, reply)
        case 2 where parts == ["v1", "tenants"] && m == "POST":
            try createTenant(call, identity, reply)
        case 3 where parts[0] == "v1" && parts[1] == "tenants" && m == "DELETE":
            try deleteTenant(name, identity, reply)
        case 4 where parts[0] == "v1" && parts[1] == "tenants" && parts[3] == "tokens" && m == "POST":
            try createToken(name, identity, reply)
        default:
            let allowed = Self.allowedMethods(parts)
            if !allowed.isEmpty {
                throw APIError.methodNotAllowed("\(m) is not allowed on \(call.path)", allowed: allowed)
            }
            throw APIError.notFound("no endpoint \(m) \(call.path)", code: "unknown_endpoint")
        }
    }

    /// The methods some endpoint serves on a path (empty: no such path, 404); another method gets 405 with them.
    static func allowedMethods(_ parts: [String]) -> [String] {
        switch parts.count {
        case 1 where ["health", "metrics"].contains(parts[0]): return ["GET"]
        case 1 where ["tokenize", "detokenize"].contains(parts[0]): return ["POST"]
        case 2 where parts[0] == "v1":
            switch parts[1] {
            case "models": return ["GET"]
            case "completions", "tokenize", "detokenize", "load_lora_adapter", "unload_lora_adapter": return ["POST"]
            case "adapters", "tenants": return ["GET", "POST"]
            default: return []
            }
        case 3 where parts == ["v1", "chat", "completions"]: return ["POST"]
        case 3 where parts[0] == "v1" && parts[1] == "models": return ["GET"]
        case 3 where parts[0] == "v1" && parts[1] == "adapters": return ["GET", "DELETE"]
        case 3 where parts[0] == "v1" && parts[1] == "tenants": return ["DELETE"]
        case 4 where parts[0] == "v1" && parts[1] == "adapters" && ["load", "unload", "pin", "unpin"].contains(parts[3]):
            return ["POST"]
        case 4 where parts[0] == "v1" && parts[1] == "tenants" && parts[3] == "tokens": return ["POST"]
        default: return []
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

/// Set once the client of a call has gone away (its connection closed before the answer ended); work in
/// progress checks it to stop early.
final class ClientGone: Sendable {
    private let flag = Atomic<Bool>(false)
    init(_ reply: APIReply) {
        reply.onClose { [self] in flag.store(true, ordering: .relaxed) }
    }
    var isGone: Bool { flag.load(ordering: .relaxed) }
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
        // Only paths an endpoint serves become labels: anything else (404s, probes of random paths) is "other".
        guard path.count <= 64, !APIService.allowedMethods(p).isEmpty else { return "other" }
        if p.count >= 3 && (p[1] == "adapters" || p[1] == "tenants" || p[1] == "models") {
            return "/" + ([p[0], p[1], "{name}"] + p.dropFirst(3)).joined(separator: "/")
        }
        return "/" + p.joined(separator: "/")
    }
    func respond(status: Int, contentType: String, headers: [(String, String)], body: [UInt8]) {
        count(status)
        inner.respond(status: status, contentType: contentType, headers: headers, body: body)
    }
    func startEventStream() {
        count(200)
        inner.startEventStream()
    }
    func send(_ bytes: [UInt8]) { inner.send(bytes) }
    func end() { inner.end() }
    func onClose(_ callback: @escaping @Sendable () -> Void) { inner.onClose(callback) }
}
