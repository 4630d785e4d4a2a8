import Foundation
import Testing
import TestSupport

/// Adapter management, tenants and tokens, isolation between tenants, metrics: each test on a daemon of its own.
@Suite struct AdminAPITests {
    static let adapterPath = APIFixture.adapterRoot.appendingPathComponent("a1-r8-qv").path

    @Test func adapterLifecycle() throws {
        let daemon = try APIFixture.makeDaemon()
        defer { daemon.stop() }
        let c = daemon.client
        let created = try c.request("POST", "/v1/adapters", json: ["name": "qv", "path": Self.adapterPath,
                                                                   "public": true, "description": "q and v only"])
        #expect(created.status == 201, "\(created.text)")
        #expect(created.json?["rank"] as? Int == 8)
        #expect(created.json?["target_modules"] as? [String] == ["q_proj", "v_proj"])
        #expect(created.json?["state"] as? String == "disk")
        #expect((created.json?["sha256"] as? String)?.count == 64)
        let again = try c.request("POST", "/v1/adapters", json: ["name": "qv", "path": Self.adapterPath])
        #expect(again.status == 409, "\(again.text)")

        let list = try c.request("GET", "/v1/adapters")
        #expect((list.json?["data"] as? [[String: Any]])?.map { $0["name"] as? String } == ["qv"])
        #expect(try c.request("POST", "/v1/adapters/qv/load", json: [:]).json?["state"] as? String == "resident")
        let pinned = try c.request("POST", "/v1/adapters/qv/pin", json: [:])
        #expect(pinned.json?["pinned"] as? Bool == true)
        #expect(try c.request("POST", "/v1/adapters/qv/unpin", json: [:]).json?["pinned"] as? Bool == false)
        #expect(try c.request("POST", "/v1/adapters/qv/unload", json: [:]).json?["state"] as? String == "disk")

        let gen = try c.request("POST", "/v1/completions", json: ["model": "qv", "prompt": [2037, 39], "max_tokens": 3])
        #expect(gen.status == 200)
        let shown = try c.request("GET", "/v1/adapters/qv")
        #expect(shown.json?["requests"] as? Int == 1)
        #expect(shown.json?["last_used_at"] is Int)

        #expect(try c.request("DELETE", "/v1/adapters/qv").status == 200)
        #expect(try c.request("GET", "/v1/adapters/qv").status == 404)
        let gone = try c.request("POST", "/v1/completions", json: ["model": "qv", "prompt": "Hi", "max_tokens": 2])
        #expect(gone.status == 404)
        #expect(gone.errorType == "not_found_error")
    }

    /// Two names with the same files share one pool copy; one name never unpins or unloads the other.
    @Test func copiesDoNotTouchEachOthersPins() throws {
        let daemon = try APIFixture.makeDaemon()
        defer { daemon.stop() }
        let c = daemon.client
        let bob = try #require(try c.request("POST", "/v1/tenants", json: ["name": "bob", "token": true]).json?["token"] as? String)
        #expect(try c.request("POST", "/v1/adapters", json: ["name": "orig", "path": Self.adapterPath, "public": true]).status == 201)
        #expect(try c.request("POST", "/v1/adapters/orig/pin", json: [:]).json?["pinned"] as? Bool == true)
        let asBob = ["Authorization": "Bearer \(bob)"]
        #expect(try c.request("POST", "/v1/adapters", json: ["name": "copy", "path": Self.adapterPath], headers: asBob).status == 201)
        _ = try c.request("POST", "/v1/adapters/copy/unpin", json: [:], headers: asBob)
        _ = try c.request("POST", "/v1/adapters/copy/unload", json: [:], headers: asBob)
        #expect(try c.request("DELETE", "/v1/adapters/copy", headers: asBob).status == 200)
        let orig = try c.request("GET", "/v1/adapters/orig")
        #expect(orig.json?["pinned"] as? Bool == true)
        #expect(orig.json?["state"] as? String == "resident")
        // A taken name says so without saying whose it is.
        let taken = try c.request("POST", "/v1/adapters", json: ["name": "orig", "path": Self.adapterPath], headers: asBob)
        #expect(taken.status == 409)
        #expect(!taken.errorMessage.contains("tenant"))
        // A path outside the roots gets the same answer whether it exists or not.
        let a = try c.request("POST", "/v1/adapters", json: ["name": "x1", "path": "/etc"], headers: asBob)
        let b = try c.request("POST", "/v1/adapters", json: ["name": "x1", "path": "/no/such/dir"], headers: asBob)
        #expect(a.status == b.status)
        #expect(a.errorMessage.replacingOccurrences(of: "/etc", with: "P") == b.errorMessage.replacingOccurrences(of: "/no/such/dir", with: "P"))
    }

