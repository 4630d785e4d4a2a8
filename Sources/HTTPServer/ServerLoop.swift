#if canImport(Glibc)
import Glibc
#endif

/// The event loop: one thread, one level-triggered epoll instance. Owns the listeners and every connection;
/// other threads reach it only through the mailbox. Timeouts are checked on each pass, and a pass happens at least
/// every `tickMilliseconds` (no timer threads).
final class ServerLoop {
    static let mailboxToken: UInt64 = 0
    static let tickMilliseconds: Int32 = 250
    /// Bytes read from one connection per wakeup, so one fast sender cannot starve the others.
    static let readBudget = 256 * 1024
    /// Connections accepted per listener wakeup.
    static let acceptBudget = 64
    /// How long a closing connection waits for the client's FIN while discarding its input.
    static let lingerTime = Duration.seconds(2)
    /// How long accepting pauses after running out of descriptors.
    static let acceptPause = Duration.milliseconds(200)

    let shared: ServerShared
    let epoll: Epoll
    let limits: RequestParser.Limits
    var listeners: [UInt64: ListeningSocket] = [:]
    /// Listeners taken out of epoll after EMFILE and friends, with when to resume them.
    var pausedListeners: [UInt64: ContinuousClock.Instant] = [:]
    var connections: [UInt64: Connection] = [:]
    /// Open connections by listener kind, and TCP connections by remote IP (the caps in `admit`).
    var openByKind: [ListeningSocket.Kind: Int] = [:]
    var openByHost: [String: Int] = [:]
    /// Refused connections whose 503 is written and whose input is discarded until the client closes or the linger
    /// time passes (closing at once would turn a request still arriving into a reset that destroys the 503).
    var refused: [(fd: Int32, until: ContinuousClock.Instant)] = []
    static let maxRefusedLingering = 256
    /// Epoll tokens: 0 is the mailbox, then listeners and connections from one counter (never reused).
    var nextToken: UInt64 = 1
    var running = true
    var draining = false
    /// [readScratchBytes] scratch for recv, reused by every connection.
    let scratch: UnsafeMutableRawBufferPointer
    static let readScratchBytes = 64 * 1024

