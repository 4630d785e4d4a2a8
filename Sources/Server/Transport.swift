import Foundation
import Wire

/// One API call as the transport (the HTTP server) hands it over.
public struct APICall: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The peer's uid for Unix-socket connections (SO_PEERCRED); nil over TCP.
    public var peerUID: UInt32?

    public init(method: String, path: String, query: [String: String] = [:], headers: [(name: String, value: String)] = [],
                body: [UInt8] = [], peerUID: UInt32? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.peerUID = peerUID
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// How the API answers a call. Implemented by the transport; safe to use from any thread.
public protocol APIReply: AnyObject, Sendable {
    /// A whole response; `headers` beyond Content-Type (e.g. `Retry-After`).
    func respond(status: Int, contentType: String, headers: [(String, String)], body: [UInt8])
    /// Starts a `text/event-stream` response; then `send` events and `end`.
    func startEventStream()
    func send(_ bytes: [UInt8])
    func end()
    /// Called once if the client goes away before the response ends.
    func onClose(_ callback: @escaping @Sendable () -> Void)
}

extension APIReply {
    public func respond(status: Int, contentType: String, body: [UInt8]) {
        respond(status: status, contentType: contentType, headers: [], body: body)
    }
    func json(_ status: Int, _ object: Any) {
        respond(status: status, contentType: "application/json", body: JSON.encode(object))
    }
    func fail(_ error: APIError) {
        respond(status: error.status, contentType: "application/json",
                headers: error.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, body: error.body)
    }
}
