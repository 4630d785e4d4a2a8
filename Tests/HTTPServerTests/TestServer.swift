import Dispatch
import Foundation
import Glibc
import HTTPServer
import Synchronization
import TestSupport
import Testing

/// A started server on a Unix socket in a fresh temporary folder; `withServer` shuts it down and removes the folder.
struct TestServer {
    let server: HTTPServer
    let directory: String
    let socketPath: String

    func client() throws -> RawClient { try RawClient(unixPath: socketPath) }

    /// A fresh temporary folder (short enough for a socket path inside it).
    static func makeDirectory() throws -> String { try Fixtures.temporaryDirectory("lorad-http").path }
}

func withServer(_ configuration: HTTPServerConfiguration = .init(),
                handler: @escaping @Sendable (HTTPRequest, HTTPResponder) -> Void = echoHandler,
                _ body: (TestServer) throws -> Void) throws {
    let directory = try TestServer.makeDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let server = try HTTPServer(configuration: configuration, handler: handler)
    defer { server.shutdown() }
    let socketPath = directory + "/http.sock"
    try server.listen(unixPath: socketPath)
    try server.start()
    try body(TestServer(server: server, directory: directory, socketPath: socketPath))
}

/// The handler most tests use:
///   /echo           200 with the request body; X-Method and X-Body-Length headers
///   /delay/MS       200 "/delay/MS" after MS milliseconds, from another thread
///   /whoami         200 "uid=U remote=R"
///   anything else   200 "METHOD TARGET"
let echoHandler: @Sendable (HTTPRequest, HTTPResponder) -> Void = { request, responder in
    if request.path == "/echo" {
        responder.respond(status: 200, headers: [("X-Method", request.method),
                                                 ("X-Body-Length", "\(request.body.count)")], body: request.body)
    } else if request.path.hasPrefix("/delay/"), let ms = Int(request.path.dropFirst("/delay/".count)) {
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(ms)) {
            responder.respond(status: 200, body: Array(request.path.utf8))
        }
    } else if request.path == "/whoami" {
        let uid = request.peer.map { "\($0.uid)" } ?? "none"
        responder.respond(status: 200, body: Array("uid=\(uid) remote=\(request.remoteAddress ?? "none")".utf8))
    } else {
        responder.respond(status: 200, headers: [("Content-Type", "text/plain")],
                          body: Array("\(request.method) \(request.target)".utf8))
    }
}

/// Polls `condition` until it holds or `timeout` passes (generous: the machine may be loaded).
func waitUntil(_ timeout: Duration = .seconds(15), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        usleep(5_000)
    }
    return true
}

/// A flag and a value set on one thread and read on another.
final class Box<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
    func update(_ change: (inout Value) -> Void) { value.withLock { change(&$0) } }
    var get: Value { value.withLock { $0 } }
}

/// Checks an error response: the status, `Connection: close`, and a body in the OpenAI error shape.
func expectJSONError(_ response: TestResponse, status: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.status == status, sourceLocation: sourceLocation)
    #expect(response.header("Connection")?.lowercased() == "close", sourceLocation: sourceLocation)
    #expect(response.header("Content-Type") == "application/json", sourceLocation: sourceLocation)
    let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
    let error = object?["error"] as? [String: Any]
    let message = error?["message"] as? String
    #expect(message?.isEmpty == false, "no error.message in \(response.text)", sourceLocation: sourceLocation)
    #expect(error?["type"] is String, sourceLocation: sourceLocation)
    #expect(error?["code"] is String, sourceLocation: sourceLocation)
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
