#if canImport(Glibc)
import Glibc
#endif

/// One accepted client socket and its HTTP state. Owned and touched by the loop thread only.
///   input:  bytes read and not parsed; while a response is in flight at most `maxReadAhead` are buffered
///   output: encoded response bytes not yet accepted by the kernel
final class Connection {
    enum Phase: Equatable {
        /// Reading requests and answering them.
        case open
        /// An error response (or a final response) is being written; nothing more is read or parsed.
        case closingAfterWrite
        /// Our side is shut down for writing; reading and discarding until the client closes or `until` passes,
        /// so unread input cannot turn the close into a reset that destroys the last response.
        case lingering(until: ContinuousClock.Instant)
    }

    var isLingering: Bool {
        if case .lingering = phase { return true }
        return false
    }

    /// Input buffered ahead of the parser while a response is in flight (pipelining).
    static let maxReadAhead = 64 * 1024

    let id: UInt64
    let fd: Int32
    let peer: PeerCredentials?
    let remoteAddress: String?

    var phase = Phase.open
    /// The socket is closed and the connection forgotten by the loop.
    var closed = false
    var input = ByteQueue()
    var output = ByteQueue()
    var parser: RequestParser
    /// The request handed to the handler, until its response is fully written.
    var responder: HTTPResponder?
    /// The responder ended its response; it is finished once `output` drains.
    var responseEnded = false
    var closeAfterResponse = false
    /// When the parser began on the current request (its first byte); nil between requests.
    var requestStarted: ContinuousClock.Instant?
    /// When the connection last became idle (accepted, or a response finished).
    var idleSince: ContinuousClock.Instant
    /// When the kernel last took output bytes (or output became pending).
    var lastWrite: ContinuousClock.Instant
    /// The epoll interest set currently registered.
    var interest: UInt32 = 0

    init(id: UInt64, fd: Int32, peer: PeerCredentials?, remoteAddress: String?, limits: RequestParser.Limits,
         now: ContinuousClock.Instant) {
        self.id = id
        self.fd = fd
        self.peer = peer
        self.remoteAddress = remoteAddress
        self.parser = RequestParser(limits: limits)
        self.idleSince = now
        self.lastWrite = now
    }

    /// The interest set this state calls for. RDHUP always, so a client leaving is seen even while not reading.
    var wantedInterest: UInt32 {
        var mask = Epoll.readHangup
        if !output.isEmpty { mask |= Epoll.output }
        switch phase {
        case .open:
            if responder == nil || input.count < Self.maxReadAhead { mask |= Epoll.input }
        case .closingAfterWrite:
            break
        case .lingering:
            mask |= Epoll.input
        }
        return mask
    }

    enum ReadResult {
        /// Bytes were appended (or none were ready).
        case ok
        /// The client shut its side (read returned 0) or the connection failed.
        case closed
    }

    /// Reads what is available, up to `budget` bytes (fairness between connections; epoll is level-triggered).
    /// `discard`: lingering, drop what is read.
    func read(into scratch: UnsafeMutableRawBufferPointer, budget: Int, discard: Bool) -> ReadResult {
        var total = 0
        while total < budget {
            let (n, code) = retryingEINTR { recv(fd, scratch.baseAddress, scratch.count, 0) }
            if n > 0 {
                if !discard { input.append(UnsafeRawBufferPointer(rebasing: scratch[0..<n])) }
                total += n
                if n < scratch.count { return .ok }
                continue
            }
            if n == 0 { return .closed }
            return code == EAGAIN || code == EWOULDBLOCK ? .ok : .closed
        }
        return .ok
    }

    /// Writes buffered output until the kernel refuses more. False when the connection failed (EPIPE, ECONNRESET).
    func flush(now: ContinuousClock.Instant) -> Bool {
        while !output.isEmpty {
            let (n, code) = output.withBytes { bytes in
                retryingEINTR { send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
            }
            if n > 0 {
                output.consume(n)
                lastWrite = now
                continue
            }
            if n == -1 && (code == EAGAIN || code == EWOULDBLOCK) { return true }
            return false
        }
        return true
    }

    /// Queues bytes; the clock for a stalled client starts when output goes from empty to pending.
    func enqueue(_ bytes: [UInt8], now: ContinuousClock.Instant) {
        guard !bytes.isEmpty else { return }
        if output.isEmpty { lastWrite = now }
        output.append(bytes)
    }
}
