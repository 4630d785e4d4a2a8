/// Limits and timeouts of one `HTTPServer`; fixed when the server is made.
public struct HTTPServerConfiguration: Sendable {
    /// Request line + header fields, in bytes; beyond -> 431.
    public var maxHeaderBytes = 16 * 1024
    /// Header fields per request; beyond -> 431.
    public var maxHeaderCount = 100
    /// Request body bytes; beyond -> 413 (a Content-Length over it is refused before any body byte is read).
    public var maxBodyBytes = 8 << 20
    /// Open connections in all. At the cap the oldest connection that has sent nothing is dropped to make room;
    /// when every one has, the newcomer is answered 503 and closed.
    public var maxConnections = 1024
    /// Of `maxConnections`, how many only the Unix socket may use: TCP clients get at most the rest, so a flood on
    /// the TCP port never locks out the local (admin) socket.
    public var unixReserve = 128
    /// Open TCP connections from one remote IP address (same make-room rule as `maxConnections`).
    public var maxConnectionsPerAddress = 128
    /// A connection that has sent no byte since it was accepted is closed quietly after this long.
    public var silentTimeout: Duration = .seconds(10)
    /// From a request's first byte until it is wholly received; past it -> 408 and close.
    public var requestTimeout: Duration = .seconds(30)
    /// A keep-alive connection with no request begun and no response pending is closed quietly after this long.
    /// Also how long a pending response may go without the client reading any of it before the connection is dropped.
    public var idleTimeout: Duration = .seconds(120)
    /// Response bytes buffered for a client that is not reading a streamed response; past it the connection is
    /// dropped and the responder's onClose fires. A single `respond(body:)` may exceed it.
    public var maxOutputBufferBytes = 4 << 20

    public init() {}
}
