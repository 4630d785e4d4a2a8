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
}

extension UnixHTTPClient.Response {
    var errorMessage: String { ((json?["error"] as? [String: Any])?["message"] as? String) ?? "" }
    var errorType: String { ((json?["error"] as? [String: Any])?["type"] as? String) ?? "" }
    var firstChoice: [String: Any] { (json?["choices"] as? [[String: Any]])?.first ?? [:] }
}
