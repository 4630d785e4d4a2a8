import Dispatch
import Foundation
import Glibc
import HTTPServer
import Testing

/// Requests and responses over a real Unix socket (and one TCP listener): framing, keep-alive, pipelining.
@Suite struct RequestTests {
    @Test func getAndPostEcho() throws {
        try withServer { s in
            let client = try s.client()
            let get = try client.get("/hello?x=1")
            #expect(get.status == 200)
            #expect(get.text == "GET /hello?x=1")
            #expect(get.header("Content-Length") == "14")

            try client.write("POST /echo HTTP/1.1\r\nHost: lorad\r\nContent-Length: 11\r\n\r\nhello world")
            let post = try client.readResponse()
            #expect(post.status == 200)
            #expect(post.text == "hello world")
            #expect(post.header("X-Method") == "POST")
        }
    }

    @Test func keepAliveServesThreeRequestsOnOneConnection() throws {
        try withServer { s in
            let client = try s.client()
            for i in 0..<3 {
                try client.write("POST /echo HTTP/1.1\r\nHost: lorad\r\nContent-Length: 6\r\n\r\nbody-\(i)")
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == "body-\(i)")
                #expect(response.header("Connection") == nil)
            }
            try client.write("GET /last HTTP/1.1\r\nHost: lorad\r\nConnection: close\r\n\r\n")
            let last = try client.readResponse()
            #expect(last.text == "GET /last")
            #expect(last.header("Connection") == "close")
            #expect(client.serverClosed())
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        try withServer { s in
            let client = try s.client()
            // The first answer is the slowest: order must come from the server, not from timing.
            try client.write("GET /delay/300 HTTP/1.1\r\nHost: a\r\n\r\n"
                             + "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\ntwo"
                             + "GET /delay/0 HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try client.readResponse().text == "/delay/300")
            #expect(try client.readResponse().text == "two")
            #expect(try client.readResponse().text == "/delay/0")
        }
    }

    @Test func chunkedRequestBody() throws {
        try withServer { s in
            let client = try s.client()
            try client.write("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                             + "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "hello world")
            // The connection is still good for the next request.
            #expect(try client.get("/after").text == "GET /after")
        }
    }

    @Test func requestTrickledOneByteAtATime() throws {
        try withServer { s in
            let client = try s.client()
            let request = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            for byte in request.utf8 {
                try client.write([byte])
                usleep(1_000)
            }
            #expect(try client.readResponse().text == "abcde")
        }
    }

    @Test func expectContinueIsAnsweredBeforeTheBody() throws {
        try withServer { s in
            let client = try s.client()
            try client.write("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            let interim = try client.readResponse()
            #expect(interim.status == 100)
            try client.write("hello")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "hello")
        }
    }

    @Test func http10ClosesUnlessKeepAliveIsAsked() throws {
        try withServer { s in
            let plain = try s.client()
            try plain.write("GET /old HTTP/1.0\r\n\r\n")
            let response = try plain.readResponse()
            #expect(response.text == "GET /old")
            #expect(plain.serverClosed())

            let kept = try s.client()
            for _ in 0..<2 {
                try kept.write("GET /kept HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let answer = try kept.readResponse()
                #expect(answer.text == "GET /kept")
                #expect(answer.header("Connection")?.lowercased() == "keep-alive")
            }
        }
    }

    @Test func headResponseHasLengthButNoBody() throws {
        try withServer { s in
            let client = try s.client()
            try client.write("HEAD /thing HTTP/1.1\r\nHost: a\r\n\r\n")
            let head = try client.readResponse(head: true)
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "11")
            #expect(try client.get("/next").text == "GET /next")   // no stray body bytes in between
        }
    }

    @Test func largeResponseToASlowReaderArrivesWhole() throws {
        let body = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 12) }
        try withServer(handler: { _, responder in responder.respond(status: 200, body: body) }) { s in
            let client = try s.client()
            client.setSmallReceiveBuffer()
            try client.write("GET /big HTTP/1.1\r\nHost: a\r\n\r\nGET /big HTTP/1.1\r\nHost: a\r\n\r\n")
            usleep(200_000)   // let the server hit a full socket buffer
            for _ in 0..<2 {
                let response = try client.readResponse()
                #expect(response.body.count == body.count)
                #expect(response.body == body)
            }
        }
    }

    @Test func unixPeerCredentialsAndTCPRemoteAddress() throws {
        try withServer { s in
            let unix = try s.client()
            #expect(try unix.get("/whoami").text == "uid=\(getuid()) remote=none")

            let port = try s.server.listen(host: "127.0.0.1", port: 0)
            #expect(port > 0)
            let tcp = try RawClient(port: port)
            let answer = try tcp.get("/whoami").text
            #expect(answer.hasPrefix("uid=none remote=127.0.0.1:"))
            try tcp.write("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\ntcp")
            #expect(try tcp.readResponse().text == "tcp")
            // A refusal over TCP arrives whole even though the client sent more than the server read.
            let refused = try RawClient(port: port)
            try refused.write("GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 64 * 1024))\r\n\r\n")
            expectJSONError(try refused.readResponse(), status: 431)
            #expect(refused.serverClosed())
        }
    }

    @Test func handlerSeesParsedRequest() throws {
        let seen = Box<HTTPRequest?>(nil)
        try withServer(handler: { request, responder in
            seen.set(request)
            responder.respond(status: 204, body: [])
        }) { s in
            let client = try s.client()
            try client.write("PUT /v1/adapters/sql?verbose=1 HTTP/1.1\r\nHost: a\r\nX-Thing:  spaced  \r\n"
                             + "Content-Length: 2\r\n\r\nok")
            let response = try client.readResponse()
            #expect(response.status == 204)
            #expect(response.header("Content-Length") == nil)
            let request = try #require(seen.get)
            #expect(request.method == "PUT")
            #expect(request.path == "/v1/adapters/sql")
            #expect(request.query == "verbose=1")
            #expect(request.headers["x-thing"] == "spaced")
            #expect(request.body == "ok".bytes)
            #expect(request.version == .http1_1)
        }
    }
}
