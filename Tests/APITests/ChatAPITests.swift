import Foundation
import Testing
import TestSupport

/// `/v1/chat/completions`: messages rendered with the model's chat template (here Mistral's, with its
/// raise_exception), answered whole or streamed.
@Suite(.serialized) struct ChatAPITests {
    static let mistralTemplate = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"

    /// The fixture model with Mistral's chat template added to its tokenizer_config.json.
    static let daemon: TestDaemon = {
        do {
            let dir = try APIFixture.chatModel(template: mistralTemplate)
            return try TestDaemon(model: dir.path, extraArguments: ["--register-adapters", APIFixture.adapterRoot.path])
        } catch { fatalError("\(error)") }
    }()

    var client: UnixHTTPClient { Self.daemon.client }
    let conversation: [[String: Any]] = [
        ["role": "user", "content": "Hello there"], ["role": "assistant", "content": "Hi!"],
        ["role": "user", "content": "Tell me a story"],
    ]

    func chat(_ messages: [[String: Any]], model: String = "a0-r4-all", extra: [String: Any] = [:]) throws
        -> UnixHTTPClient.Response {
        var body: [String: Any] = ["model": model, "messages": messages, "max_tokens": 12, "temperature": 0,
                                   "return_token_ids": true, "ignore_eos": true]
        for (k, v) in extra { body[k] = v }
        return try client.request("POST", "/v1/chat/completions", json: body)
    }

    @Test func theTemplateIsRenderedAndTokenizedWithoutAddingBOSTwice() throws {
        let r = try chat(conversation)
        #expect(r.status == 200, "\(r.text)")
        #expect(r.json?["object"] as? String == "chat.completion")
        let message = r.firstChoice["message"] as? [String: Any]
        #expect(message?["role"] as? String == "assistant")
        let rendered = "<|begin_of_text|>[INST] Hello there [/INST]Hi!<|end_of_text|>[INST] Tell me a story [/INST]"
        let tokens = try client.request("POST", "/tokenize", json: ["prompt": rendered, "add_special_tokens": false])
        #expect(r.firstChoice["prompt_token_ids"] as? [Int] == tokens.json?["tokens"] as? [Int])
        // The same prompt through /v1/completions gives the same tokens.
        let completion = try client.request("POST", "/v1/completions", json: [
            "model": "a0-r4-all", "prompt": tokens.json?["tokens"] as Any, "max_tokens": 12, "temperature": 0,
            "ignore_eos": true])
        #expect(message?["content"] as? String == completion.firstChoice["text"] as? String)
        #expect((r.json?["lorad"] as? [String: Any])?["adapter"] as? String == "a0-r4-all")
    }

    @Test func streamedDeltasConcatenateToTheWholeMessage() throws {
        let whole = try chat(conversation)
        let streamed = try chat(conversation, extra: ["stream": true])
        let events = UnixHTTPClient.events(streamed.body)
        #expect(events.last == "[DONE]")
        var content = ""
        var roles: [String] = []
        for e in events.dropLast() {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any])
            #expect(o["object"] as? String == "chat.completion.chunk")
            let delta = ((o["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]) ?? [:]
            if let role = delta["role"] as? String { roles.append(role) }
            content += delta["content"] as? String ?? ""
        }
        #expect(roles == ["assistant"])
        #expect(content == (whole.firstChoice["message"] as? [String: Any])?["content"] as? String)
    }

    @Test func templateErrorsAreClientErrors() throws {
        let bad = try chat([["role": "assistant", "content": "I start"]])
        #expect(bad.status == 400)
        #expect(bad.errorMessage.contains("Conversation roles must alternate"), "\(bad.errorMessage)")
        let missing = try client.request("POST", "/v1/chat/completions", json: ["model": "a0-r4-all"])
        #expect(missing.status == 400)
        #expect(missing.errorMessage.contains("messages"))
    }
}
