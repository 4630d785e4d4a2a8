import Foundation
import Testing
import TestSupport

/// Faults: a client leaving mid-stream, SIGKILL under load, adapter files damaged under a running daemon, a full
/// disk while registering. One tenant's fault never costs the daemon or the registry.
@Suite struct FaultTests {
    static func metric(_ c: UnixHTTPClient, _ name: String) throws -> Double {
        try c.request("GET", "/metrics").text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? -1
    }

    static func settle(_ c: UnixHTTPClient, _ name: String, to value: Double) throws -> Double {
        var v = -1.0
        for _ in 0..<500 {
            v = try metric(c, name)
            if v == value { break }
            usleep(10_000)
        }
        return v
    }

    static func startStream(_ c: UnixHTTPClient, model: String = "tiny-llama") throws -> Int32 {
        let fd = try c.connect()
        let body = #"{"model":"\#(model)","prompt":[2037,39],"max_tokens":480,"ignore_eos":true,"stream":true}"#
        UnixHTTPClient.write(fd, Array("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8))
        var first = [UInt8](repeating: 0, count: 256)
        _ = first.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return fd
    }

    @Test func clientLeavingMidStreamCancelsAndFreesItsPages() throws {
        let daemon = try APIFixture.makeDaemon(["--register-adapters", APIFixture.adapterRoot.path])
        defer { daemon.stop() }
        let c = daemon.client
        let fds = try [APIFixture.modelId, "a0-r4-all", "a2-r16-all-rslora"].map { try Self.startStream(c, model: $0) }
        fds.forEach { close($0) }
        // All three end cancelled, a request still waiting for its adapter's pages included (it is admitted, then
        // finds its client gone), and nothing stays running or holding KV pages.
        #expect(try Self.settle(c, "lorad_requests_finished_total{reason=\"cancelled\"}", to: 3) == 3)
        #expect(try Self.settle(c, "lorad_sequences_running", to: 0) == 0)
        #expect(try Self.settle(c, "lorad_pool_pages{kind=\"kv\"}", to: 0) == 0)
        #expect(try c.request("POST", "/v1/completions", json: ["model": "a0-r4-all", "prompt": "Hi", "max_tokens": 3]).status == 200)
    }

    @Test func sigkillUnderLoadThenRestartKeepsTheRegistry() throws {
        let daemon = try APIFixture.makeDaemon()
        let c = daemon.client
        for name in APIFixture.adapterNames {
            let r = try c.request("POST", "/v1/adapters", json: ["name": name, "public": true,
                                                                 "path": APIFixture.adapterRoot.appendingPathComponent(name).path])
            #expect(r.status == 201)
        }
        #expect(try c.request("POST", "/v1/tenants", json: ["name": "t1", "max_concurrent": 5]).status == 201)
        // Load: streams running and a registration racing the kill.
        let fds = try APIFixture.adapterNames.map { try Self.startStream(c, model: $0) }
        DispatchQueue.global().async {
            _ = try? c.request("POST", "/v1/adapters", json: ["name": "racing",
                                                              "path": APIFixture.adapterRoot.appendingPathComponent("a1-r8-qv").path])
        }
        usleep(20_000)
        daemon.stop(signal: SIGKILL)
        fds.forEach { close($0) }

        let again = try TestDaemon(model: Fixtures.tinyLlama.path,
                                   extraArguments: ["--adapter-root", APIFixture.adapterRoot.path],
                                   dataDirectory: daemon.dataDirectory)
        defer { again.stop() }
        let c2 = again.client
        let list = try #require(try c2.request("GET", "/v1/adapters").json?["data"] as? [[String: Any]])
        let names = Set(list.compactMap { $0["name"] as? String })
        #expect(names.isSuperset(of: APIFixture.adapterNames))
        #expect(list.allSatisfy { $0["broken_reason"] is NSNull }, "\(list)")
        for name in names {
            let r = try c2.request("POST", "/v1/completions", json: ["model": name, "prompt": "Hi", "max_tokens": 3])
            #expect(r.status == 200, "\(name): \(r.text)")
        }
        let tenants = try c2.request("GET", "/v1/tenants").json?["data"] as? [[String: Any]]
        #expect(tenants?.contains { $0["name"] as? String == "t1" && $0["max_concurrent"] as? Int == 5 } == true)
    }

    @Test func adapterFilesDamagedUnderARunningDaemon() throws {
        let daemon = try APIFixture.makeDaemon(["--register-adapters", APIFixture.adapterRoot.path])
        defer { daemon.stop() }
        let c = daemon.client
        let records = try #require(try c.request("GET", "/v1/adapters").json?["data"] as? [[String: Any]])
        func storeFile(_ name: String) throws -> String {
            let sha = try #require(records.first { $0["name"] as? String == name }?["sha256"] as? String)
            return daemon.dataDirectory.appendingPathComponent("adapters/\(sha)/adapter_model.safetensors").path
        }
        // Deleted: using it is a clear error; the daemon keeps serving.
        let deleted = try storeFile("a0-r4-all")
        chmod(URL(fileURLWithPath: deleted).deletingLastPathComponent().path, 0o755)
        #expect(unlink(deleted) == 0)
        let r1 = try c.request("POST", "/v1/completions", json: ["model": "a0-r4-all", "prompt": "Hi", "max_tokens": 3])
        #expect(r1.status == 422 || r1.status == 404 || r1.status == 500, "\(r1.text)")
        #expect(!r1.errorMessage.isEmpty)
        #expect(r1.errorMessage.contains("a0-r4-all"), "\(r1.errorMessage)")
        // Corrupted (same size, flipped bytes): refused by the hash or the safetensors checks, never a crash.
        let corrupt = try storeFile("a1-r8-qv")
        chmod(URL(fileURLWithPath: corrupt).deletingLastPathComponent().path, 0o755)
        chmod(corrupt, 0o644)
        let fh = try #require(FileHandle(forUpdatingAtPath: corrupt))
        try fh.seek(toOffset: 8)
        fh.write(Data(repeating: 0x7B, count: 64))
        try fh.close()
        let r2 = try c.request("POST", "/v1/completions", json: ["model": "a1-r8-qv", "prompt": "Hi", "max_tokens": 3])
        #expect(r2.status >= 400 && r2.status < 600, "\(r2.text)")
        #expect(r2.errorMessage.contains("a1-r8-qv"), "\(r2.errorMessage)")
        // Others still work.
        let ok = try c.request("POST", "/v1/completions", json: ["model": "a2-r16-all-rslora", "prompt": "Hi", "max_tokens": 3])
        #expect(ok.status == 200)
        #expect(try c.request("GET", "/health").status == 200)
    }

    /// A full disk (the file-size limit of the daemon's process, which fails writes with EFBIG like ENOSPC would):
    /// registration fails with a clear error and leaves nothing half-written.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/bash")))
    func diskFullWhileRegistering() throws {
        let root = APIFixture.adapterRoot.path
        let daemon = try TestDaemon(model: Fixtures.tinyLlama.path, extraArguments: ["--adapter-root", root],
                                    shellPrefix: "ulimit -f 120")
        defer { daemon.stop() }
        let c = daemon.client
        let big = try c.request("POST", "/v1/adapters", json: ["name": "big", "path": root + "/a2-r16-all-rslora"])
        #expect(big.status >= 400, "\(big.text)")
        #expect(big.errorMessage.lowercased().contains("write") || big.errorMessage.contains("large") || big.errorMessage.contains("space"),
                "\(big.errorMessage)")
        #expect(try c.request("GET", "/v1/adapters/big").status == 404)
        let store = daemon.dataDirectory.appendingPathComponent("adapters")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: store.path))?.filter { !$0.hasPrefix(".lock") } ?? []
        #expect(leftovers.allSatisfy { !$0.hasPrefix(".staging") && $0.count != 64 }, "\(leftovers)")
        // A small adapter still fits and works.
        let small = try c.request("POST", "/v1/adapters", json: ["name": "small", "path": root + "/a0-r4-all"])
        #expect(small.status == 201, "\(small.text)")
        #expect(try c.request("POST", "/v1/completions", json: ["model": "small", "prompt": "Hi", "max_tokens": 2]).status == 200)
    }
}
