import Foundation
import Testing
import TestSupport

/// Bad requests get their status and an OpenAI-shaped error, and the daemon keeps serving.
@Suite(.serialized) struct MalformedRequestTests {
    let client = APIFixture.shared.client

    /// Writes `bytes` on a new connection and reads the answer.
    func raw(_ bytes: String) throws -> UnixHTTPClient.Response {
        let fd = try client.connect(timeoutSeconds: 60)
        defer { close(fd) }
        UnixHTTPClient.write(fd, Array(bytes.utf8))
        return try UnixHTTPClient.parse(UnixHTTPClient.readAll(fd))
    }

    func expectError(_ r: UnixHTTPClient.Response, _ status: Int, _ fragment: String = "",
                     sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == status, "\(r.text)", sourceLocation: sourceLocation)
        #expect(!r.errorMessage.isEmpty, "no OpenAI error body: \(r.text)", sourceLocation: sourceLocation)
        #expect(!r.errorType.isEmpty, sourceLocation: sourceLocation)
        if !fragment.isEmpty {
            #expect(r.errorMessage.contains(fragment), "\(r.errorMessage)", sourceLocation: sourceLocation)
        }
    }

    func completion(_ body: [String: Any]) throws -> UnixHTTPClient.Response {
        try client.request("POST", "/v1/completions", json: body)
    }

    @Test func protocolErrors() throws {
        expectError(try raw("HELLO THERE\r\n\r\n"), 400)
        let big = String(repeating: "a", count: 17 * 1024)
        expectError(try raw("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n"), 431)
        expectError(try raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"), 400)
        expectError(try raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n"), 413)
        #expect(try client.request("GET", "/health").status == 200)
    }

    /// A body shorter than its Content-Length: 408 once the request timeout passes; others are served meanwhile.
    @Test func truncatedBodyTimesOut() throws {
        let daemon = try APIFixture.makeDaemon(["--request-timeout", "1"])
        defer { daemon.stop() }
        let fd = try daemon.client.connect(timeoutSeconds: 60)
        defer { close(fd) }
        UnixHTTPClient.write(fd, Array("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\"".utf8))
        #expect(try daemon.client.request("GET", "/health").status == 200)
        expectError(try UnixHTTPClient.parse(UnixHTTPClient.readAll(fd)), 408)
    }

    @Test func invalidBodies() throws {
        expectError(try client.request("POST", "/v1/completions", body: Array("{not json".utf8)), 400, "JSON")
        expectError(try client.request("POST", "/v1/completions", body: Array("[1,2]".utf8)), 400, "object")
        expectError(try completion(["model": 5, "prompt": "x"]), 400, "model")
        expectError(try completion(["model": APIFixture.modelId, "prompt": "x", "max_tokens": "ten"]), 400, "max_tokens")
        expectError(try completion(["model": APIFixture.modelId, "prompt": "x", "temperature": true]), 400, "temperature")
        expectError(try completion(["model": APIFixture.modelId, "prompt": "x", "max_tokens": -1]), 400, "max_tokens")
        expectError(try completion(["model": APIFixture.modelId, "prompt": "x", "n": 0]), 400, "\"n\" must be between 1")
        expectError(try completion(["model": "no-such-adapter", "prompt": "x"]), 404, "no-such-adapter")
        expectError(try completion(["model": APIFixture.modelId, "prompt": [1, 99999]]), 400, "99999")
        let long = [Int](repeating: 39, count: 600)
        expectError(try completion(["model": APIFixture.modelId, "prompt": long, "max_tokens": 4]), 400, "context")
        expectError(try client.request("GET", "/v1/nope"), 404)
        expectError(try client.request("DELETE", "/v1/models"), 405)
        // Unknown fields are refused, naming the field in `param`.
        let unknown = try completion(["model": APIFixture.modelId, "prompt": "x", "max_tokens": 2, "frobnicate": [1]])
        expectError(unknown, 400, "frobnicate")
        #expect((unknown.json?["error"] as? [String: Any])?["param"] as? String == "frobnicate")
        #expect((unknown.json?["error"] as? [String: Any])?["code"] as? String == "unsupported_parameter")
        #expect(try client.request("GET", "/health").json?["status"] as? String == "ok")
    }
}
