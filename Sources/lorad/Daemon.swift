import ChatTemplate
import Engine
import Foundation
import HTTPServer
import Kernels
import Model
import Registry
import Synchronization
import Server
import Tokenization
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Lets the engine's reclaim hook reach the API service created after it.
final class ServiceHolder: Sendable {
    private let stored = Mutex<APIService?>(nil)
    var service: APIService? {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }
}

/// The running daemon: model, engine, registry, API and HTTP server, started in that order and stopped in reverse.
final class Daemon: Sendable {
    let settings: ServeSettings
    let engine: Engine
    let registry: Registry
    let service: APIService
    let server: HTTPServer
    let replicas: ReplicaListeners
    let declared: DeclaredSync?

    init(_ settings: ServeSettings) throws {
        self.settings = settings
        Parallel.configure(threads: settings.threads)
        let directory = try resolveModelDirectory(settings.model)
        log("lorad: loading model \(directory.path)")
        let model = try LoadedModel(directory: directory, precision: settings.precision)
        log("lorad: weights \(model.transformer.weights.weightType)")
        let tokenizer = try modelTokenizer(directory)
        let fingerprint = try model.gguf.map { ModelFingerprint(gguf: $0, config: model.config) }
            ?? ModelFingerprint(modelDirectory: directory)
        let modelId = settings.model == "demo" ? "demo" : directory.lastPathComponent
        var registryOptions = RegistryOptions()
        registryOptions.reservedAdapterNames.insert(modelId)
        registry = try Registry(dataDirectory: settings.dataDirectory, baseModel: fingerprint,
                                adapterRoots: settings.adapterRoots, modelConfig: model.config, options: registryOptions)
        let report = registry.startupReport
        for (name, reason) in report.broken.sorted(by: { $0.key < $1.key }) {
            log("lorad: registry: adapter \(name) is broken: \(reason)")
        }
        for name in report.repaired { log("lorad: registry: adapter \(name) is healthy again") }
        if !report.removedLeftovers.isEmpty {
            log("lorad: registry: removed \(report.removedLeftovers.count) leftovers of interrupted registrations")
        }

        // One pool for KV blocks and adapter weights: a page holds one KV block (or a run of adapter rank rows).
        let kv = model.transformer.kvAllocator
        let rankRow = Projection.allCases.map { p -> Int in let s = p.shape(model.config); return (s.input + s.output) * 4 }.max() ?? 0
        let pool = PagePool(budgetBytes: settings.poolBytes, pageBytes: max(kv.bytesPerBlock, rankRow))
        kv.attach(pool)
        log("lorad: memory pool \(pool.budgetBytes >> 20) MiB in \(pool.pageCount) pages of \(pool.pageBytes >> 10) KiB")

        let registry = self.registry
        let holder = ServiceHolder()
        var configuration = EngineConfiguration()
        configuration.maxBatchTokens = settings.maxBatchTokens
        configuration.lookahead = settings.lookahead
        if settings.lookahead == .auto {
            let cost = try StepCostModel.measure(model.transformer, maxRows: settings.maxBatchTokens)
            log("lorad: lookahead auto; step seconds by rows \(cost.summary)")
            configuration.stepCost = cost
        }
        configuration.tenantLimit = { tenant in (try? registry.tenant(named: tenant))?.flatMap(\.maxConcurrent) }
        configuration.reclaim = { pages in holder.service?.residency.evictIdle(pages: pages) ?? 0 }
        engine = Engine(model: model, tokenizer: tokenizer, configuration: configuration)
        var limits = APILimits()
        limits.tenantsMayPublish = settings.tenantsMayPublish
        limits.pinShare = settings.pinShare
        limits.generationBodyBytes = settings.maxBodyBytes
        service = APIService(engine: engine, registry: registry, tokenizer: tokenizer, modelId: modelId,
                             renderChat: try Self.chatRenderer(tokenizer: tokenizer), pool: pool, limits: limits)
        holder.service = service

        var http = HTTPServerConfiguration()
        http.maxConnections = settings.maxConnections
        http.maxConnectionsPerAddress = settings.maxConnectionsPerAddress
        http.unixReserve = min(http.unixReserve, settings.maxConnections / 2)
        http.maxBodyBytes = settings.maxBodyBytes
        http.requestTimeout = .milliseconds(Int(settings.requestTimeout * 1000))
        let service = self.service
        server = try HTTPServer(configuration: http) { request, responder in
            service.handle(HTTPBridge.call(from: request), reply: HTTPAPIReply(responder))
        }
        service.serving.metricsCompat = settings.replica.metricsCompat
        service.residency.maxResident = settings.replica.maxLoras
        replicas = try ReplicaListeners(settings: settings.replica, service: service, http: http)
        if settings.replica.tenantsFile != nil || settings.replica.adaptersFile != nil {
            let sync = DeclaredSync(service: service, tenantsFile: settings.replica.tenantsFile,
                                    adaptersFile: settings.replica.adaptersFile)
            try DeclaredWatcher.applyAtStart(sync)
            declared = sync
        } else {
            declared = nil
        }
        try registerStartupAdapters()
        restorePins()
    }

    /// Pins recorded in the registry are taken again (a pin survives a restart); one that no longer fits is logged.
    private func restorePins() {
        for record in (try? registry.pinnedAdapters()) ?? [] where !record.isBroken {
            do {
                try service.residency.pin(record)
                log("lorad: adapter \(record.name) pinned again")
            } catch {
                log("lorad: cannot pin adapter \(record.name) again: \(error)")
            }
        }
    }

