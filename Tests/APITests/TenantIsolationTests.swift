import Foundation
import Glibc
import Testing
import TestSupport

/// Issue 21: what one tenant may do to another's traffic and to the daemon. Each test is an attack as the issue
/// wrote it, against a daemon of its own; tenants authenticate with bearer tokens over the Unix socket.
@Suite struct TenantIsolationTests {
    static func token(_ daemon: TestDaemon, _ tenant: String) throws -> String {
        let t = try daemon.client.request("POST", "/v1/tenants", json: ["name": tenant, "token": true])
        return try #require(t.json?["token"] as? String, "\(t.text)")
    }

    static func bearer(_ token: String) -> [String: String] { ["Authorization": "Bearer \(token)"] }

    static func register(_ daemon: TestDaemon, _ name: String, from folder: String, token: String? = nil,
                         extra: [String: Any] = [:]) throws -> UnixHTTPClient.Response {
        var body: [String: Any] = ["name": name, "path": APIFixture.adapterRoot.appendingPathComponent(folder).path]
        body.merge(extra) { $1 }
        return try daemon.client.request("POST", "/v1/adapters", json: body, headers: token.map(bearer) ?? [:])
    }

    /// Item 4: a tenant's `public: true` is refused; `auto` never routes one tenant's prompt to another tenant's
    /// adapter, even where the operator lets tenants publish.
    @Test func tenantsCannotHijackAuto() throws {
        let strict = try APIFixture.makeDaemon()
        defer { strict.stop() }
        let mallory = try Self.token(strict, "mallory")
        let refused = try Self.register(strict, "sql-trap", from: "a1-r8-qv", token: mallory,
                                        extra: ["public": true, "description": "Writes SQL queries"])
        #expect(refused.status == 403, "\(refused.text)")
        #expect(refused.errorMessage.contains("for admins"))
        #expect(try Self.register(strict, "published", from: "a1-r8-qv", extra: ["public": true]).status == 201)

        let open = try APIFixture.makeDaemon(["--tenants-may-publish", "yes"])
        defer { open.stop() }
        let alice = try Self.token(open, "alice"), carol = try Self.token(open, "carol")
        #expect(try Self.register(open, "alice-sql", from: "a1-r8-qv", token: alice,
                                  extra: ["public": true, "description": "Writes SQL queries"]).status == 201)
        let request: [String: Any] = ["model": "auto", "prompt": "Write an SQL query that counts the users", "max_tokens": 1]
        for headers in [Self.bearer(carol), [:]] {   // carol, then the admin
            let routed = try open.client.request("POST", "/v1/completions", json: request, headers: headers)
            #expect(routed.status == 200, "\(routed.text)")
            let adapter = (routed.json?["lorad"] as? [String: Any])?["adapter"]
            #expect(adapter as? String != "alice-sql", "auto routed another tenant's prompt to alice's adapter")
        }
        // Alice's own prompts may go to her adapter.
        let own = try open.client.request("POST", "/v1/completions", json: request, headers: Self.bearer(alice))
        #expect((own.json?["lorad"] as? [String: Any])?["adapter"] as? String == "alice-sql", "\(own.text)")
    }

    /// Item 5: pins count against the tenant's share of the pool, an admin unpins anyone's, pins survive a restart.
    @Test func pinsAreBoundedAndDurable() throws {
        let data = try Fixtures.temporaryDirectory("lorad-pins")
        defer { try? FileManager.default.removeItem(at: data) }
        let arguments = ["--adapter-root", APIFixture.adapterRoot.path, "--pin-share", "0"]
        let first = try TestDaemon(model: Fixtures.tinyLlama.path, extraArguments: arguments, dataDirectory: data)
        let eve = try Self.token(first, "eve")
        for name in ["e0", "e1"] {
            #expect(try Self.register(first, name, from: name == "e0" ? "a0-r4-all" : "a1-r8-qv", token: eve).status == 201)
        }
        let over = try first.client.request("POST", "/v1/adapters/e0/pin", json: [:], headers: Self.bearer(eve))
        #expect(over.status == 403, "\(over.text)")
        #expect(over.errorMessage.contains("quota"))
        // The admin is not limited, and may unpin a tenant's adapter.
        #expect(try first.client.request("POST", "/v1/adapters/e1/pin", json: [:]).json?["pinned"] as? Bool == true)
        #expect(try first.client.request("POST", "/v1/adapters/e0/pin", json: [:]).json?["pinned"] as? Bool == true)
        #expect(try first.client.request("POST", "/v1/adapters/e0/unpin", json: [:]).json?["pinned"] as? Bool == false)
        #expect(first.stop() == 0)

        let second = try TestDaemon(model: Fixtures.tinyLlama.path, extraArguments: arguments, dataDirectory: data)
        defer { second.stop() }
        let e1 = try second.client.request("GET", "/v1/adapters/e1")
        #expect(e1.json?["pinned"] as? Bool == true, "the pin was lost in the restart: \(e1.text)")
        #expect(e1.json?["state"] as? String == "resident")
        #expect(try second.client.request("GET", "/v1/adapters/e0").json?["pinned"] as? Bool == false)
    }

    /// Items 6 and 9: values that would overflow are refused at registration; reserved names are refused; a
    /// tenant's error never shows the adapter roots; duplicate Authorization headers are refused.
    @Test func registrationRefusals() throws {
        let daemon = try APIFixture.makeDaemon()
        defer { daemon.stop() }
        // A copy of a1-r8-qv whose weights are all 3.0e38: finite, and far past what the activations can take.
        let huge = APIFixture.adapterRoot.appendingPathComponent("../huge-\(getpid())").standardizedFileURL
        try? FileManager.default.removeItem(at: huge)
        try FileManager.default.copyItem(at: APIFixture.adapterRoot.appendingPathComponent("a1-r8-qv"), to: huge)
        defer { try? FileManager.default.removeItem(at: huge) }
        let file = huge.appendingPathComponent("adapter_model.safetensors")
        var bytes = [UInt8](try Data(contentsOf: file))
        let headerBytes = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let value = Float(3.0e38).bitPattern
        for i in stride(from: 8 + headerBytes, to: bytes.count, by: 4) {
            for k in 0..<4 { bytes[i + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(k))) }
        }
        try Data(bytes).write(to: file)
        let root = try APIFixture.makeDaemon(["--adapter-root", huge.deletingLastPathComponent().path])
        defer { root.stop() }
        let overflow = try root.client.request("POST", "/v1/adapters", json: ["name": "huge", "path": huge.path])
        #expect(overflow.status == 400, "\(overflow.text)")
        #expect(overflow.errorMessage.contains("would overflow the model's activations"), "\(overflow.text)")

        for name in ["auto", APIFixture.modelId] {
            let r = try Self.register(daemon, name, from: "a1-r8-qv")
            #expect(r.status == 400, "\(r.text)")
            #expect(r.errorMessage.contains("reserved"))
        }

        let bob = try Self.token(daemon, "bob")
        let outside = try daemon.client.request("POST", "/v1/adapters", json: ["name": "x", "path": "/etc"],
                                                headers: Self.bearer(bob))
        #expect(outside.status == 403)
        #expect(!outside.errorMessage.contains(APIFixture.adapterRoot.path), "\(outside.errorMessage)")
        #expect(outside.errorMessage.contains("/etc"))
        let asAdmin = try daemon.client.request("POST", "/v1/adapters", json: ["name": "x", "path": "/etc"])
        #expect(asAdmin.errorMessage.contains(APIFixture.adapterRoot.path))

        let fd = try daemon.client.connect()
        defer { close(fd) }
        UnixHTTPClient.write(fd, Array("GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(bob)\r\nAuthorization: Bearer nobody\r\nConnection: close\r\n\r\n".utf8))
        let twice = try UnixHTTPClient.parse(UnixHTTPClient.readAll(fd))
        #expect(twice.status == 400, "\(twice.text)")
        #expect(twice.errorMessage.contains("Authorization headers"))
    }

    /// Items 3 and 9: /metrics shows a tenant only its own series; /tokenize has its own body limit and a
    /// per-tenant limit on calls in progress; /health answers while a tenant floods /tokenize.
    @Test func oneTenantCannotStallOrWatchTheOthers() throws {
        let daemon = try APIFixture.makeDaemon()
        defer { daemon.stop() }
        let alice = try Self.token(daemon, "alice"), bob = try Self.token(daemon, "bob")
        let generated = try daemon.client.request("POST", "/v1/completions",
                                                  json: ["model": APIFixture.modelId, "prompt": "hi", "max_tokens": 2],
                                                  headers: Self.bearer(alice))
        #expect(generated.status == 200, "\(generated.text)")
        let seenByBob = try daemon.client.request("GET", "/metrics", headers: Self.bearer(bob)).text
        #expect(!seenByBob.contains("tenant=\"alice\""), "bob sees alice's series")
        #expect(seenByBob.contains("lorad_steps_total"))
        #expect(try daemon.client.request("GET", "/metrics").text.contains("tenant=\"alice\""))

        let big = try daemon.client.request("POST", "/tokenize", body: Array(#"{"prompt":"\#(String(repeating: "x", count: 2 << 20))"}"#.utf8),
                                            headers: Self.bearer(bob))
        #expect(big.status == 413, "\(big.text)")

        // Bob floods /tokenize with the largest bodies allowed, each client leaving after 50 ms, then more.
        let prompt = Array(#"{"prompt":"\#(String(repeating: "lorem ipsum dolor sit amet ", count: 38_000))"}"#.utf8)
        func send() throws -> Int32 {
            let fd = try daemon.client.connect()
            UnixHTTPClient.write(fd, Array("POST /tokenize HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \(bob)\r\nContent-Length: \(prompt.count)\r\n\r\n".utf8) + prompt)
            return fd
        }
        var held: [Int32] = []
        for _ in 0..<4 { held.append(try send()) }
        usleep(50_000)
        let fifth = try UnixHTTPClient.parse(UnixHTTPClient.readAll(try send()))
        #expect(fifth.status == 429, "\(fifth.text)")   // four calls in progress: the tenant's limit
        let start = ContinuousClock.now
        #expect(try daemon.client.request("GET", "/health").status == 200)
        #expect(try daemon.client.request("GET", "/metrics").status == 200)
        let took = ContinuousClock.now - start
        #expect(took < .seconds(2), "/health and /metrics waited \(took) behind the tenant's work")
        for fd in held { close(fd) }   // abandoned: the work stops, the slots come back
        #expect(waitFor { (try? daemon.client.request("POST", "/tokenize", json: ["prompt": "ok"],
                                                       headers: Self.bearer(bob)).status) == 200 })
    }

    func waitFor(_ seconds: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return false }
            usleep(20_000)
        }
        return true
    }
}

