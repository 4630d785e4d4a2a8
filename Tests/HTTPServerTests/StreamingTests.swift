import Dispatch
import Foundation
import Glibc
import HTTPServer
import Testing

/// Streamed responses and clients that leave: chunks arrive as they are sent, onClose fires, buffers stay bounded.
@Suite struct StreamingTests {
    @Test func streamedResponseArrivesChunkByChunk() throws {
        // The handler sends part i+1 only after the test has read part i: the chunks cannot have been batched.
        let gate = DispatchSemaphore(value: 0)
        try withServer(handler: { request, responder in
            guard request.path == "/stream" else { return echoHandler(request, responder) }
            responder.startStream(status: 200, headers: [("Content-Type", "text/event-stream")])
            DispatchQueue.global().async {
                for i in 0..<3 {
                    usleep(20_000)
                    responder.send(Array("data: part\(i)\n\n".utf8))
                    _ = gate.wait(timeout: .now() + 20)
                }
                responder.end()
                responder.send(Array("ignored after end".utf8))
            }
        }) { s in
            let client = try s.client()
            try client.write("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
            let (status, headers) = try client.readHead()
            #expect(status == 200)
            #expect(headers.contains { $0.0 == "Transfer-Encoding" && $0.1 == "chunked" })
            #expect(headers.contains { $0.0 == "Content-Type" && $0.1 == "text/event-stream" })
            for i in 0..<3 {
                #expect(try client.readChunk() == Array("data: part\(i)\n\n".utf8))
                gate.signal()
            }
            #expect(try client.readChunk().isEmpty)
            // Keep-alive after a chunked response.
            #expect(try client.get("/next").text == "GET /next")
        }
    }

    @Test func http10StreamIsCloseDelimited() throws {
        try withServer(handler: { _, responder in
            responder.startStream(status: 200, headers: [])
            DispatchQueue.global().async {
                for word in ["one ", "two ", "three"] { responder.send(Array(word.utf8)) }
                responder.end()
            }
        }) { s in
            let client = try s.client()
            try client.write("GET /stream HTTP/1.0\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.header("Transfer-Encoding") == nil)
            #expect(response.header("Connection") == "close")
            #expect(response.text == "one two three")
        }
    }

    @Test func clientLeavingMidStreamFiresOnClose() throws {
        let closed = Box(0)
        try withServer(handler: { _, responder in
            responder.onClose { closed.update { $0 += 1 } }
            responder.startStream(status: 200, headers: [])
            DispatchQueue.global().async {
                responder.send(Array("first".utf8))
                while !responder.isClosed {   // a producer that stops when the client is gone
                    usleep(10_000)
                    responder.send(Array("more".utf8))
                }
            }
        }) { s in
            let client = try s.client()
            try client.write("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
            _ = try client.readHead()
            #expect(try client.readChunk() == Array("first".utf8))
            client.close()
            #expect(waitUntil { closed.get == 1 })
            #expect(waitUntil { s.server.openConnections == 0 })
            usleep(50_000)
            #expect(closed.get == 1)   // once
        }
    }

    @Test func clientLeavingBeforeAnyResponseFiresOnClose() throws {
        let stored = Box<HTTPResponder?>(nil)
        let closed = Box(false)
        try withServer(handler: { _, responder in
            responder.onClose { closed.set(true) }
            stored.set(responder)   // never answered
        }) { s in
            let client = try s.client()
            try client.write("POST /generate HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}")
            #expect(waitUntil { stored.get != nil })
            client.close()
            #expect(waitUntil { closed.get })
            let responder = try #require(stored.get)
            #expect(responder.isClosed)
            // Registered after the client left: runs at once.
            let late = Box(false)
            responder.onClose { late.set(true) }
            #expect(late.get)
            responder.respond(status: 200, body: [1, 2, 3])   // ignored, must not crash
        }
    }

    @Test func streamToAClientThatDoesNotReadIsDroppedWithoutStallingOthers() throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxOutputBufferBytes = 256 * 1024
        let closed = Box(false)
        try withServer(configuration, handler: { request, responder in
            guard request.path == "/flood" else { return echoHandler(request, responder) }
            responder.onClose { closed.set(true) }
            responder.startStream(status: 200, headers: [])
            DispatchQueue.global().async {
                let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
                var sent = 0
                while !responder.isClosed && sent < 256 << 20 {
                    responder.send(chunk)
                    sent += chunk.count
                    if sent % (1 << 20) == 0 { usleep(1_000) }
                }
            }
        }) { s in
            let slow = try s.client()
            slow.setSmallReceiveBuffer()
            try slow.write("GET /flood HTTP/1.1\r\nHost: a\r\n\r\n")
            // Another client is served while the flood is stuck.
            let other = try s.client()
            #expect(try other.get("/meanwhile").text == "GET /meanwhile")
            #expect(waitUntil { closed.get })
            #expect(waitUntil { s.server.openConnections == 1 })
        }
    }

    @Test func shutdownFiresOnCloseForResponsesInFlight() throws {
        let closed = Box(false)
        let started = Box(false)
        let directory = try TestServer.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try HTTPServer { _, responder in
            responder.onClose { closed.set(true) }
            started.set(true)
        }
        try server.listen(unixPath: directory + "/s.sock")
        try server.start()
        let client = try RawClient(unixPath: directory + "/s.sock")
        try client.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(waitUntil { started.get })
        server.shutdown()
        #expect(closed.get)
        #expect(client.serverClosed())
        server.shutdown()   // idempotent
        #expect(server.openConnections == 0)
    }
}
