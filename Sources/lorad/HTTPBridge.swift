import Foundation
import HTTPServer
import Server

/// Hands HTTP requests to the API service: an `HTTPRequest` becomes an `APICall`, an `HTTPResponder` answers as an
/// `APIReply`. The API knows nothing of sockets; the HTTP server knows nothing of the API.
enum HTTPBridge {
    static func call(from request: HTTPRequest) -> APICall {
        var query: [String: String] = [:]
        for pair in (request.query ?? "").split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            if let key = kv.first, !key.isEmpty { query[key] = kv.count > 1 ? kv[1] : "" }
        }
        return APICall(method: request.method, path: request.path.removingPercentEncoding ?? request.path,
                       query: query, headers: request.headers.fields.map { (name: $0.name, value: $0.value) },
                       body: request.body, peerUID: request.peer?.uid)
    }
}

/// An `APIReply` over one HTTP response.
final class HTTPAPIReply: APIReply {
    private let responder: HTTPResponder

    init(_ responder: HTTPResponder) { self.responder = responder }

    func respond(status: Int, contentType: String, headers: [(String, String)], body: [UInt8]) {
        responder.respond(status: status, headers: [("Content-Type", contentType)] + headers, body: body)
    }

    func startEventStream() {
        responder.startStream(status: 200, headers: [("Content-Type", "text/event-stream"),
                                                     ("Cache-Control", "no-cache")])
    }

    func send(_ bytes: [UInt8]) { responder.send(bytes) }
    func end() { responder.end() }
    func onClose(_ callback: @escaping @Sendable () -> Void) { responder.onClose(callback) }
}
