/// How a request's body is delimited.
enum BodyFraming: Equatable {
    case none
    case length(Int)
    case chunked
}

/// A parsed and validated request head: request line, headers, and what they say about framing and the connection.
struct RequestHead {
    var method: String
    var target: String
    var version: HTTPVersion
    var headers: HTTPHeaders
    var framing: BodyFraming
    /// The client wants the connection kept open after the response (1.1 without close, 1.0 with keep-alive).
    var keepAlive: Bool
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    var expectsContinue: Bool

    /// Parses the head bytes (request line through the blank line; CRLF or bare LF endings). Every byte is
    /// outside input: malformed syntax is a 400, unsupported framing a 501, an over-limit Content-Length a 413.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxBodyBytes: Int) -> Result<RequestHead, RequestError> {
        var lines: [Range<Int>] = []
        var lineStart = 0
        for i in 0..<bytes.count where bytes[i] == LF {
            var end = i
            if end > lineStart && bytes[end - 1] == CR { end -= 1 }
            if end > lineStart || !lines.isEmpty { lines.append(lineStart..<end) }   // skip leading blank lines
            lineStart = i + 1
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }   // the terminating blank line
        guard let requestLine = lines.first else { return .failure(.badRequest("empty request")) }

        let method: String, target: String, version: HTTPVersion
        switch parseRequestLine(bytes, requestLine) {
        case .success(let parts): (method, target, version) = parts
        case .failure(let error): return .failure(error)
        }

        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            switch parseField(bytes, line) {
            case .success(let field): headers.append(name: field.name, value: field.value)
            case .failure(let error): return .failure(error)
            }
        }
        return interpret(method: method, target: target, version: version, headers: headers,
                         maxBodyBytes: maxBodyBytes)
    }

    /// method SP request-target SP HTTP-version, single spaces, token method, visible-ASCII target.
    private static func parseRequestLine(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>)
        -> Result<(String, String, HTTPVersion), RequestError> {
        let invalid = RequestError.badRequest("malformed request line")
        guard let space1 = line.first(where: { bytes[$0] == SP }) else { return .failure(invalid) }
        guard let space2 = (space1 + 1..<line.upperBound).first(where: { bytes[$0] == SP }) else {
            return .failure(invalid)
        }
        let methodRange = line.lowerBound..<space1
        let targetRange = space1 + 1..<space2
        let versionRange = space2 + 1..<line.upperBound
        guard !methodRange.isEmpty, methodRange.allSatisfy({ isTokenByte(bytes[$0]) }) else { return .failure(invalid) }
        guard !targetRange.isEmpty, targetRange.allSatisfy({ bytes[$0] > 0x20 && bytes[$0] < 0x7F }) else {
            return .failure(invalid)
        }
        // "HTTP/" DIGIT "." DIGIT
        let v = versionRange
        guard v.count == 8, ascii(bytes, v.lowerBound..<v.lowerBound + 5) == "HTTP/",
              isDigit(bytes[v.lowerBound + 5]), bytes[v.lowerBound + 6] == UInt8(ascii: "."),
              isDigit(bytes[v.lowerBound + 7]) else { return .failure(invalid) }
        let major = Int(bytes[v.lowerBound + 5] - 48), minor = Int(bytes[v.lowerBound + 7] - 48)
        guard major == 1 else { return .failure(.versionNotSupported("\(major).\(minor)")) }
        return .success((ascii(bytes, methodRange), ascii(bytes, targetRange),
                         minor == 0 ? .http1_0 : .http1_1))
    }

    /// field-name ":" OWS field-value OWS; no folding, no whitespace before the colon, no control bytes.
    private static func parseField(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>)
        -> Result<HTTPHeader, RequestError> {
        if bytes[line.lowerBound] == SP || bytes[line.lowerBound] == HTAB {
            return .failure(.badRequest("obsolete header line folding is not accepted"))
        }
        guard let colon = line.first(where: { bytes[$0] == UInt8(ascii: ":") }) else {
            return .failure(.badRequest("header line without a colon"))
        }
        let nameRange = line.lowerBound..<colon
        guard !nameRange.isEmpty, nameRange.allSatisfy({ isTokenByte(bytes[$0]) }) else {
            return .failure(.badRequest("malformed header name"))
        }
        var start = colon + 1, end = line.upperBound
        while start < end, bytes[start] == SP || bytes[start] == HTAB { start += 1 }
        while end > start, bytes[end - 1] == SP || bytes[end - 1] == HTAB { end -= 1 }
        let name = ascii(bytes, nameRange)
        for i in start..<end {
            let c = bytes[i]
            guard c == HTAB || (c >= 0x20 && c != 0x7F) else {
                return .failure(.badRequest("invalid character in header \(name)"))
            }
        }
        let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        return .success(HTTPHeader(name: name, value: value))
    }

    /// Framing (Content-Length / Transfer-Encoding), keep-alive and Expect, validated against request smuggling.
    private static func interpret(method: String, target: String, version: HTTPVersion, headers: HTTPHeaders,
                                  maxBodyBytes: Int) -> Result<RequestHead, RequestError> {
        var framing = BodyFraming.none
        let lengths = headers.values("Content-Length")
        let encodings = headers.values("Transfer-Encoding")
        if !encodings.isEmpty {
            guard lengths.isEmpty else {
                return .failure(.badRequest("both Content-Length and Transfer-Encoding are present"))
            }
            guard version == .http1_1 else {
                return .failure(.badRequest("Transfer-Encoding is not allowed in an HTTP/1.0 request"))
            }
            let codings = headers.tokens("Transfer-Encoding")
            if codings == ["chunked"] {
                framing = .chunked
            } else if codings.contains("") {
                return .failure(.badRequest("malformed Transfer-Encoding"))
            } else if codings.last != "chunked" && codings.contains("chunked") {
                return .failure(.badRequest("chunked must be the last transfer coding"))
            } else {
                return .failure(.notImplemented("unsupported Transfer-Encoding: \(encodings.joined(separator: ", "))"))
            }
        } else if !lengths.isEmpty {
            var length: Int?
            for value in lengths {
                for part in value.split(separator: ",", omittingEmptySubsequences: false) {
                    let digits = part.trimmingASCIIWhitespace()
                    guard !digits.isEmpty, digits.utf8.allSatisfy(isDigit) else {
                        return .failure(.badRequest("invalid Content-Length \"\(value)\""))
                    }
                    // 18 digits always fit an Int; anything longer is far over any body limit.
                    guard digits.utf8.count <= 18, let n = Int(digits) else {
                        return .failure(.bodyTooLarge(limit: maxBodyBytes))
                    }
                    if let previous = length, previous != n {
                        return .failure(.badRequest("conflicting Content-Length values"))
                    }
                    length = n
                }
            }
            let n = length ?? 0
            guard n <= maxBodyBytes else { return .failure(.bodyTooLarge(limit: maxBodyBytes)) }
            framing = n > 0 ? .length(n) : .none
        }

        let connection = headers.tokens("Connection")
        let keepAlive = version == .http1_1 ? !connection.contains("close")
                                            : connection.contains("keep-alive") && !connection.contains("close")
        var expectsContinue = false
        if version == .http1_1 {
            for value in headers.tokens("Expect") {
                guard value == "100-continue" else { return .failure(.expectationFailed(value)) }
                expectsContinue = true
            }
        }
        return .success(RequestHead(method: method, target: target, version: version, headers: headers,
                                    framing: framing, keepAlive: keepAlive, expectsContinue: expectsContinue))
    }

    private static func ascii(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
}

let CR: UInt8 = 13
let LF: UInt8 = 10
let SP: UInt8 = 32
let HTAB: UInt8 = 9

func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

/// tchar from RFC 9110: ALPHA / DIGIT / "!#$%&'*+-.^_`|~".
func isTokenByte(_ c: UInt8) -> Bool {
    switch c {
    case 48...57, 65...90, 97...122: return true
    case 33, 35, 36, 37, 38, 39, 42, 43, 45, 46, 94, 95, 96, 124, 126: return true
    default: return false
    }
}
