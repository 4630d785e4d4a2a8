import Foundation
import Testing
import TestSupport

/// Tools on /v1/chat/completions with a chat template that renders them (Qwen2.5's, Hermes `<tool_call>` format) on
/// the fixture model: the two-turn round trip with the `openai` client, forced calls validate, bad tool requests are
/// 400s, and a template without tools refuses them.
@Suite(.serialized) struct ToolCallingAPITests {
    static let daemon: TestDaemon = {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        guard let template = try? String(contentsOf: here.appendingPathComponent("qwen2.5-chat-template.jinja"),
                                          encoding: .utf8) else { fatalError("qwen2.5-chat-template.jinja is missing") }
        do {
            let dir = try APIFixture.chatModel(template: template)
            return try TestDaemon(model: dir.path, extraArguments: ["--register-adapters", APIFixture.adapterRoot.path])
        } catch { fatalError("\(error)") }
    }()

    @Test func twoTurnRoundTripWithTheOpenAIClient() throws {
        if let missing = TestPython.missing("openai") { Issue.record(Comment(rawValue: missing)); return }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("tool_round_trip.py")
        for model in ["a1-r8-qv", "a3-r8-all-alpha24"] {
            let r = try runProduct("/usr/bin/env", ["python3", script.path, Self.daemon.socketPath, model],
                                   environment: TestPython.environment)
            #expect(r.status == 0, "\(model): \(r.stderr)\n\(r.stdout)")
        }
    }

    func chat(_ extra: [String: Any]) throws -> UnixHTTPClient.Response {
        var body: [String: Any] = ["model": "a0-r4-all", "messages": [["role": "user", "content": "Hi"]], "max_tokens": 120]
        for (k, v) in extra { body[k] = v }
        return try Self.daemon.client.request("POST", "/v1/chat/completions", json: body)
    }

    nonisolated(unsafe) static let tool: [String: Any] = ["type": "function", "function": [   // read-only
        "name": "lookup", "parameters": ["type": "object", "properties": ["id": ["type": "integer"]], "required": ["id"]]]]

    @Test func forcedCallsInABatchAllParse() throws {
        for seed in 0..<3 {
            let r = try chat(["tools": [Self.tool], "tool_choice": "required", "parallel_tool_calls": false,
                              "temperature": 0.5, "seed": seed])
            #expect(r.status == 200, "\(r.text)")
            #expect(r.firstChoice["finish_reason"] as? String == "tool_calls", "\(r.text)")
            let message = r.firstChoice["message"] as? [String: Any] ?? [:]
            #expect(message["content"] is NSNull)
            let call = (message["tool_calls"] as? [[String: Any]])?.first?["function"] as? [String: Any]
            #expect(call?["name"] as? String == "lookup")
            let args = (call?["arguments"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
            #expect((args as? [String: Any])?["id"] is Int, "\(r.text)")
        }
    }

    @Test func badToolRequestsAre400s() throws {
        let cases: [([String: Any], String)] = [
            (["tools": [["type": "function"]]], "tools[0] must be"),
            (["tool_choice": "required"], "tool_choice needs tools"),
            (["tools": [Self.tool], "tool_choice": ["type": "function", "function": ["name": "nope"]]], "\"nope\", which is not in tools"),
            (["tools": [Self.tool], "tool_choice": "sometimes"], "tool_choice must be"),
            (["tools": [Self.tool], "tool_choice": "required", "response_format": ["type": "json_object"]], "cannot be combined"),
        ]
        for (extra, expected) in cases {
            let r = try chat(extra)
            #expect(r.status == 400, "\(extra)")
            #expect(r.errorMessage.contains(expected), "\(r.errorMessage)")
        }
        // A template that renders no tools (the fixture model's own) refuses them.
        let plain = try APIFixture.shared.client.request("POST", "/v1/chat/completions", json: [
            "model": "a0-r4-all", "messages": [["role": "user", "content": "Hi"]], "tools": [Self.tool]])
        #expect(plain.status == 400)
    }
}