/// Item 9: when the daemon refuses a connection, loractl prints the daemon's reason, not "Broken pipe".
@Suite struct RefusedConnectionTests {
    @Test func loractlShowsTheDaemonsRefusal() throws {
        let daemon = try APIFixture.makeDaemon(["--max-connections", "1"])
        defer { daemon.stop() }
        let busy = try daemon.client.connect()   // holds the one connection, mid-request (so it is not dropped)
        defer { close(busy) }
        UnixHTTPClient.write(busy, Array("GET /v1/models HTTP/1.1\r\nHost: x\r\n".utf8))
        usleep(100_000)
        let status = try runProduct("loractl", ["status"], environment: ["LORAD_SOCKET": daemon.socketPath])
        #expect(status.status != 0)
        #expect(status.stderr.contains("too many open connections"), "\(status.stderr)")
        #expect(!status.stderr.contains("Broken pipe"))
    }
}

/// Item 8: a local user the socket admits but no tenant maps may use the daemon's own adapters and not delete them.
/// Needs another uid to connect as, so it runs when the tests run as root (as `make test` does in the CI container).
@Suite struct UnmappedUserTests {
    @Test func unmappedLocalUserCannotDeleteTheDaemonsAdapters() throws {
        guard getuid() == 0 else { return }
        let daemon = try TestDaemon(model: Fixtures.tinyLlama.path,
                                    extraArguments: ["--register-adapters", APIFixture.adapterRoot.path])
        defer { daemon.stop() }
        #expect(chmod(daemon.socketPath, 0o666) == 0)   // as an operator giving users the socket's group
        func asNobody(_ method: String, _ path: String) throws -> String {
            try runProduct("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-s",
                                                "--unix-socket", daemon.socketPath, "-X", method, "http://x\(path)"]).stdout
        }
        #expect(try asNobody("GET", "/v1/models").contains("a1-r8-qv"))   // using them is fine
        let deleted = try asNobody("DELETE", "/v1/adapters/a1-r8-qv")
        #expect(deleted.contains("not mapped to a tenant"), "\(deleted)")
        #expect(try asNobody("POST", "/v1/adapters/a1-r8-qv/unload").contains("not mapped to a tenant"))
        #expect(try daemon.client.request("GET", "/v1/adapters/a1-r8-qv").status == 200)
    }
}