    init(shared: ServerShared) throws {
        self.shared = shared
        let configuration = shared.configuration
        limits = RequestParser.Limits(maxHeaderBytes: configuration.maxHeaderBytes,
                                      maxHeaderCount: configuration.maxHeaderCount,
                                      maxBodyBytes: configuration.maxBodyBytes)
        epoll = try Epoll()
        try epoll.add(shared.mailbox.eventFD, events: Epoll.input, token: Self.mailboxToken)
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readScratchBytes, alignment: 64)
    }

    deinit { scratch.deallocate() }

    func run() {
        shared.mailbox.bindToCurrentThread()
        while running {
            let timeout = shared.mailbox.hasPending ? 0 : Self.tickMilliseconds
            let ready: Int
            do {
                ready = try epoll.wait(timeoutMilliseconds: timeout)
            } catch {
                usleep(10_000)   // cannot happen with a valid epoll fd; do not spin if it does
                ready = 0
            }
            for index in 0..<ready {
                let (token, events) = epoll.event(at: index)
                handle(token: token, events: events)
            }
            handleCommands()
            checkTimers(now: .now)
        }
        tearDown()
    }

    private func handle(token: UInt64, events: UInt32) {
        if token == Self.mailboxToken { return }   // the commands are taken right after this batch
        if let listener = listeners[token] {
            acceptConnections(listener, token: token)
        } else if let connection = connections[token] {
            connectionEvent(connection, events: events)
        }
    }

    // MARK: commands

    private func handleCommands() {
        var commands = shared.mailbox.take()   // also resets the eventfd
        while !commands.isEmpty {
            for command in commands {
                switch command {
                case .addListener(let listener): addListener(listener)
                case .stopAccepting(let done): closeListeners(); done.signal()
                case .drain(let done): startDrain(); done.signal()
                case .shutdown: running = false
                case .outputReady(let id): if let connection = connections[id] { pullOutput(connection) }
                }
            }
            guard running, shared.mailbox.hasPending else { return }
            commands = shared.mailbox.take()
        }
    }

    private func addListener(_ listener: ListeningSocket) {
        let token = nextToken
        nextToken += 1
        do {
            try epoll.add(listener.fd, events: Epoll.input, token: token)
            listeners[token] = listener
        } catch {
            listener.close()
        }
    }

    private func closeListeners() {
        for listener in listeners.values {
            epoll.remove(listener.fd)
            listener.close()
        }
        listeners = [:]
        pausedListeners = [:]
    }

    /// Drain mode: no connection is kept alive after its response; connections with none in flight close now.
    private func startDrain() {
        draining = true
        shared.draining.store(true, ordering: .relaxed)
        for connection in Array(connections.values) where connection.phase == .open && connection.responder == nil {
            close(connection)
        }
    }

    private func tearDown() {
        for command in shared.mailbox.close() {
            switch command {
            case .addListener(let listener): listener.close()
            case .stopAccepting(let done), .drain(let done): done.signal()
            case .shutdown, .outputReady: break
            }
        }
        closeListeners()
        for connection in Array(connections.values) { close(connection) }
        for entry in refused { closeDescriptor(entry.fd) }
        refused = []
    }

    // MARK: accepting

    private func acceptConnections(_ listener: ListeningSocket, token: UInt64) {
        for _ in 0..<Self.acceptBudget {
            switch listener.accept() {
            case .none:
                return
            case .aborted:
                continue
            case .exhausted:
                // Level-triggered epoll would report the listener again at once: take it out for a moment.
                try? epoll.modify(listener.fd, events: 0, token: token)
                pausedListeners[token] = .now + Self.acceptPause
                return
            case .connection(let fd, let address):
                admit(fd, address: address, kind: listener.kind)
            }
        }
    }

    private func admit(_ fd: Int32, address: sockaddr_storage, kind: ListeningSocket.Kind) {
        if draining {
            reject(fd, RequestError(status: 503, code: "unavailable", message: "the server is shutting down"))
            return
        }
        let configuration = shared.configuration
        let remote = kind == .tcp ? SocketAddress.describe(address) : nil
        let host = remote.map(Connection.host(of:))
        // The Unix socket has connections of its own (`unixReserve`) that TCP clients cannot take; each cap makes room
        // by dropping its oldest connection that has sent nothing, and refuses only when there is none.
        let full = kind == .unix ? connections.count >= configuration.maxConnections
            : openByKind[.tcp, default: 0] >= max(0, configuration.maxConnections - configuration.unixReserve)
        if full && !dropSilentConnection(where: { kind == .unix || $0.kind == .tcp }) {
            reject(fd, .tooManyConnections(kind == .unix ? configuration.maxConnections
                                           : max(0, configuration.maxConnections - configuration.unixReserve)))
            return
        }
        if let host, openByHost[host, default: 0] >= configuration.maxConnectionsPerAddress
            && !dropSilentConnection(where: { $0.remoteHost == host }) {
            reject(fd, RequestError(status: 503, code: "too_many_connections",
                                    message: "too many connections from \(host) (the limit is \(configuration.maxConnectionsPerAddress))"))
            return
        }
        if kind == .tcp {
            var on: Int32 = 1   // responses are written whole or per token: no Nagle delay
            _ = retryingEINTR {
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            }
        }
        let token = nextToken
        nextToken += 1
        let connection = Connection(id: token, fd: fd, kind: kind,
                                    peer: kind == .unix ? PeerCredentials.of(socket: fd) : nil,
                                    remoteAddress: remote, limits: limits, now: .now)
        let interest = connection.wantedInterest
        do {
            try epoll.add(fd, events: interest, token: token)
        } catch {
            closeDescriptor(fd)
            return
        }
        connection.interest = interest
        connections[token] = connection
        openByKind[kind, default: 0] += 1
        if let host { openByHost[host, default: 0] += 1 }
        shared.openConnections.add(1, ordering: .relaxed)
    }

    /// Closes the longest-open connection matching `filter` that has not sent a byte; false when there is none.
    private func dropSilentConnection(where filter: (Connection) -> Bool) -> Bool {
        var oldest: Connection?
        for connection in connections.values where connection.isSilent && filter(connection) {
            if oldest.map({ connection.acceptedAt < $0.acceptedAt }) ?? true { oldest = connection }
        }
        guard let oldest else { return false }
        close(oldest)
        return true
    }

    /// Answers a connection that will not be served with an error, then closes it. Input that already arrived is
    /// read first so the close does not become a reset.
    private func reject(_ fd: Int32, _ error: RequestError) {
        let response = ResponseEncoding.error(error)
        _ = response.withUnsafeBytes { bytes in
            retryingEINTR { send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
        }
        _ = retryingEINTR { shutdown(fd, Int32(SHUT_WR)) }
        guard refused.count < Self.maxRefusedLingering, !drainRefused(fd) else {
            closeDescriptor(fd)
            return
        }
        refused.append((fd, .now + Self.lingerTime))
    }

    /// Reads and drops what a refused client sent; true once it closed (or failed).
    private func drainRefused(_ fd: Int32) -> Bool {
        for _ in 0..<4 {
            let (n, code) = retryingEINTR { recv(fd, scratch.baseAddress, scratch.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { continue }
            return n == 0 || (code != EAGAIN && code != EWOULDBLOCK)
        }
        return false
    }

    // MARK: timers

    private var lastTimerCheck = ContinuousClock.now

    private func checkTimers(now: ContinuousClock.Instant) {
        guard now - lastTimerCheck >= .milliseconds(Int64(Self.tickMilliseconds)) else { return }
        lastTimerCheck = now
        for (token, until) in pausedListeners where now >= until {
            pausedListeners[token] = nil
            if let listener = listeners[token] { try? epoll.modify(listener.fd, events: Epoll.input, token: token) }
        }
        refused.removeAll { entry in
            guard drainRefused(entry.fd) || now >= entry.until else { return false }
            closeDescriptor(entry.fd)
            return true
        }
        let configuration = shared.configuration
        for connection in Array(connections.values) {
            if !connection.output.isEmpty && now - connection.lastWrite >= configuration.idleTimeout {
                close(connection)   // the client stopped reading
                continue
            }
            switch connection.phase {
            case .open where connection.responder == nil:
                if let started = connection.requestStarted {
                    if now - started >= configuration.requestTimeout {
                        refuse(connection, connection.parser.isReadingBody ? .bodyTimeout : .headerTimeout)
                        settle(connection)
                    }
                } else if connection.input.isEmpty && connection.output.isEmpty
                            && now - connection.idleSince >= (connection.receivedAny ? configuration.idleTimeout
                                                              : configuration.silentTimeout) {
                    close(connection)
                }
            case .lingering(let until) where now >= until:
                close(connection)
            default:
                break
            }
        }
    }
}