    @Test func registrationErrorsAreClear() throws {
        let daemon = try APIFixture.makeDaemon()
        defer { daemon.stop() }
        let c = daemon.client
        let outside = try c.request("POST", "/v1/adapters", json: ["name": "x", "path": "/etc"])
        #expect(outside.status == 400 || outside.status == 403, "\(outside.text)")
        #expect(outside.errorMessage.contains("/etc"))
        let badName = try c.request("POST", "/v1/adapters", json: ["name": "Bad Name", "path": Self.adapterPath])
        #expect(badName.status == 400)
        let missing = try c.request("POST", "/v1/adapters", json: ["name": "y"])
        #expect(missing.status == 400)
        #expect(missing.errorMessage.contains("path"))
    }

    @Test func tenantsTokensAndIsolation() throws {
        let daemon = try APIFixture.makeDaemon()
        defer { daemon.stop() }
        let c = daemon.client
        let alice = try c.request("POST", "/v1/tenants", json: ["name": "alice", "token": true])
        #expect(alice.status == 201, "\(alice.text)")
        let bob = try c.request("POST", "/v1/tenants", json: ["name": "bob", "token": true])
        let aliceToken = try #require(alice.json?["token"] as? String)
        let bobToken = try #require(bob.json?["token"] as? String)
        let asAlice = ["Authorization": "Bearer \(aliceToken)"], asBob = ["Authorization": "Bearer \(bobToken)"]

        let reg = try c.request("POST", "/v1/adapters", json: ["name": "secret", "path": Self.adapterPath],
                                headers: asAlice)
        #expect(reg.status == 201, "\(reg.text)")
        #expect(reg.json?["tenant"] as? String == "alice")

        // Alice sees and uses it; Bob cannot see, use, change or delete it: 404 every time, never 403.
        #expect(try c.request("GET", "/v1/adapters/secret", headers: asAlice).status == 200)
        #expect(try c.request("GET", "/v1/adapters/secret", headers: asBob).status == 404)
        let bobList = try c.request("GET", "/v1/adapters", headers: asBob)
        #expect((bobList.json?["data"] as? [Any])?.isEmpty == true)
        let bobModels = try c.request("GET", "/v1/models", headers: asBob)
        #expect((bobModels.json?["data"] as? [[String: Any]])?.count == 1)
        let use = try c.request("POST", "/v1/completions", json: ["model": "secret", "prompt": "Hi", "max_tokens": 2],
                                headers: asBob)
        #expect(use.status == 404)
        #expect(try c.request("DELETE", "/v1/adapters/secret", headers: asBob).status == 404)
        #expect(try c.request("POST", "/v1/adapters/secret/pin", json: [:], headers: asBob).status == 404)
        let mine = try c.request("POST", "/v1/completions", json: ["model": "secret", "prompt": "Hi", "max_tokens": 2],
                                 headers: asAlice)
        #expect(mine.status == 200)

        // Tokens: a wrong one is 401; tenants are admin-only.
        #expect(try c.request("GET", "/v1/models", headers: ["Authorization": "Bearer nope"]).status == 401)
        #expect(try c.request("GET", "/v1/tenants", headers: asAlice).status == 403)
        let tenants = try c.request("GET", "/v1/tenants")
        let names = (tenants.json?["data"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(Set(names).isSuperset(of: ["alice", "bob", "default"]))
        #expect(try c.request("DELETE", "/v1/tenants/bob").status == 200)
        #expect(try c.request("GET", "/v1/models", headers: asBob).status == 401)
    }

    @Test func metricsMoveWithTraffic() throws {
        let daemon = try APIFixture.makeDaemon(["--register-adapters", APIFixture.adapterRoot.path])
        defer { daemon.stop() }
        let c = daemon.client
        func sample(_ name: String) throws -> Double {
            let text = try c.request("GET", "/metrics").text
            return text.split(separator: "\n").filter { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
                .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
        }
        let tokens0 = try sample("lorad_tokens_generated_total")
        let loads0 = try sample("lorad_adapter_loads_total")
        for model in [APIFixture.modelId, "a0-r4-all"] {
            let r = try c.request("POST", "/v1/completions", json: ["model": model, "prompt": "Hi", "max_tokens": 5,
                                                                    "ignore_eos": true])
            #expect(r.status == 200)
        }
        _ = try c.request("GET", "/v1/nothing-here")
        // The engine counts a step's tokens after it has handed them out: wait for the counter to settle.
        var generated = 0.0
        for _ in 0..<200 {
            generated = try sample("lorad_tokens_generated_total") - tokens0
            if generated >= 10 { break }
            usleep(10_000)
        }
        #expect(generated == 10)
        #expect(try sample("lorad_adapter_loads_total") - loads0 == 1)
        #expect(try sample("lorad_adapters_resident") == 1)
        let text = try c.request("GET", "/metrics").text
        #expect(text.contains("lorad_requests_total{path=\"/v1/completions\",status=\"200\"} 2"))
        #expect(text.contains("status=\"404\""))
        #expect(text.contains("lorad_step_seconds_bucket"))
        #expect(text.contains("lorad_sequences_running 0"))
    }
}

/// Registration with `stream: true` reports the bytes copied, then the record.
@Suite struct StreamedRegistrationTests {
    @Test func progressEventsThenTheRecord() throws {
        let daemon = try APIFixture.makeDaemon()
        defer { daemon.stop() }
        let path = APIFixture.adapterRoot.appendingPathComponent("a2-r16-all-rslora").path
        let r = try daemon.client.request("POST", "/v1/adapters", json: ["name": "big", "path": path, "stream": true])
        #expect(r.status == 200)
        let events = UnixHTTPClient.events(r.body)
        #expect(events.last == "[DONE]")
        let objects = events.dropLast().compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let progress = objects.filter { $0["object"] as? String == "adapter.import" }
        let total = try #require(progress.last?["total_bytes"] as? Int)
        #expect(progress.first?["bytes_imported"] as? Int == 0)
        #expect(progress.last?["bytes_imported"] as? Int == total)
        let record = try #require(objects.last)
        #expect(record["object"] as? String == "adapter")
        #expect(record["size_bytes"] as? Int == total)
        // A failing streamed registration ends with an error event.
        let dup = try daemon.client.request("POST", "/v1/adapters", json: ["name": "big", "path": path, "stream": true])
        let last = UnixHTTPClient.events(dup.body).dropLast().last ?? ""
        #expect(last.contains("\"error\"") && last.contains("big"))
    }

    /// On a terminal, `loractl adapters add` draws the import progress (run under `script` for a pty).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func loractlDrawsProgressOnATerminal() throws {
        let daemon = try APIFixture.makeDaemon()
        defer { daemon.stop() }
        let path = APIFixture.adapterRoot.appendingPathComponent("a0-r4-all").path
        let command = "\(Fixtures.builtProduct("loractl").path) --socket \(daemon.socketPath) adapters add tty \(path)"
        let r = try runProduct("/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(r.status == 0, "\(r.stdout)")
        #expect(r.stdout.contains("importing tty:"))
        #expect(r.stdout.contains("(100%)"))
        #expect(r.stdout.contains("registered tty (rank 4"))
    }
}
