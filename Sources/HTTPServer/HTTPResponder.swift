import Synchronization

/// How a handler answers one request. Thread-safe: any thread may use it, any time later. The responder encodes
/// bytes under its lock and posts to the loop, which alone touches the socket. Calls out of order (a second
/// `respond`, `send` before `startStream`, anything after `end`) are ignored.
public final class HTTPResponder: Sendable {
    public let request: HTTPRequest
    let connectionId: UInt64
    private let shared: ServerShared
    /// The client asked to keep the connection open after this response.
    private let keepAlive: Bool
    private let state = Mutex(State())

    private enum Phase { case pending, streaming, ended }

    private struct State {
        var phase = Phase.pending
        /// Encoded bytes the loop has not taken yet.
        var output: [UInt8] = []
        /// An `.outputReady` is posted and not yet taken: no need to post another.
        var notified = false
        /// The connection closes after this response (client or handler asked, HTTP/1.0 stream, drain).
        var closeAfter = false
        /// `startStream` began this response.
        var streamed = false
        /// The body is chunk-encoded (HTTP/1.1 stream).
        var chunked = false
        /// HEAD request or a status without a body: heads only.
        var suppressBody = false
        /// Streamed bytes piled up past maxOutputBufferBytes before the loop took them: the loop drops the client.
        var overflowed = false
        /// The connection went away before the response was fully written.
        var closed = false
        var onClose: [@Sendable () -> Void] = []
    }

    init(request: HTTPRequest, keepAlive: Bool, shared: ServerShared) {
        self.request = request
        self.connectionId = request.connectionId
        self.keepAlive = keepAlive
        self.shared = shared
    }

    /// A whole response: Content-Length and Connection are added (handler values for them are replaced; a handler
    /// `Connection: close` is honoured). For HEAD and 1xx/204/304 no body is sent.
    public func respond(status: Int, headers: [(String, String)] = [], body: [UInt8]) {
        let close = closeAfter(headers)
        let suppress = suppressesBody(status)
        let framing: ResponseEncoding.Framing = suppress && request.method != "HEAD" ? .noBody : .length(body.count)
        var bytes = ResponseEncoding.head(status: status, headers: headers, framing: framing, close: close,
                                          http10KeepAlive: !close && request.version == .http1_0)
        if !suppress { bytes += body }
        update { s in
            guard s.phase == .pending else { return false }
            s.phase = .ended
            s.closeAfter = close
            s.onClose = []
            s.output += bytes
            return true
        }
    }

    /// Begins a streamed response: Transfer-Encoding chunked for HTTP/1.1, close-delimited for HTTP/1.0.
    public func startStream(status: Int, headers: [(String, String)] = []) {
        let http10 = request.version == .http1_0
        let close = closeAfter(headers) || http10
        let suppress = suppressesBody(status)
        let framing: ResponseEncoding.Framing =
            suppress && request.method != "HEAD" ? .noBody : http10 ? .untilClose : .chunked
        let bytes = ResponseEncoding.head(status: status, headers: headers, framing: framing, close: close,
                                          http10KeepAlive: false)
        update { s in
            guard s.phase == .pending else { return false }
            s.phase = .streaming
            s.streamed = true
            s.closeAfter = close
            s.chunked = !http10
            s.suppressBody = suppress
            s.output += bytes
            return true
        }
    }

    /// One chunk of a streamed response; empty chunks are skipped. Ignored after `end` or once the client left.
    public func send(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        update { s in
            guard s.phase == .streaming, !s.suppressBody, !s.overflowed else { return false }
            if s.output.count > shared.configuration.maxOutputBufferBytes {
                s.overflowed = true
                s.output = []
            } else {
                s.output += s.chunked ? ResponseEncoding.chunk(bytes) : bytes
            }
            return true
        }
    }

    /// Ends a streamed response (the terminating chunk; for HTTP/1.0 the loop closes the connection).
    public func end() {
        update { s in
            guard s.phase == .streaming else { return false }
            s.phase = .ended
            s.onClose = []
            if s.chunked && !s.suppressBody { s.output += ResponseEncoding.lastChunk }
            return true
        }
    }

    /// `callback` runs once, on some thread, if the client disconnects (or the server drops the connection) before
    /// the response ended; at once if that already happened. Dropped when the response ends normally.
    public func onClose(_ callback: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { s -> Bool in
            if s.closed { return s.phase != .ended }
            if s.phase != .ended { s.onClose.append(callback) }
            return false
        }
        if runNow { callback() }
    }

    /// The connection went away before the response was fully written; further output is dropped.
    public var isClosed: Bool { state.withLock { $0.closed } }

    // MARK: loop side

    /// What the loop takes from the responder each time it is told output is ready.
    struct Output {
        var bytes: [UInt8]
        var ended: Bool
        var streaming: Bool
        var closeAfter: Bool
        var overflowed: Bool
    }

    func takeOutput() -> Output {
        state.withLock { s in
            s.notified = false
            var bytes: [UInt8] = []
            swap(&bytes, &s.output)
            return Output(bytes: bytes, ended: s.phase == .ended, streaming: s.streamed,
                          closeAfter: s.closeAfter, overflowed: s.overflowed)
        }
    }

    /// The loop closed the connection: fire the onClose callbacks unless the response had ended.
    func connectionClosed() {
        let callbacks = state.withLock { s -> [@Sendable () -> Void] in
            guard !s.closed else { return [] }
            s.closed = true
            s.output = []
            defer { s.onClose = [] }
            return s.phase == .ended ? [] : s.onClose
        }
        for callback in callbacks { callback() }
    }

    // MARK: helpers

    /// Applies `change` under the lock (it returns whether it changed anything) and wakes the loop once.
    private func update(_ change: (inout State) -> Bool) {
        let post = state.withLock { s -> Bool in
            guard !s.closed, change(&s), !s.notified else { return false }
            s.notified = true
            return true
        }
        if post { shared.mailbox.post(.outputReady(connectionId: connectionId)) }
    }

    private func closeAfter(_ headers: [(String, String)]) -> Bool {
        !keepAlive || shared.draining.load(ordering: .relaxed)
            || headers.contains { HTTPHeaders.sameName($0.0, "Connection") && $0.1.lowercased().contains("close") }
    }

    private func suppressesBody(_ status: Int) -> Bool {
        request.method == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304
    }
}
