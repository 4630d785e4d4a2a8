import Foundation
import Testing
import TestSupport

/// The OpenAI API as the official `openai` Python client (3.63, in .build/venv) sees it, over the daemon's socket:
/// every field of the completion and chat schemas honoured or refused, sampling controls, n/best_of, prompt lists,
/// echo with prompt logprobs (against transformers' values), the usage chunk, models/{id}, errors with `param`,
/// Retry-After. The checks are in openai_client_checks.py; each test runs one.
@Suite(.serialized) struct OpenAIClientTests {
    /// Any role goes through this template (a ChatML-like one).
    static let template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    static let daemon: TestDaemon? = try? TestDaemon(model: APIFixture.chatModel(template: template).path,
                                                     extraArguments: ["--register-adapters", APIFixture.adapterRoot.path])
    /// Tokens of two tenants: one with the default limits, one that may run a single request at a time.
    static let tokens: (free: String, single: String)? = {
        guard let d = daemon else { return nil }
        func token(_ body: [String: Any]) -> String? {
            (try? d.client.request("POST", "/v1/tenants", json: body))?.json?["token"] as? String
        }
        guard let free = token(["name": "openai", "token": true]),
              let single = token(["name": "openai-one", "token": true, "max_concurrent": 1]) else { return nil }
        return (free, single)
    }()

    @Test(arguments: ["fields", "sampling", "choices", "echo", "stream_usage", "requests", "rate_limit"])
    func check(_ name: String) throws {
        if let missing = TestPython.missing("openai") { Issue.record(Comment(rawValue: missing)); return }
        let daemon = try #require(Self.daemon)
        let tokens = try #require(Self.tokens)
        let script = Fixtures.repositoryRoot.appendingPathComponent("Tests/APITests/openai_client_checks.py").path
        let r = try runProduct("/usr/bin/env", ["python3", script, name, daemon.socketPath,
                                                name == "rate_limit" ? tokens.single : tokens.free,
                                                Fixtures.repositoryRoot.appendingPathComponent("Tests/Fixtures").path],
                               environment: TestPython.environment)
        #expect(r.status == 0, "\(name):\n\(r.stdout)\n\(r.stderr)")
    }
}
