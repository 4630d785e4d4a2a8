/// An HTTP protocol version as it appeared on the request line (1.0 or 1.1; later 1.x are served as 1.1).
public struct HTTPVersion: Sendable, Hashable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    public var description: String { "HTTP/\(major).\(minor)" }
}

/// One header field as received: the name keeps its case, the value is trimmed of surrounding whitespace.
public struct HTTPHeader: Sendable, Hashable {
    public let name: String
    public let value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Header fields in arrival order. Lookup ignores ASCII case; repeated fields are all kept.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [HTTPHeader]

    public init(_ fields: [HTTPHeader] = []) { self.fields = fields }

    public init(_ pairs: [(String, String)]) { fields = pairs.map { HTTPHeader(name: $0.0, value: $0.1) } }

    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    /// The first value of `name`, or nil.
    public subscript(_ name: String) -> String? {
        fields.first { Self.sameName($0.name, name) }?.value
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { fields.contains { Self.sameName($0.name, name) } }

    public var count: Int { fields.count }

    public mutating func append(name: String, value: String) { fields.append(HTTPHeader(name: name, value: value)) }

    public func makeIterator() -> IndexingIterator<[HTTPHeader]> { fields.makeIterator() }

    /// ASCII case-insensitive comparison of header names (names are tokens: ASCII only).
    static func sameName(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        for (p, q) in zip(x, y) where p != q {
            if lowercase(p) != lowercase(q) { return false }
        }
        return true
    }

    /// The comma-separated tokens of every `name` field, trimmed and lowercased ("Connection: close, Upgrade").
    func tokens(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }
            .map { String($0.trimmingASCIIWhitespace()).lowercased() }
    }

    private static func lowercase(_ c: UInt8) -> UInt8 { (c >= 65 && c <= 90) ? c + 32 : c }
}

extension Substring {
    func trimmingASCIIWhitespace() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}

/// A complete request handed to the handler: head, whole body, and who sent it.
public struct HTTPRequest: Sendable {
    public let method: String
    /// The request target exactly as sent, e.g. "/v1/adapters/sql?verbose=1".
    public let target: String
    /// The target up to "?" (not percent-decoded); for absolute-form targets, the path part.
    public let path: String
    /// The part after "?" (not decoded), or nil when there is none.
    public let query: String?
    public let version: HTTPVersion
    public let headers: HTTPHeaders
    public let body: [UInt8]
    /// SO_PEERCRED of a Unix socket peer; nil over TCP.
    public let peer: PeerCredentials?
    /// "ip:port" of a TCP peer; nil over a Unix socket.
    public let remoteAddress: String?
    /// Unique per connection for the server's lifetime; requests on one keep-alive connection share it.
    public let connectionId: UInt64

    public init(method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = HTTPHeaders(),
                body: [UInt8] = [], peer: PeerCredentials? = nil, remoteAddress: String? = nil,
                connectionId: UInt64 = 0) {
        self.method = method
        self.target = target
        (path, query) = Self.split(target: target)
        self.version = version
        self.headers = headers
        self.body = body
        self.peer = peer
        self.remoteAddress = remoteAddress
        self.connectionId = connectionId
    }

    /// origin-form "/p?q" -> ("/p", "q"); absolute-form "http://host/p?q" -> ("/p", "q"); "*" -> ("*", nil).
    static func split(target: String) -> (path: String, query: String?) {
        var rest = Substring(target)
        for scheme in ["http://", "https://"] where rest.lowercased().hasPrefix(scheme) {
            rest = rest.dropFirst(scheme.count)
            if let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) {
                rest = rest[slash...]
            } else {
                rest = "/"
            }
            if rest.first == "?" { rest = Substring("/" + rest) }
        }
        guard let mark = rest.firstIndex(of: "?") else { return (String(rest), nil) }
        return (String(rest[..<mark]), String(rest[rest.index(after: mark)...]))
    }
}
