/// Why the server refused a request before it reached the handler: a status and the OpenAI-shaped error's code and
/// message. The connection is closed after the error response (the rest of the stream cannot be trusted).
struct RequestError: Error, Equatable, Sendable {
    let status: Int
    let code: String
    let message: String

    static func badRequest(_ message: String) -> RequestError {
        RequestError(status: 400, code: "bad_request", message: message)
    }
    static func headersTooLarge(_ message: String) -> RequestError {
        RequestError(status: 431, code: "headers_too_large", message: message)
    }
    static func bodyTooLarge(limit: Int) -> RequestError {
        RequestError(status: 413, code: "too_large", message: "request body exceeds the limit of \(limit) bytes")
    }
    static func notImplemented(_ message: String) -> RequestError {
        RequestError(status: 501, code: "not_implemented", message: message)
    }
    static func versionNotSupported(_ version: String) -> RequestError {
        RequestError(status: 505, code: "http_version_not_supported",
                     message: "HTTP version \(version) is not supported; use HTTP/1.1")
    }
    static func expectationFailed(_ value: String) -> RequestError {
        RequestError(status: 417, code: "expectation_failed", message: "unsupported Expect: \(value)")
    }
    static let headerTimeout = RequestError(status: 408, code: "request_timeout",
                                            message: "the request header was not received in time")
    static let bodyTimeout = RequestError(status: 408, code: "request_timeout",
                                          message: "the request body stalled")
    static func tooManyConnections(_ limit: Int) -> RequestError {
        RequestError(status: 503, code: "unavailable", message: "too many open connections (limit \(limit))")
    }

    /// The OpenAI error type: server_error for the server's own refusals (503), invalid_request_error otherwise.
    var type: String { status == 503 ? "server_error" : "invalid_request_error" }
}