    /// The model's chat template as a renderer (nil when tokenizer_config.json has none). A template this renderer
    /// cannot parse is an error at start-up, not at the first chat request.
    static func chatRenderer(tokenizer: Tokenizer) throws -> (@Sendable ([Wire.ChatMessage], Bool, String?) throws -> String)? {
        guard let source = tokenizer.chatTemplate else { return nil }
        let template: ChatTemplate
        do { template = try ChatTemplate(source: source) } catch {
            log("lorad: the model's chat template is not supported (\(error)); /v1/chat/completions is disabled")
            return nil
        }
        let bos = tokenizer.bosTokenId.flatMap { tokenizer.token(forId: $0) } ?? ""
        let eos = tokenizer.eosTokenId.flatMap { tokenizer.token(forId: $0) } ?? ""
        return { messages, addGenerationPrompt, tools in
            let list = JinjaValue.list(try messages.map { m in
                // A message with tool calls or a tool result comes as JSON (content null stays None).
                if let json = m.json { return try JinjaValue(jsonString: json) }
                return JinjaValue.dict(JinjaDict([("role", .string(m.role)), ("content", .string(m.content))]))
            })
            return try template.render(["messages": list, "add_generation_prompt": .bool(addGenerationPrompt),
                                        "bos_token": .string(bos), "eos_token": .string(eos),
                                        // transformers passes these as None when a request has none.
                                        "tools": try tools.map { try JinjaValue(jsonString: $0) } ?? .none,
                                        "documents": .none])
        }
    }

    /// `--register-adapters DIR`: every folder in DIR with an adapter_config.json becomes a public adapter of the
    /// default tenant, named after the folder; names already registered are left as they are.
    private func registerStartupAdapters() throws {
        for root in settings.registerFrom {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
            for name in entries.sorted() {
                let dir = root.appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("adapter_config.json").path)
                else { continue }
                if let existing = try registry.adapter(named: name, visibleTo: Tenant.defaultName, isAdmin: true) {
                    // The operator publishes what it names here (data directories from before published_by_admin).
                    if existing.tenant == Tenant.defaultName && !existing.publishedByAdmin {
                        try registry.markPublishedByAdmin(name: name)
                    }
                    continue
                }
                do {
                    let r = try registry.registerAdapter(name: name, sourcePath: dir.path, isPublic: true)
                    log("lorad: registered adapter \(r.name) (rank \(r.rank), \(r.targetModules.joined(separator: ",")))")
                } catch {
                    log("lorad: cannot register \(dir.path): \(error)")
                }
            }
        }
    }

    func run() throws {
        // A file-size limit (or a full disk) must fail a write with an error, never kill the daemon.
        signal(SIGXFSZ, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let activated = SystemdSocketActivation.listeningDescriptors()
        if activated.isEmpty {
            try server.listen(unixPath: settings.socketPath)
        } else {
            for fd in activated { try server.adopt(listeningDescriptor: fd) }
        }
        var where_ = activated.isEmpty ? settings.socketPath : "\(activated.count) systemd socket(s)"
        if let tcp = settings.tcp {
            let port = try server.listen(host: tcp.host, port: tcp.port)
            // An IPv6 host in brackets, as a URL writes it: [::]:8080, not :::8080.
            where_ += " and tcp \(tcp.host.contains(":") ? "[\(tcp.host)]" : tcp.host):\(port)"
        }
        try server.start()
        try replicas.start()
        where_ += replicas.summary
        try installSignalHandlers()
        if let declared { DeclaredWatcher(sync: declared).start() }
        service.serving.notReadyReason = nil
        log("lorad: ready on \(where_) (model \(service.modelId), \(settings.threads) threads, cpu path \(CPUPath.summary))")
        if activated.isEmpty {
            let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                .appendingPathComponent("loractl").path
            let loractl = FileManager.default.isExecutableFile(atPath: sibling) ? sibling : "loractl"
            let example = (try? registry.adapters(visibleTo: Tenant.defaultName).first?.name).flatMap { $0 }
            log("lorad: try: \(loractl) --socket \(settings.socketPath) generate\(example.map { " --adapter \($0)" } ?? "") --max-tokens 24 \"Hello\"")
        }
        SystemdNotify.send("READY=1\nSTATUS=serving")
        dispatchMain()
    }

    /// SIGTERM/SIGINT drain and stop (see ShutdownSignals for why not a dispatch source). A second SIGINT (Ctrl-C
    /// pressed again) exits at once; a second SIGTERM is only logged (systemd and kubelet send one, then SIGKILL).
    private func installSignalHandlers() throws {
        try ShutdownSignals.install([SIGTERM, SIGINT], onFirst: { [self] sig in stop(signal: sig) }, onRepeat: { sig in
            if sig == SIGINT {
                log("lorad: SIGINT again: exiting now, requests still running are dropped")
                exit(130)
            }
            log("lorad: SIGTERM again: still draining")
        })
    }

    /// Stops accepting, lets running requests finish (bounded by --drain-seconds), then exits 0.
    private func stop(signal: Int32) {
        log("lorad: \(signal == SIGTERM ? "SIGTERM" : "SIGINT"): draining (up to \(Int(settings.drainSeconds)) s)")
        SystemdNotify.send("STOPPING=1")
        service.serving.notReadyReason = "draining"
        server.stopAccepting()
        let finished = engine.drain(timeout: settings.drainSeconds)
        // Requests still running are cancelled now: their streams end with finish_reason "cancelled" and [DONE]
        // before the connections close.
        engine.shutdown()
        _ = server.drain(timeout: .seconds(5))
        server.shutdown()
        replicas.shutdown()
        registry.close()
        log(finished ? "lorad: stopped" : "lorad: stopped (requests still running were cancelled)")
        exit(0)
    }
}
