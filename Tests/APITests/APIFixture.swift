import Foundation
import TestSupport

/// One daemon on the fixture model (tiny-llama) with the four fixture adapters registered, shared by the suites
/// that only read from it.
enum APIFixture {
    static let adapterRoot = Fixtures.tinyLlama.appendingPathComponent("adapters")
    static let adapterNames = ["a0-r4-all", "a1-r8-qv", "a2-r16-all-rslora", "a3-r8-all-alpha24"]
    static let modelId = "tiny-llama"

    static let shared: TestDaemon = {
        do {
            return try TestDaemon(model: Fixtures.tinyLlama.path,
                                  extraArguments: ["--register-adapters", adapterRoot.path])
        } catch { fatalError("\(error)") }
    }()

    /// A daemon of its own (for tests that change state or stop it), with the fixture adapters' folder as a root.
    static func makeDaemon(_ extra: [String] = [], environment: [String: String] = [:]) throws -> TestDaemon {
        try TestDaemon(model: Fixtures.tinyLlama.path, extraArguments: ["--adapter-root", adapterRoot.path] + extra,
                       environment: environment)
    }

    /// A copy of the fixture model (in a temporary folder, named tiny-llama like the original) with `template` as
    /// its chat template in tokenizer_config.json.
    static func chatModel(template: String) throws -> URL {
        let dir = try Fixtures.temporaryDirectory("lorad-chat-model").appendingPathComponent(modelId)
        let fm = FileManager.default
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json"] {
            try fm.copyItem(at: Fixtures.tinyLlama.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let configURL = Fixtures.tinyLlama.appendingPathComponent("tokenizer_config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any] ?? [:]
        config["chat_template"] = template
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        return dir
    }

    /// Sends a streaming completion of `maxTokens` tokens (EOS ignored) on a new connection and waits for the first
    /// bytes of the answer: the open socket and those bytes.
    static func startStream(_ daemon: TestDaemon, maxTokens: Int) throws -> (fd: Int32, first: [UInt8]) {
        let fd = try daemon.client.connect()
        let body = #"{"model":"tiny-llama","prompt":[2037,39],"max_tokens":\#(maxTokens),"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}"#
        UnixHTTPClient.write(fd, Array("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8))
        var first = [UInt8](repeating: 0, count: 512)
        let n = first.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return (fd, Array(first[0..<max(0, n)]))
    }
}

extension UnixHTTPClient.Response {
    var errorMessage: String { ((json?["error"] as? [String: Any])?["message"] as? String) ?? "" }
    var errorType: String { ((json?["error"] as? [String: Any])?["type"] as? String) ?? "" }
    var firstChoice: [String: Any] { (json?["choices"] as? [[String: Any]])?.first ?? [:] }
}
