import Foundation
import Glibc
import HTTPServer
import Testing

/// Refusals before the handler: each is a JSON error in the OpenAI shape and closes the connection.
@Suite struct ProtocolErrorTests {
    /// Sends `request` on a fresh connection and expects `status`, a JSON error body and then the close.
    private func expectRefusal(_ request: [UInt8], status: Int, server s: TestServer,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let client = try s.client()
        try client.write(request)
        let response = try client.readResponse()
        expectJSONError(response, status: status, sourceLocation: sourceLocation)
        #expect(client.serverClosed(), sourceLocation: sourceLocation)
    }

    /// A request the server must refuse, and the status it must refuse it with.
    struct Refusal: CustomTestStringConvertible, Sendable {
        let name: String
        let request: [UInt8]
        let status: Int
        init(_ name: String, _ request: String, _ status: Int) { self.init(name, Array(request.utf8), status) }
        init(_ name: String, _ request: [UInt8], _ status: Int) {
            (self.name, self.request, self.status) = (name, request, status)
        }
        var testDescription: String { "\(status) \(name)" }
    }

    static let refusals: [Refusal] = [
        Refusal("garbage request line", "HELLO THERE\r\n\r\n", 400),
        Refusal("TLS hello", [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 10, 13, 10, 13, 10], 400),
        Refusal("header without colon", "GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400),
        Refusal("non-numeric Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400),
        Refusal("negative Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        Refusal("conflicting Content-Length",
                "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
        Refusal("Content-Length with chunked",
                "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        Refusal("gzip transfer coding", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        Refusal("unknown expectation", "POST /echo HTTP/1.1\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx", 417),
        Refusal("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        Refusal("17 KiB header", "GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 17 * 1024))\r\n\r\n", 431),
        Refusal("101 header fields", "GET / HTTP/1.1\r\n\((0..<101).map { "X-H\($0): v\r\n" }.joined())\r\n", 431),
        // Over the 1000-byte limit configured below. The head alone must get the refusal (no waiting for the
        // body); with Expect: 100-continue no 100 comes first; a body sent anyway does not reset the close.
        Refusal("Content-Length over the limit", "POST /echo HTTP/1.1\r\nContent-Length: 9000000\r\n\r\n", 413),
        Refusal("over the limit with Expect",
                "POST /echo HTTP/1.1\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n", 413),
        Refusal("chunk over the limit", "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5dc\r\n"
                + String(repeating: "z", count: 1500) + "\r\n0\r\n\r\n", 413),
        Refusal("body sent with an oversized length", "POST /echo HTTP/1.1\r\nContent-Length: 200000\r\n\r\n"
                + String(repeating: "b", count: 200_000), 413),
    ]

    @Test(arguments: refusals)
    func refusedWithJSONErrorAndClose(_ refusal: Refusal) throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxBodyBytes = 1000
        try withServer(configuration) { s in
            try expectRefusal(refusal.request, status: refusal.status, server: s)
        }
    }

    @Test func slowRequestIs408() throws {
        var configuration = HTTPServerConfiguration()
        configuration.requestTimeout = .milliseconds(300)
        try withServer(configuration) { s in
            try expectRefusal("GET / HTTP/1.1\r\nHost: a\r\n".bytes, status: 408, server: s)
            try expectRefusal("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc".bytes,
                              status: 408, server: s)
            // A connection that has not begun a request is not timed by requestTimeout.
            let idle = try s.client()
            usleep(700_000)
            #expect(try idle.get("/late").text == "GET /late")
        }
    }

    @Test func idleKeepAliveConnectionIsClosedQuietly() throws {
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = .milliseconds(300)
        try withServer(configuration) { s in
            let client = try s.client()
            #expect(try client.get("/").status == 200)
            #expect(client.serverClosed())   // no bytes, just the close
            #expect(waitUntil { s.server.openConnections == 0 })
        }
    }

    @Test func connectionsPastTheLimitGet503() throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxConnections = 2
        try withServer(configuration) { s in
            var held: [RawClient] = []
            for _ in 0..<2 {
                let client = try s.client()
                #expect(try client.get("/").status == 200)
                held.append(client)
            }
            #expect(s.server.openConnections == 2)
            let third = try s.client()
            let refused = try third.readResponse()
            expectJSONError(refused, status: 503)
            #expect(third.serverClosed())

            held.removeFirst().close()
            #expect(waitUntil { s.server.openConnections == 1 })
            let again = try s.client()
            #expect(try again.get("/again").text == "GET /again")
        }
    }
}
