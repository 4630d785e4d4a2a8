import Foundation
import Testing
import TestSupport

/// `/v1/completions` end to end: the fixture references come back token for token, for the base model and every
/// adapter, alone and concurrently; streaming equals the whole answer.
@Suite(.serialized) struct CompletionsAPITests {
    let client = APIFixture.shared.client
    static let refs = References.tinyLlama

    func complete(model: String, prompt: Any, maxTokens: Int = 48, extra: [String: Any] = [:]) throws
        -> UnixHTTPClient.Response {
        var body: [String: Any] = ["model": model, "prompt": prompt, "max_tokens": maxTokens, "temperature": 0,
                                   "return_token_ids": true, "ignore_eos": true]
        for (k, v) in extra { body[k] = v }
        return try client.request("POST", "/v1/completions", json: body)
    }

    @Test(arguments: ["__base__"] + APIFixture.adapterNames)
    func greedyTokensMatchTheReferences(variant: String) throws {
        let model = variant == "__base__" ? APIFixture.modelId : variant
        for (i, prompt) in Self.refs.prompts.enumerated() {
            let r = try complete(model: model, prompt: prompt.ids)
            #expect(r.status == 200, "\(r.text)")
            #expect(r.firstChoice["token_ids"] as? [Int] == Self.refs.variants[variant]![i].greedyIds,
                    "\(variant) prompt \(i)")
            #expect(r.firstChoice["prompt_token_ids"] as? [Int] == prompt.ids)
            let lorad = r.json?["lorad"] as? [String: Any]
            #expect(lorad?["adapter"] as? String == (variant == "__base__" ? nil : variant))
        }
    }

    @Test func concurrentRequestsOverEveryAdapterMatchTheReferences() throws {
        let variants = ["__base__"] + APIFixture.adapterNames
        let jobs = variants.flatMap { v in (0..<4).map { (v, $0) } }
        let results = Locked([String]())
        DispatchQueue.concurrentPerform(iterations: jobs.count) { j in
            let (variant, i) = jobs[j]
            let model = variant == "__base__" ? APIFixture.modelId : variant
            do {
                let r = try complete(model: model, prompt: Self.refs.prompts[i].ids)
                if r.firstChoice["token_ids"] as? [Int] != Self.refs.variants[variant]![i].greedyIds {
                    results.mutate { $0.append("\(variant) prompt \(i): \(r.status) \(r.text.prefix(200))") }
                }
            } catch { results.mutate { $0.append("\(variant) prompt \(i): \(error)") } }
        }
        #expect(results.value.isEmpty, "\(results.value)")
    }

    /// `lookahead` off, auto and explicit give the reference tokens; `lorad.steps` counts the forward passes
    /// (one per token when off, never more with lookahead); a bad shape is a 400 naming the field.
    @Test func lookaheadOptionKeepsTokensAndReportsSteps() throws {
        let i = 6, variant = APIFixture.adapterNames[0]
        let expected = Self.refs.variants[variant]![i].greedyIds
        for setting in ["off", "auto", ["w": 5, "n": 4, "g": 5], ["w": 15, "n": 5, "g": 15], ["w": 1, "n": 1, "g": 0]] as [Any] {
            let r = try complete(model: variant, prompt: Self.refs.prompts[i].ids, extra: ["lookahead": setting])
            #expect(r.status == 200, "\(r.text)")
            #expect(r.firstChoice["token_ids"] as? [Int] == expected, "lookahead \(setting)")
            let steps = (r.json?["lorad"] as? [String: Any])?["steps"] as? Int ?? -1
            if setting as? String == "off" { #expect(steps == expected.count) }
            #expect(steps >= 1 && steps <= expected.count, "lookahead \(setting): \(steps) steps")
        }
        let bad = try complete(model: variant, prompt: [1, 2], extra: ["lookahead": ["w": 0, "n": 4, "g": 5]])
        #expect(bad.status == 400)
        #expect(bad.text.contains("must be between 1 and 64, got 0"), "\(bad.text)")
    }

    @Test func textPromptIsTokenizedWithSpecialTokens() throws {
        let prompt = Self.refs.prompts[1]
        let asText = try complete(model: APIFixture.modelId, prompt: prompt.text, maxTokens: 8)
        let asIds = try complete(model: APIFixture.modelId, prompt: prompt.ids, maxTokens: 8)
        #expect(asText.firstChoice["prompt_token_ids"] as? [Int] == prompt.ids)
        #expect(asText.firstChoice["text"] as? String == asIds.firstChoice["text"] as? String)
        let usage = asText.json?["usage"] as? [String: Any]
        #expect(usage?["prompt_tokens"] as? Int == prompt.ids.count)
        #expect(usage?["completion_tokens"] as? Int == 8)
    }

    @Test func streamedChunksConcatenateToTheWholeText() throws {
        for model in [APIFixture.modelId, "a2-r16-all-rslora"] {
            let whole = try complete(model: model, prompt: Self.refs.prompts[5].text, maxTokens: 40)
            let streamed = try complete(model: model, prompt: Self.refs.prompts[5].text, maxTokens: 40,
                                        extra: ["stream": true])
            #expect(streamed.status == 200)
            #expect(streamed.headers["content-type"]?.hasPrefix("text/event-stream") == true)
            let events = UnixHTTPClient.events(streamed.body)
            #expect(events.last == "[DONE]")
            var text = ""
            var finish: String?
            for e in events.dropLast() {
                let o = try #require(try JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any])
                let choice = (o["choices"] as? [[String: Any]])?.first ?? [:]
                text += choice["text"] as? String ?? ""
                if let f = choice["finish_reason"] as? String { finish = f }
            }
            #expect(text == whole.firstChoice["text"] as? String, "\(model)")
            #expect(finish == "length")
        }
    }

    @Test func stopStringsEndTheTextBeforeThem() throws {
        let whole = try complete(model: APIFixture.modelId, prompt: Self.refs.prompts[2].text, maxTokens: 30)
        let text = try #require(whole.firstChoice["text"] as? String)
        guard text.count > 6 else { return }
        let stop = String(Array(text)[3..<6])
        let stopped = try complete(model: APIFixture.modelId, prompt: Self.refs.prompts[2].text, maxTokens: 30,
                                   extra: ["stop": [stop]])
        let cut = try #require(stopped.firstChoice["text"] as? String)
        #expect(!cut.contains(stop))
        #expect(text.hasPrefix(cut))
        #expect(stopped.firstChoice["finish_reason"] as? String == "stop")
    }

    @Test func modelsListsTheBaseAndEveryAdapter() throws {
        let r = try client.request("GET", "/v1/models")
        let data = try #require(r.json?["data"] as? [[String: Any]])
        #expect(data.first?["id"] as? String == APIFixture.modelId)
        for name in APIFixture.adapterNames {
            #expect(data.contains { $0["id"] as? String == name && $0["parent"] as? String == APIFixture.modelId })
        }
    }

    @Test func tokenizeAndDetokenizeRoundTrip() throws {
        let prompt = Self.refs.prompts[4]
        let t = try client.request("POST", "/tokenize", json: ["model": APIFixture.modelId, "prompt": prompt.text])
        #expect(t.json?["tokens"] as? [Int] == prompt.ids)
        #expect(t.json?["count"] as? Int == prompt.ids.count)
        let d = try client.request("POST", "/detokenize", json: ["model": APIFixture.modelId,
                                                                  "tokens": Array(prompt.ids.dropFirst())])
        #expect(d.json?["prompt"] as? String == prompt.text)
    }
}

/// A value shared between concurrent test closures.
final class Locked<T>: @unchecked Sendable {
    // @unchecked Sendable: every access goes through `lock`.
    private let lock = NSLock()
    private var stored: T
    init(_ v: T) { stored = v }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    func mutate(_ body: (inout T) -> Void) { lock.lock(); body(&stored); lock.unlock() }
}
