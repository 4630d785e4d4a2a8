import Foundation

/// An API failure in the OpenAI error shape: `{"error":{"message","type","param","code"}}` with its HTTP status.
public struct APIError: Error, CustomStringConvertible, Sendable, Equatable {
    public let status: Int
    public let type: String
    public let code: String
    public let message: String
    /// The request field at fault (`"temperature"`, `"messages[2].role"`), as OpenAI's `param`; nil: none.
    public var param: String?
    /// HTTP headers the answer carries (`Retry-After` on 429 and 503, `Allow` on 405).
    public var headers: [String: String]

    public init(status: Int, type: String, code: String, message: String, param: String? = nil,
                headers: [String: String] = [:]) {
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers
    }

    public var description: String { message }

    public static func invalid(_ message: String, code: String = "invalid_request", param: String? = nil) -> APIError {
        APIError(status: 400, type: "invalid_request_error", code: code, message: message, param: param)
    }
    /// A request field lorad does not implement (OpenAI's answer to an unknown argument).
    public static func unsupported(_ param: String, _ message: String) -> APIError {
        APIError(status: 400, type: "invalid_request_error", code: "unsupported_parameter", message: message, param: param)
    }
    public static func unauthorized(_ message: String) -> APIError {
        APIError(status: 401, type: "authentication_error", code: "invalid_token", message: message)
    }
    public static func forbidden(_ message: String) -> APIError {
        APIError(status: 403, type: "permission_error", code: "forbidden", message: message)
    }
    public static func notFound(_ message: String, code: String = "not_found") -> APIError {
        APIError(status: 404, type: "not_found_error", code: code, message: message)
    }
    public static func conflict(_ message: String) -> APIError {
        APIError(status: 409, type: "invalid_request_error", code: "conflict", message: message)
    }
    public static func tooLarge(_ message: String) -> APIError {
        APIError(status: 413, type: "invalid_request_error", code: "too_large", message: message)
    }
    public static func unprocessable(_ message: String, code: String = "unprocessable") -> APIError {
        APIError(status: 422, type: "invalid_request_error", code: code, message: message)
    }
    public static func rateLimited(_ message: String) -> APIError {
        APIError(status: 429, type: "rate_limit_error", code: "rate_limited", message: message,
                 headers: ["Retry-After": "1"])
    }
    /// A method the path does not serve; `allowed` are the ones it does (the `Allow` header).
    public static func methodNotAllowed(_ message: String, allowed: [String]) -> APIError {
        APIError(status: 405, type: "invalid_request_error", code: "method_not_allowed", message: message,
                 headers: ["Allow": allowed.joined(separator: ", ")])
    }
    public static func server(_ message: String) -> APIError {
        APIError(status: 500, type: "server_error", code: "internal_error", message: message)
    }
    public static func unavailable(_ message: String) -> APIError {
        APIError(status: 503, type: "server_error", code: "unavailable", message: message,
                 headers: ["Retry-After": "1"])
    }

    /// The JSON body.
    public var body: [UInt8] {
        let object: [String: Any] = ["error": ["message": message, "type": type, "code": code,
                                               "param": param.map { $0 as Any } ?? NSNull()]]
        return JSON.encode(object)
    }

    /// Parses an error body (for clients); nil when it is not the OpenAI shape.
    public init?(status: Int, body: [UInt8]) {
        guard let root = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let e = root["error"] as? [String: Any], let message = e["message"] as? String else { return nil }
        self.init(status: status, type: e["type"] as? String ?? "", code: e["code"] as? String ?? "", message: message,
                  param: e["param"] as? String)
    }
}

/// JSON encoding with stable key order and without escaped slashes.
public enum JSON {
    public static func encode(_ object: Any) -> [UInt8] {
        guard JSONSerialization.isValidJSONObject(object),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return Array("{}".utf8) }
        return Array(data)
    }

    /// Parses a request body that must be a JSON object.
    public static func object(_ body: [UInt8]) throws -> [String: Any] {
        guard !body.isEmpty else { throw APIError.invalid("the request body is empty; expected a JSON object") }
        let value: Any
        do { value = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) } catch {
            throw APIError.invalid("the request body is not valid JSON", code: "invalid_json")
        }
        guard let object = value as? [String: Any] else {
            throw APIError.invalid("the request body must be a JSON object", code: "invalid_json")
        }
        return object
    }
}
