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
    let kind: ListeningSocket.Kind
    let peer: PeerCredentials?
    let remoteAddress: String?
    /// The remote IP without the port (TCP only): what the per-address connection cap counts.
    let remoteHost: String?
    let acceptedAt: ContinuousClock.Instant

    var phase = Phase.open
    /// The client has sent at least one byte since it connected.
    var receivedAny = false
    /// The client shut down its sending side (read returned 0). Complete requests it sent are still answered and
    /// streams still flow; once nothing is left to answer the connection closes.
    var readClosed = false
    /// EPOLLRDHUP was reported while input was not being read; it is not asked for again (level-triggered).
    var hangupSeen = false
    /// The socket is closed and the connection forgotten by the loop.
    var closed = false
    var input = ByteQueue()
    var output = ByteQueue()
    var parser: RequestParser
    /// The request handed to the handler, until its response is fully written.
    var responder: HTTPResponder?
    /// The responder ended its response; it is finished once `output` drains.
    var responseEnded = false
    /// Bytes of the current responder's answer were queued.
    var answerBegun = false
    var closeAfterResponse = false
    /// When the parser began on the current request (its first byte); nil between requests.
    var requestStarted: ContinuousClock.Instant?
    /// When the connection last became idle (accepted, or a response finished).
    var idleSince: ContinuousClock.Instant
    /// When the kernel last took output bytes (or output became pending).
    var lastWrite: ContinuousClock.Instant
    /// The epoll interest set currently registered.
    var interest: UInt32 = 0

    init(id: UInt64, fd: Int32, kind: ListeningSocket.Kind, peer: PeerCredentials?, remoteAddress: String?,
         limits: RequestParser.Limits, now: ContinuousClock.Instant) {
        self.id = id
        self.fd = fd
        self.kind = kind
        self.peer = peer
        self.remoteAddress = remoteAddress
        self.remoteHost = remoteAddress.map(Self.host(of:))
        self.acceptedAt = now
        self.parser = RequestParser(limits: limits)
        self.idleSince = now
        self.lastWrite = now
    }

    /// "1.2.3.4:80" -> "1.2.3.4", "[::1]:80" -> "[::1]".
    static func host(of address: String) -> String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        return String(address[..<colon])
    }

    /// A connection that has sent nothing at all: the first to go when connections run short.
    var isSilent: Bool { !receivedAny && responder == nil && output.isEmpty && phase == .open }

    /// The interest set this state calls for. RDHUP while the client's side is open, so a client leaving is seen
    /// even while not reading; nothing to read once it shut its side (level-triggered epoll would report it forever).
    var wantedInterest: UInt32 {
        var mask: UInt32 = 0
        if !output.isEmpty { mask |= Epoll.output }
        if readClosed { return mask }
        if !hangupSeen { mask |= Epoll.readHangup }
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
        /// The client shut its sending side (read returned 0); what it sent before is in `input`.
        case endOfInput
        /// The connection failed (reset).
        case failed
    }

    /// Reads what is available, up to `budget` bytes (fairness between connections; epoll is level-triggered).
    /// `discard`: lingering, drop what is read.
    func read(into scratch: UnsafeMutableRawBufferPointer, budget: Int, discard: Bool) -> ReadResult {
        var total = 0
        while total < budget {
            let (n, code) = retryingEINTR { recv(fd, scratch.baseAddress, scratch.count, 0) }
            if n > 0 {
                if !discard { input.append(UnsafeRawBufferPointer(rebasing: scratch[0..<n])) }
                receivedAny = true
                total += n
                if n < scratch.count { return .ok }
                continue
            }
            if n == 0 { return .endOfInput }
            return code == EAGAIN || code == EWOULDBLOCK ? .ok : .failed
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
