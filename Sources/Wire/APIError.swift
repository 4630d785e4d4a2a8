import Foundation

/// An API failure in the OpenAI error shape: `{"error":{"message","type","code"}}` with its HTTP status.
public struct APIError: Error, CustomStringConvertible, Sendable, Equatable {
    public let status: Int
    public let type: String
    public let code: String
    public let message: String

    public init(status: Int, type: String, code: String, message: String) {
        self.status = status
        self.type = type
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func invalid(_ message: String, code: String = "invalid_request") -> APIError {
        APIError(status: 400, type: "invalid_request_error", code: code, message: message)
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
        APIError(status: 429, type: "rate_limit_error", code: "rate_limited", message: message)
    }
    public static func server(_ message: String) -> APIError {
        APIError(status: 500, type: "server_error", code: "internal_error", message: message)
    }
    public static func unavailable(_ message: String) -> APIError {
        APIError(status: 503, type: "server_error", code: "unavailable", message: message)
    }

    /// The JSON body.
    public var body: [UInt8] {
        let object: [String: Any] = ["error": ["message": message, "type": type, "code": code]]
        return JSON.encode(object)
    }

    /// Parses an error body (for clients); nil when it is not the OpenAI shape.
    public init?(status: Int, body: [UInt8]) {
        guard let root = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let e = root["error"] as? [String: Any], let message = e["message"] as? String else { return nil }
        self.init(status: status, type: e["type"] as? String ?? "", code: e["code"] as? String ?? "", message: message)
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
