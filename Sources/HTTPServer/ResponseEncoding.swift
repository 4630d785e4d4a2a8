/// The OpenAI-shaped JSON error body every refusal uses: `{"error":{"message":..,"type":..,"code":..}}`.
public enum HTTPErrorBody {
    public static func json(message: String, type: String, code: String) -> [UInt8] {
        var out = Array(#"{"error":{"message":"#.utf8)
        appendJSONString(message, to: &out)
        out += Array(#","type":"#.utf8)
        appendJSONString(type, to: &out)
        out += Array(#","code":"#.utf8)
        appendJSONString(code, to: &out)
        out += Array("}}".utf8)
        return out
    }

    static func appendJSONString(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out += [92, 34]
            case UInt8(ascii: "\\"): out += [92, 92]
            case 10: out += [92, UInt8(ascii: "n")]
            case 13: out += [92, UInt8(ascii: "r")]
            case 9: out += [92, UInt8(ascii: "t")]
            case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(c >> 4)], hex[Int(c & 15)]]
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Serialization of response heads and chunks. Handler-supplied header names that are not tokens are dropped and
/// CR/LF/NUL in values become spaces, so a handler can never split a response.
enum ResponseEncoding {
    /// How the body of a response is delimited on the wire.
    enum Framing {
        case length(Int)
        case chunked
        /// HTTP/1.0 streaming: the body ends when the connection closes.
        case untilClose
        /// 1xx/204/304: no body and no length header.
        case noBody
    }

    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    static let lastChunk = Array("0\r\n\r\n".utf8)

    /// Headers the server owns and replaces: framing and connection management.
    private static let reserved: Set<String> = ["content-length", "transfer-encoding", "connection", "keep-alive"]

    static func head(status: Int, headers: [(String, String)], framing: Framing, close: Bool,
                     http10KeepAlive: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + headers.count * 32)
        out += Array("HTTP/1.1 \(status) \(reason(status))\r\n".utf8)
        for (name, value) in headers {
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte), !reserved.contains(name.lowercased()) else {
                continue
            }
            out += Array(name.utf8)
            out += [UInt8(ascii: ":"), SP]
            for c in value.utf8 { out.append(c == CR || c == LF || c == 0 ? SP : c) }
            out += [CR, LF]
        }
        switch framing {
        case .length(let n): out += Array("Content-Length: \(n)\r\n".utf8)
        case .chunked: out += Array("Transfer-Encoding: chunked\r\n".utf8)
        case .untilClose, .noBody: break
        }
        if close {
            out += Array("Connection: close\r\n".utf8)
        } else if http10KeepAlive {
            out += Array("Connection: keep-alive\r\n".utf8)
        }
        out += [CR, LF]
        return out
    }

    /// One chunk of a chunked body: hex size, CRLF, data, CRLF. Empty data would end the body, so callers skip it.
    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        var out = Array(String(bytes.count, radix: 16).utf8)
        out.reserveCapacity(out.count + bytes.count + 4)
        out += [CR, LF]
        out += bytes
        out += [CR, LF]
        return out
    }

    /// A complete error response in the OpenAI shape; the connection closes after it.
    static func error(_ error: RequestError) -> [UInt8] {
        let body = HTTPErrorBody.json(message: error.message, type: error.type, code: error.code)
        return head(status: error.status, headers: [("Content-Type", "application/json")],
                    framing: .length(body.count), close: true, http10KeepAlive: false) + body
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(status)"
        }
    }
}
