import Dispatch
import Foundation
import Glibc
import HTTPServer
import Testing

/// Unix socket files (modes, stale and live paths), adopted descriptors, stopAccepting and drain.
@Suite struct ListenerTests {
    private func mode(_ path: String) -> (mode: UInt32, isSocket: Bool)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (UInt32(info.st_mode) & 0o7777, UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFSOCK))
    }

    @Test func socketFileModeAndParentFolders() throws {
        let directory = try TestServer.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/run/lorad/http.sock"
        let server = try HTTPServer(handler: echoHandler)
        defer { server.shutdown() }
        try server.listen(unixPath: path)
        #expect(mode(directory + "/run")?.mode == 0o750)
        #expect(mode(directory + "/run/lorad")?.mode == 0o750)
        #expect(mode(path)?.mode == 0o660)
        #expect(mode(path)?.isSocket == true)

        let other = directory + "/run/lorad/private.sock"
        try server.listen(unixPath: other, mode: 0o600)
        #expect(mode(other)?.mode == 0o600)

        // Connections made before start wait in the backlog.
        let client = try RawClient(unixPath: path)
        try server.start()
        #expect(try client.get("/early").text == "GET /early")
    }

    @Test func staleSocketFileIsReplaced() throws {
        let directory = try TestServer.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/stale.sock"
        // A socket file left by a process that died: bound, never unlinked, nobody listening.
        let fd = try unixSocket(boundAt: path)
        close(fd)
        #expect(mode(path)?.isSocket == true)

        let server = try HTTPServer(handler: echoHandler)
        defer { server.shutdown() }
        try server.listen(unixPath: path)
        try server.start()
        let client = try RawClient(unixPath: path)
        #expect(try client.get("/fresh").text == "GET /fresh")
    }

    @Test func liveServerOnThePathIsAnError() throws {
        try withServer { s in
            let second = try HTTPServer(handler: echoHandler)
            defer { second.shutdown() }
            let error = #expect(throws: HTTPServerError.self) { try second.listen(unixPath: s.socketPath) }
            #expect(error?.kind == .alreadyListening)
            #expect(error?.description == "another server is listening on \(s.socketPath)")
            // The first server is untouched.
            let client = try s.client()
            #expect(try client.get("/still").text == "GET /still")
        }
    }

    @Test func nonSocketFileIsNotReplaced() throws {
        let directory = try TestServer.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/notes.txt"
        try "keep me".write(toFile: path, atomically: false, encoding: .utf8)
        let server = try HTTPServer(handler: echoHandler)
        defer { server.shutdown() }
        let error = #expect(throws: HTTPServerError.self) { try server.listen(unixPath: path) }
        #expect(error?.description.contains("\(path) exists and is not a socket") == true)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
    }

    @Test func adoptsListeningDescriptors() throws {
        let directory = try TestServer.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/activated.sock"
        let fd = try unixSocket(boundAt: path)
        #expect(listen(fd, 16) == 0)

        let notListening = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(notListening) }

        let server = try HTTPServer(handler: echoHandler)
        defer { server.shutdown() }
        let error = #expect(throws: HTTPServerError.self) { try server.adopt(listeningDescriptor: notListening) }
        #expect(error?.description == "descriptor \(notListening) is not listening")
        try server.adopt(listeningDescriptor: fd)
        try server.start()
        let client = try RawClient(unixPath: path)
        #expect(try client.get("/whoami").text == "uid=\(getuid()) remote=none")
        server.stopAccepting()
        #expect(mode(path)?.isSocket == true)   // systemd's file: not ours to remove
    }

    @Test func stopAcceptingThenDrainWaitsForTheResponseInFlight() throws {
        let pending = Box<HTTPResponder?>(nil)
        try withServer(handler: { request, responder in
            if request.path == "/slow" { pending.set(responder) } else { echoHandler(request, responder) }
        }) { s in
            let idle = try s.client()
            #expect(try idle.get("/").status == 200)
            let busy = try s.client()
            try busy.write("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(waitUntil { pending.get != nil })

            s.server.stopAccepting()
            #expect(mode(s.socketPath) == nil)   // socket file removed
            #expect(throws: ClientError.self) { try s.client() }

            let drained = Box<Bool?>(nil)
            let server = s.server
            DispatchQueue.global().async { drained.set(server.drain(timeout: .seconds(60))) }
            #expect(idle.serverClosed())   // idle keep-alive connection closed by drain
            usleep(200_000)
            #expect(drained.get == nil)   // still waiting: the response has not been written

            pending.get?.respond(status: 200, body: Array("done".utf8))
            #expect(waitUntil { drained.get != nil })
            #expect(drained.get == true)
            let response = try busy.readResponse()
            #expect(response.text == "done")
            #expect(response.header("Connection") == "close")
            #expect(busy.serverClosed())
        }
    }

    @Test func drainGivesUpAfterItsTimeout() throws {
        try withServer(handler: { _, _ in }) { s in   // never answers
            let client = try s.client()
            try client.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(waitUntil { s.server.openConnections == 1 })
            usleep(100_000)
            #expect(s.server.drain(timeout: .milliseconds(200)) == false)
        }
    }

    @Test func listenAfterShutdownIsAnError() throws {
        let server = try HTTPServer(handler: echoHandler)
        server.shutdown()
        #expect(throws: HTTPServerError.self) { try server.listen(host: "127.0.0.1", port: 0) }
        #expect(throws: HTTPServerError.self) { try server.start() }
        let fresh = try HTTPServer(handler: echoHandler)
        defer { fresh.shutdown() }
        let error = #expect(throws: HTTPServerError.self) { try fresh.listen(host: "example.com", port: 80) }
        #expect(error?.kind == .invalidAddress)
    }
}

/// A new Unix socket of `type` bound at `path` (test-side helper).
func unixSocket(_ type: __socket_type = SOCK_STREAM, boundAt path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(type.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
    }
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard result == 0 else { throw ClientError(description: "bind \(path): errno \(errno)") }
    return fd
}
