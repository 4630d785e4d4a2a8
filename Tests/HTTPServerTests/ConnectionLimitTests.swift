import Dispatch
import Foundation
import Glibc
import HTTPServer
import Testing

/// Half-closing clients, and floods of connections that send nothing (issue 21, items 1 and 2).
@Suite struct ConnectionLimitTests {
    /// `nc -N`, socat, some HTTP/1.0 clients: the whole request, then shutdown(SHUT_WR). Each complete request is
    /// answered (pipelined ones too), then the connection closes.
    @Test func halfClosedClientGetsEveryCompleteRequestAnswered() throws {
        try withServer { s in
            let client = try s.client()
            try client.write("GET /delay/150 HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(shutdown(client.fd, Int32(SHUT_WR)) == 0)
            #expect(try client.readResponse().status == 100)   // the interim answer that detects a departed client
            #expect(try client.readResponse().text == "/delay/150")
            #expect(try client.readResponse().text == "GET /second")
            #expect(client.serverClosed())
            #expect(waitUntil { s.server.openConnections == 0 })
        }
    }

    /// A stream to a half-closed client keeps flowing to the end; the producer is not told the client left.
    @Test func streamToHalfClosedClientIsNotCancelled() throws {
        let cancelled = Box(false)
        let handler: @Sendable (HTTPRequest, HTTPResponder) -> Void = { request, responder in
            responder.startStream(status: 200)
            responder.onClose { cancelled.set(true) }
            DispatchQueue.global().async {
                for i in 0..<5 {
                    usleep(60_000)
                    responder.send(Array("part\(i);".utf8))
                }
                responder.end()
            }
        }
        try withServer(handler: handler) { s in
            let client = try s.client()
            try client.write("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(shutdown(client.fd, Int32(SHUT_WR)) == 0)
            var response = try client.readResponse()
            if response.status == 100 { response = try client.readResponse() }   // when the FIN beat the stream's head
            #expect(response.text == "part0;part1;part2;part3;part4;")
            #expect(!cancelled.get)
        }
    }

    /// A client that sent its request and left altogether (close, not shutdown) is detected while its request is
    /// being worked on: the work is told (onClose) instead of running to the end for nobody.
    @Test func departedClientIsDetectedBeforeTheAnswer() throws {
        let cancelled = Box(false)
        let handler: @Sendable (HTTPRequest, HTTPResponder) -> Void = { request, responder in
            responder.onClose { cancelled.set(true) }
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(5)) {
                responder.respond(status: 200, body: Array("late".utf8))
            }
        }
        try withServer(handler: handler) { s in
            let client = try s.client()
            try client.write("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
            usleep(100_000)
            client.close()
            #expect(waitUntil(.seconds(3)) { cancelled.get })
        }
    }

    /// A request cut off by the FIN cannot be answered: the connection just closes.
    @Test func halfCloseInsideARequestCloses() throws {
        try withServer { s in
            let client = try s.client()
            try client.write("GET /cut HTTP/1.1\r\nHost:")
            #expect(shutdown(client.fd, Int32(SHUT_WR)) == 0)
            #expect(client.serverClosed())
            #expect(waitUntil { s.server.openConnections == 0 })
        }
    }

    /// The attack: more silent TCP connections than the whole connection cap. The Unix socket keeps its reserve,
    /// a TCP client that sends a request gets in (a silent connection makes room), and the silent ones time out.
    @Test func silentTCPFloodLocksNobodyOut() throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxConnections = 40
        configuration.unixReserve = 8
        configuration.maxConnectionsPerAddress = 1000
        configuration.silentTimeout = .seconds(1)
        try withServer(configuration) { s in
            let port = try s.server.listen(host: "127.0.0.1", port: 0)
            var flood: [RawClient] = []
            for _ in 0..<60 { flood.append(try RawClient(port: port)) }
            #expect(waitUntil { s.server.openConnections == 32 })   // TCP gets maxConnections - unixReserve
            for _ in 0..<8 {
                let local = try s.client()
                #expect(try local.get("/local").text == "GET /local")
            }
            let remote = try RawClient(port: port)
            #expect(try remote.get("/remote").text == "GET /remote")
            // Silent connections go after silentTimeout; the one that spoke stays (idleTimeout is 120 s).
            #expect(waitUntil { s.server.openConnections == 1 })
            #expect(try remote.get("/again").text == "GET /again")
            _ = flood
        }
    }

    /// One address cannot hold more than maxConnectionsPerAddress; another address is unaffected.
    @Test func connectionsPerAddressAreCapped() throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxConnectionsPerAddress = 4
        try withServer(configuration) { s in
            let port = try s.server.listen(host: "127.0.0.1", port: 0)
            var busy: [RawClient] = []
            for i in 0..<4 {   // each began a request: none is silent, none makes room
                let client = try RawClient(port: port)
                try client.write("GET /partial\(i) HTTP/1.1\r\n")
                busy.append(client)
            }
            #expect(waitUntil { s.server.openConnections == 4 })
            let fifth = try RawClient(port: port)
            let refused = try fifth.readResponse()
            #expect(refused.status == 503)
            #expect(refused.text.contains("too many connections from 127.0.0.1"))
            let other = try RawClient(port: port, from: "127.0.0.2")
            #expect(try other.get("/other").text == "GET /other")
            _ = busy
        }
    }
}
