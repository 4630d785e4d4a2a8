import Foundation
import ModelFactory
import Testing
import TestSupport

/// The unified memory pool through the daemon: a pool that holds 3 of 12 adapters serves traffic over all 12 with
/// the outputs of an all-resident run; pinned adapters survive; KV pages all come back; deleted adapters leave the
/// pool; a request whose KV can never fit is refused.
@Suite(.serialized) struct PoolTests {
    static let adapterCount = 12

    /// 12 distinct demo-shape adapters (rank 8, every projection) in a temporary adapter root.
    static let root: URL = {
        do {
            let dir = try Fixtures.temporaryDirectory("lorad-pool-adapters")
            for i in 0..<adapterCount {
                try ModelWriter.writeAdapter(shape: .demo, rank: 8, alpha: 16,
                                             targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                                             seed: UInt64(500 + i), deltaStd: 0.2,
                                             to: dir.appendingPathComponent(String(format: "p%02d", i)))
            }
            return dir
        } catch { fatalError("\(error)") }
    }()
    static let names = (0..<adapterCount).map { String(format: "p%02d", $0) }

    static func metric(_ c: UnixHTTPClient, _ prefix: String) throws -> Double {
        let text = try c.request("GET", "/metrics").text
        return text.split(separator: "\n").filter { $0.hasPrefix(prefix + " ") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.first ?? -1
    }

    static func generate(_ c: UnixHTTPClient, _ model: String, maxTokens: Int = 12) throws -> UnixHTTPClient.Response {
        try c.request("POST", "/v1/completions", json: ["model": model, "prompt": "Once upon a time", "max_tokens": maxTokens,
                                                        "temperature": 0, "ignore_eos": true, "return_token_ids": true])
    }

    static func tokens(_ r: UnixHTTPClient.Response) -> [Int] { r.firstChoice["token_ids"] as? [Int] ?? [] }

    @Test func smallPoolServesEveryAdapterLikeAnAllResidentOne() throws {
        // All resident: a big pool. Outputs per adapter, and the pages one adapter takes.
        let big = try TestDaemon(model: "demo", extraArguments: ["--register-adapters", Self.root.path])
        var reference: [String: [Int]] = [:]
        for n in Self.names { reference[n] = Self.tokens(try Self.generate(big.client, n)) }
        #expect(reference.values.allSatisfy { $0.count == 12 })
        #expect(Set(reference.values).count == Self.adapterCount, "the adapters are distinct")
        let adapterPages = try Self.metric(big.client, "lorad_pool_pages{kind=\"adapter\"}")
        let pageBytes = try Self.metric(big.client, "lorad_pool_page_bytes")
        big.stop()
        let perAdapter = Int(adapterPages) / Self.adapterCount
        #expect(perAdapter > 0 && Int(adapterPages) % Self.adapterCount == 0)

        // A pool for 3 adapters and a little KV.
        let pages = 3 * perAdapter + 6
        let small = try TestDaemon(model: "demo", extraArguments: [
            "--register-adapters", Self.root.path, "--pool-memory", String(pages * Int(pageBytes))])
        defer { small.stop() }
        let c = small.client
        #expect(try c.request("POST", "/v1/adapters/p00/pin", json: [:]).json?["pinned"] as? Bool == true)
        for round in 0..<2 {
            for n in Self.names {
                let r = try Self.generate(c, n)
                #expect(r.status == 200, "\(n): \(r.text)")
                #expect(Self.tokens(r) == reference[n], "round \(round) adapter \(n)")
                #expect(try Self.metric(c, "lorad_adapters_resident") <= 3)
            }
        }
        // Concurrent requests over more adapters than fit: they wait for pages, none fails, outputs unchanged.
        let failures = Locked([String]())
        let expected = reference
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let n = Self.names[1 + i % 6]
            do {
                let r = try Self.generate(c, n)
                if Self.tokens(r) != expected[n] { failures.mutate { $0.append("\(n): \(r.status) \(r.text.prefix(200))") } }
            } catch { failures.mutate { $0.append("\(n): \(error)") } }
        }
        #expect(failures.value.isEmpty, "\(failures.value)")
        #expect(try Self.metric(c, "lorad_adapter_evictions_total") > 0)
        let pinned = try c.request("GET", "/v1/adapters/p00")
        #expect(pinned.json?["state"] as? String == "resident")
        #expect(pinned.json?["pinned"] as? Bool == true)
        // Every KV page is back once the requests have ended.
        var kv = -1.0
        for _ in 0..<200 {
            kv = try Self.metric(c, "lorad_pool_pages{kind=\"kv\"}")
            if kv == 0 { break }
            usleep(10_000)
        }
        #expect(kv == 0)

        // Deleting a resident adapter takes it out of the pool.
        _ = try Self.generate(c, "p05")
        #expect(try c.request("GET", "/v1/adapters/p05").json?["state"] as? String == "resident")
        let before = try Self.metric(c, "lorad_pool_pages{kind=\"adapter\"}")
        #expect(try c.request("DELETE", "/v1/adapters/p05").status == 200)
        #expect(try Self.metric(c, "lorad_pool_pages{kind=\"adapter\"}") == before - Double(perAdapter))

        // A request whose KV can never fit in the pool is refused, naming the pool.
        let huge = try Self.generate(c, "p01", maxTokens: 1900)
        #expect(huge.status == 400, "\(huge.text)")
        #expect(huge.errorMessage.contains("pool"), "\(huge.errorMessage)")
    }
}
