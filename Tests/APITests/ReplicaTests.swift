import Foundation
import Synchronization
import Testing
import TestSupport

/// Running as a replica behind an inference gateway: the endpoint picker's metrics, the token-free metrics and
/// adapter-sync listeners, vLLM's adapter endpoints, and the declarative tenants/adapters files.
@Suite struct ReplicaTests {
    static let root = APIFixture.adapterRoot.path

    /// A daemon serving `adapters` (name, fixture folder) from an adapters file and `tenants` lines from a tenants
    /// file, with the metrics listener on a free port.
    struct Replica {
        let daemon: TestDaemon
        let directory: URL
        var metrics: TCPHTTPClient
        var api: TCPHTTPClient

        init(adapters: [(String, String)], tenants: String, extra: [String] = [], dataDirectory: URL? = nil) throws {
            directory = try Fixtures.temporaryDirectory("lorad-replica")
            try Self.write(adapters: adapters, to: directory)
            try tenants.write(to: directory.appendingPathComponent("tenants"), atomically: true, encoding: .utf8)
            daemon = try TestDaemon(model: Fixtures.tinyLlama.path, extraArguments: [
                "--adapter-root", ReplicaTests.root, "--listen-tcp", "127.0.0.1:0", "--listen-metrics", "127.0.0.1:0",
                "--tenants-file", directory.appendingPathComponent("tenants").path,
                "--adapters-file", directory.appendingPathComponent("adapters").path] + extra,
                dataDirectory: dataDirectory)
            metrics = TCPHTTPClient(port: try #require(TCPHTTPClient.port(in: daemon.log, after: "metrics on 127.0.0.1:")))
            api = TCPHTTPClient(port: try #require(TCPHTTPClient.port(in: daemon.log, after: "tcp 127.0.0.1:")))
        }

        static func write(adapters: [(String, String)], to directory: URL) throws {
            let text = adapters.map { "adapter \($0.0) \(ReplicaTests.root)/\($0.1)\n" }.joined()
            // Written beside and renamed, as Kubernetes swaps a ConfigMap's files.
            let staged = directory.appendingPathComponent(".adapters.new")
            try text.write(to: staged, atomically: false, encoding: .utf8)
            _ = rename(staged.path, directory.appendingPathComponent("adapters").path)
        }

        func writeTenants(_ text: String) throws {
            let staged = directory.appendingPathComponent(".tenants.new")
            try text.write(to: staged, atomically: false, encoding: .utf8)
            _ = rename(staged.path, directory.appendingPathComponent("tenants").path)
        }

        /// Waits (bounded) until the daemon's log has `count` occurrences of `text`.
        func waitForLog(_ text: String, count: Int = 1) -> Bool {
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                if daemon.log.components(separatedBy: text).count - 1 >= count { return true }
                usleep(50_000)
            }
            return false
        }

        func complete(_ model: String, token: String) throws -> UnixHTTPClient.Response {
            try api.request("POST", "/v1/completions", body: #"{"model":"\#(model)","prompt":"hi","max_tokens":2}"#,
                            headers: ["Authorization": "Bearer \(token)"])
        }

        /// The labels of the one `name` series in the metrics listener's /metrics.
        func infoLabels(_ name: String) throws -> [String: String] {
            let text = try metrics.request("GET", "/metrics").text
            let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(name + "{") })
            var labels: [String: String] = [:]
            for pair in line.dropFirst(name.count + 1).prefix(while: { $0 != "}" }).split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                labels[kv[0]] = kv.count > 1 ? String(kv[1].dropFirst().dropLast()) : ""
            }
            return labels
        }
    }

    /// `loractl tenants token NAME --hash-only`: the token (stderr) and the tenants-file line (stdout).
    static func hashedToken(_ tenant: String) throws -> (token: String, line: String) {
        let r = try runProduct("loractl", ["tenants", "token", tenant, "--hash-only"])
        #expect(r.status == 0, "\(r.stderr)")
        let token = try #require(r.stderr.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        let line = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line.hasPrefix("token \(tenant) sha256:"))
        #expect(!line.contains(token), "the file line must hold the hash, never the token")
        return (token, line)
    }

    static func metricValue(_ text: String, _ name: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
            .flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
    }

    @Test func metricsListenerServesThePickersSeriesWithoutAToken() throws {
        let (token, line) = try Self.hashedToken("acme")
        let r = try Replica(adapters: [("a0", "a0-r4-all"), ("a1", "a1-r8-qv")], tenants: "tenant acme\n\(line)\n",
                            extra: ["--metrics-compat", "vllm", "--max-loras", "1"])
        defer { r.daemon.stop() }
        #expect(try r.metrics.request("GET", "/ready").status == 200)
        #expect(try r.metrics.request("GET", "/health").status == 200)
        // Only the probes: no API endpoint answers on this listener.
        #expect(try r.metrics.request("GET", "/v1/models").status == 404)
        #expect(try r.metrics.request("POST", "/metrics", body: "{}").status == 405)
        // The main TCP listener still wants a token for /metrics.
        #expect(try r.api.request("GET", "/metrics").status == 401)

        #expect(try r.complete("a0", token: token).status == 200)
        var info = try r.infoLabels("lorad_lora_requests_info")
        #expect(info == ["max_lora": "1", "running_lora_adapters": "a0", "waiting_lora_adapters": ""])
        #expect(try r.infoLabels("vllm:lora_requests_info") == info)
        // --max-loras 1: a1 takes a0's place.
        #expect(try r.complete("a1", token: token).status == 200)
        info = try r.infoLabels("lorad_lora_requests_info")
        #expect(info["running_lora_adapters"] == "a1")

        let text = try r.metrics.request("GET", "/metrics").text
        for name in ["lorad_pool_kv_usage_ratio", "lorad_pool_adapter_usage_ratio", "vllm:gpu_cache_usage_perc",
                     "vllm:kv_cache_usage_perc"] {
            let v = try #require(Self.metricValue(text, name), "\(name) missing")
            #expect(v >= 0 && v <= 1, "\(name) = \(v)")
        }
        #expect(try #require(Self.metricValue(text, "lorad_pool_adapter_usage_ratio")) > 0)
        for name in ["vllm:num_requests_waiting", "vllm:num_requests_running"] {
            let v = try #require(Self.metricValue(text, name), "\(name) missing")
            #expect(v >= 0 && v <= 64, "\(name) = \(v)")
        }
        #expect(text.contains("lorad_adapter_evictions_total 1"))
        // The operator's view: per-tenant series are there without a token (only an admin sees them on the API).
        #expect(text.contains(#"lorad_tenant_requests_total{tenant="acme"} 2"#))
        // The picker's timestamp is now-ish.
        let stamp = try #require(Self.metricValue(text, "lorad_lora_requests_info"))
        #expect(abs(stamp - Date().timeIntervalSince1970) < 300)
    }

    /// --max-loras holds under concurrent loads of different adapters: requests wait for a slot, none fails, and the
    /// pool never holds more than the limit.
    @Test func maxLorasBoundsConcurrentLoads() throws {
        let (token, line) = try Self.hashedToken("acme")
        let names = [("a0", "a0-r4-all"), ("a1", "a1-r8-qv"), ("a2", "a2-r16-all-rslora"), ("a3", "a3-r8-all-alpha24")]
        // max_concurrent above the twelve: every request reaches the residency (the default per-tenant limit is lower).
        let r = try Replica(adapters: names, tenants: "tenant acme max_concurrent=16\n\(line)\n", extra: ["--max-loras", "2"])
        defer { r.daemon.stop() }
        let statuses = Mutex<[Int]>([])
        let done = Atomic<Int>(0)
        for round in 0..<3 {
            for (name, _) in names {
                Thread {
                    let status = (try? r.api.request("POST", "/v1/completions",
                                                     body: #"{"model":"\#(name)","prompt":"round \#(round)","max_tokens":4}"#,
                                                     headers: ["Authorization": "Bearer \(token)"]).status) ?? 0
                    statuses.withLock { $0.append(status) }
                    done.add(1, ordering: .relaxed)
                }.start()
            }
        }
        var most = 0.0
        let deadline = Date().addingTimeInterval(120)
        while done.load(ordering: .relaxed) < 12 && Date() < deadline {
            let text = try r.metrics.request("GET", "/metrics").text
            most = max(most, Self.metricValue(text, "lorad_adapters_resident") ?? 0)
            usleep(2_000)
        }
        #expect(statuses.withLock { $0 } == [Int](repeating: 200, count: 12))
        #expect(most <= 2, "\(most) adapters resident with --max-loras 2")
        #expect(try r.infoLabels("lorad_lora_requests_info")["max_lora"] == "2")
    }

    @Test func unknownPathsDoNotBecomeMetricLabels() throws {
        let r = try Replica(adapters: [], tenants: "")
        defer { r.daemon.stop() }
        for i in 0..<5 { _ = try r.daemon.client.request("GET", "/v1/probe-\(i)") }
        _ = try r.daemon.client.request("POST", "/v1/adapters/x/frobnicate-1")
        let text = try r.metrics.request("GET", "/metrics").text
        #expect(!text.contains("probe-"))
        #expect(!text.contains("frobnicate"))
        // An unknown adapter action is a 404 too: six, all under "other".
        #expect(text.contains(#"lorad_requests_total{path="other",status="404"} 6"#))
        // Without --metrics-compat the vLLM names are not written.
        #expect(!text.contains("vllm:"))
    }

    @Test func vllmAdapterEndpointsRegisterAndRemove() throws {
        let r = try Replica(adapters: [], tenants: "",
                            extra: ["--listen-adapter-sync", "127.0.0.1:0"])
        defer { r.daemon.stop() }
        let sync = TCPHTTPClient(port: try #require(TCPHTTPClient.port(in: r.daemon.log, after: "adapter sync on 127.0.0.1:")))
        let path = "\(Self.root)/a2-r16-all-rslora"
        // What the adapter syncer sends: no token, base_model_name "" when its config names none.
        let load = try sync.request("POST", "/v1/load_lora_adapter",
                                    body: #"{"lora_name":"a2","lora_path":"\#(path)","base_model_name":""}"#)
        #expect(load.status == 200, "\(load.text)")
        #expect(load.text == "Success: LoRA adapter 'a2' added successfully.")
        let models = try sync.request("GET", "/v1/models").json?["data"] as? [[String: Any]] ?? []
        #expect(models.contains { $0["id"] as? String == "a2" })
        #expect(try sync.request("POST", "/v1/load_lora_adapter", body: #"{"lora_name":"a2","lora_path":"\#(path)"}"#).status == 400)
        // Another base model, an unknown field, a path outside the roots: refused by name.
        let other = try sync.request("POST", "/v1/load_lora_adapter",
                                     body: #"{"lora_name":"a9","lora_path":"\#(path)","base_model_name":"llama-70b"}"#)
        #expect(other.status == 400 && other.errorMessage.contains("llama-70b"))
        let unknown = try sync.request("POST", "/v1/load_lora_adapter", body: #"{"lora_name":"a9","lora_path":"\#(path)","pinned":true}"#)
        #expect(unknown.status == 400 && unknown.errorMessage.contains("\"pinned\""))
        #expect(try sync.request("POST", "/v1/load_lora_adapter", body: #"{"lora_name":"a9","lora_path":"/etc"}"#).status == 403)
        // The sync listener serves nothing else.
        #expect(try sync.request("POST", "/v1/completions", body: #"{"model":"a2","prompt":"x"}"#).status == 404)
        // Served through the main API once loaded (here over the socket, as the daemon's user).
        let done = try r.daemon.client.request("POST", "/v1/completions", json: ["model": "a2", "prompt": "hi", "max_tokens": 1])
        #expect(done.status == 200)
        #expect(try sync.request("POST", "/v1/unload_lora_adapter", body: #"{"lora_name":"a2"}"#).status == 200)
        #expect(try sync.request("POST", "/v1/unload_lora_adapter", body: #"{"lora_name":"a2"}"#).status == 404)
        // On the main API the endpoints are admin only: a tenant's token is refused.
        let (token, line) = try Self.hashedToken("acme")
        try r.writeTenants("tenant acme\n\(line)\n")
        #expect(r.waitForLog("declared: tenant acme"))
        let tenantLoad = try r.api.request("POST", "/v1/load_lora_adapter", body: #"{"lora_name":"a3","lora_path":"\#(path)"}"#,
                                           headers: ["Authorization": "Bearer \(token)"])
        #expect(tenantLoad.status == 403)
    }

    @Test func adapterSyncListenerIsLoopbackOnly() throws {
        let r = try runProduct("lorad", ["serve", "--model", "demo", "--listen-adapter-sync", "0.0.0.0:8001"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("loopback only"))
    }

    @Test func replicasReadingTheSameFilesAcceptTheSameTokens() throws {
        let (token, line) = try Self.hashedToken("acme")
        let tenants = "# acme's tokens\ntenant acme max_concurrent=2 default_adapter=a1\n\(line)\n"
        let one = try Replica(adapters: [("a0", "a0-r4-all"), ("a1", "a1-r8-qv")], tenants: tenants)
        defer { one.daemon.stop() }
        let two = try Replica(adapters: [("a0", "a0-r4-all"), ("a1", "a1-r8-qv")], tenants: tenants)
        defer { two.daemon.stop() }
        for replica in [one, two] {
            let r = try replica.complete("tiny-llama", token: token)
            #expect(r.status == 200, "\(r.text)")
            #expect((r.json?["lorad"] as? [String: Any])?["adapter"] as? String == "a1", "the declared default adapter")
        }
        // A new token replaces the old one on change; a dropped adapter goes away.
        let (newToken, newLine) = try Self.hashedToken("acme")
        try one.writeTenants("tenant acme\n\(newLine)\n")
        try Replica.write(adapters: [("a0", "a0-r4-all")], to: one.directory)
        #expect(one.waitForLog("adapter a1 removed"))
        #expect(try one.complete("a0", token: newToken).status == 200)
        #expect(try one.complete("a0", token: token).status == 401)
        #expect(try one.complete("a1", token: newToken).status == 404)
        // A file that no longer parses changes nothing and says where it is wrong; SIGHUP re-reads it.
        try one.writeTenants("tenant acme\n\(newLine)\ntoken acme \(newToken)\n")
        #expect(one.waitForLog("tenants:3: the token is a plain token"))
        #expect(try one.complete("a0", token: newToken).status == 200)
        try one.writeTenants("tenant acme\n\(line)\n")
        #expect(one.waitForLog("declared: tenant acme (1 token(s))", count: 3))
        #expect(try one.complete("a0", token: token).status == 200)
        // SIGHUP re-applies (here nothing changed) and never stops the daemon.
        kill(one.daemon.process.processIdentifier, SIGHUP)
        #expect(one.waitForLog("SIGHUP: applying"))
        #expect(one.waitForLog("declared: no changes"))
        #expect(try one.complete("a0", token: token).status == 200)
    }

    @Test func aBrokenFileStopsTheStart() throws {
        let directory = try Fixtures.temporaryDirectory("lorad-replica")
        let file = directory.appendingPathComponent("adapters")
        try "adapter a0 \(Self.root)/a0-r4-all colour=blue\n".write(to: file, atomically: true, encoding: .utf8)
        let r = try runProduct("lorad", ["serve", "--model", Fixtures.tinyLlama.path, "--socket", directory.appendingPathComponent("s").path,
                                         "--data-dir", directory.appendingPathComponent("d").path,
                                         "--adapter-root", Self.root, "--adapters-file", file.path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("adapters:1: unknown adapter option \"colour\""), "\(r.stderr)")
    }
}
