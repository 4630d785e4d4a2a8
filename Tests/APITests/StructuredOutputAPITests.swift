import Foundation
import Synchronization
import Testing
import TestSupport

/// `response_format` over the socket: json_object, json_schema (strict honoured), regex and grammar extensions;
/// concurrent constrained and unconstrained requests on different adapters (one mixed batch); errors name the
/// problem.
@Suite(.serialized) struct StructuredOutputAPITests {
    var client: UnixHTTPClient { APIFixture.shared.client }

    static let schemas = [
        #"{"type":"object","properties":{"city":{"type":"string","maxLength":8},"temps":{"type":"array","items":{"type":"number"},"maxItems":3},"unit":{"enum":["C","F"]}},"required":["city","temps","unit"],"additionalProperties":false}"#,
        #"{"type":"object","properties":{"who":{"type":"object","properties":{"name":{"type":"string","maxLength":5},"admin":{"type":"boolean"}},"required":["name","admin"],"additionalProperties":false},"note":{"anyOf":[{"type":"null"},{"type":"integer"}]}},"required":["who","note"],"additionalProperties":false}"#,
    ]

    func complete(_ extra: [String: Any], model: String = "a0-r4-all") throws -> UnixHTTPClient.Response {
        var body: [String: Any] = ["model": model, "prompt": "Weather report as JSON:", "max_tokens": 300]
        for (k, v) in extra { body[k] = v }
        return try client.request("POST", "/v1/completions", json: body)
    }

    static func format(_ schema: String, strict: Bool = true) -> [String: Any] {
        ["type": "json_schema", "json_schema": ["name": "out", "strict": strict,
                                                "schema": try! JSONSerialization.jsonObject(with: Data(schema.utf8))]]
    }

    @Test func concurrentConstrainedAndPlainRequestsAllValidate() throws {
        // Four constrained requests (two schemas, greedy and sampled) and two plain ones, at once, on four adapters.
        let adapters = APIFixture.adapterNames
        var jobs: [(schema: String?, extra: [String: Any], adapter: String)] = []
        for (i, schema) in Self.schemas.enumerated() {
            jobs.append((schema, ["temperature": 0], adapters[i]))
            jobs.append((schema, ["temperature": 0.9, "seed": 5 + i], adapters[i + 2]))
        }
        jobs.append((nil, ["temperature": 0, "max_tokens": 16], adapters[1]))
        jobs.append((nil, ["temperature": 0, "max_tokens": 16], "tiny-llama"))
        let bodies: [[UInt8]] = try jobs.map { job in
            var body: [String: Any] = ["model": job.adapter, "prompt": "Weather report as JSON:", "max_tokens": 300]
            for (k, v) in job.extra { body[k] = v }
            if let schema = job.schema { body["response_format"] = Self.format(schema) }
            return Array(try JSONSerialization.data(withJSONObject: body))
        }
        let results = Mutex<[Int: UnixHTTPClient.Response]>([:])
        let client = self.client
        DispatchQueue.concurrentPerform(iterations: bodies.count) { i in
            if let r = try? client.request("POST", "/v1/completions", body: bodies[i]) { results.withLock { $0[i] = r } }
        }
        let all = results.withLock { $0 }
        for (i, job) in jobs.enumerated() {
            let r = try #require(all[i])
            #expect(r.status == 200, "\(r.text)")
            guard let schema = job.schema else { continue }
            let text = r.firstChoice["text"] as? String ?? ""
            #expect(r.firstChoice["finish_reason"] as? String == "stop", "\(text)")
            #expect(SchemaValidator(schema).problem(text) == nil, "job \(i): \(text)")
        }
    }

    @Test func jsonObjectChatAndRegex() throws {
        let r = try complete(["response_format": ["type": "json_object"], "temperature": 0, "max_tokens": 200])
        #expect(r.status == 200, "\(r.text)")
        if r.firstChoice["finish_reason"] as? String == "stop" {
            let text = r.firstChoice["text"] as? String ?? ""
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8))) is [String: Any], "\(text)")
        }
        let re = try complete(["response_format": ["type": "regex", "regex": "(yes|no), [0-9]{2}"], "temperature": 0])
        #expect(re.status == 200, "\(re.text)")
        let text = re.firstChoice["text"] as? String ?? ""
        #expect(text.range(of: "^(yes|no), [0-9]{2}$", options: .regularExpression) != nil, "\(text)")
        let g = try complete(["response_format": ["type": "grammar", "grammar": #"root ::= "A" [bc]{3} "!""#], "temperature": 0.8, "seed": 3])
        #expect((g.firstChoice["text"] as? String ?? "").range(of: "^A[bc]{3}!$", options: .regularExpression) != nil, "\(g.text)")
    }

    nonisolated(unsafe) static let bad: [([String: Any], String)] = [   // read-only after initialization
        (["type": "yaml"], #"response_format type "yaml" is not supported"#),
        (["type": "json_schema"], "needs {\"json_schema\""),
        (format(#"{"type":"object","properties":{"a":{"type":"string"}}}"#), #"strict mode needs "additionalProperties": false"#),
        (format(#"{"type":"object","properties":{"a":{"type":"string","minimum":1}}}"#, strict: false), #"unsupported keyword "minimum""#),
        (["type": "regex", "regex": "(a"], "regex: missing )"),
        (["type": "grammar", "grammar": "root ::= nothing"], #"rule "nothing" (used in "root") is not defined"#),
    ]

    @Test(arguments: bad.indices)
    func invalidFormatsAre400NamingTheProblem(index: Int) throws {
        let (format, expected) = Self.bad[index]
        let r = try complete(["response_format": format])
        #expect(r.status == 400)
        #expect(r.errorType == "invalid_request_error")
        #expect(r.errorMessage.contains(expected), "\(r.errorMessage)")
    }

    @Test func toolsOnCompletionsAreRefused() throws {
        let r = try complete(["tools": [["type": "function", "function": ["name": "f"]]]])
        #expect(r.status == 400)
        #expect(r.errorMessage.contains("/v1/chat/completions only"))
    }

    @Test func ignoreEOSWithAFormatIsRefused() throws {
        let r = try complete(["response_format": ["type": "json_object"], "ignore_eos": true])
        #expect(r.status == 400)
        #expect(r.errorMessage.contains("ignore_eos"))
    }
}
