import Dispatch
import Foundation
import Synchronization

/// An HTTP/1.1 server on Unix and TCP sockets: one event-loop thread (epoll) serves every connection and calls the
/// handler for each complete request. Any thread may call its methods; the loop does the socket work.
public final class HTTPServer: Sendable {
    private let shared: ServerShared
    private let lifecycle = Mutex(Lifecycle())

    private enum Phase {
        /// Made; listeners wait in `pending` until `start`.
        case created
        case running(LoopThread)
        case stopped
    }

    private struct Lifecycle {
        var phase = Phase.created
        var pending: [ListeningSocket] = []
    }

    /// `handler` is called for each complete request, on the loop thread; it must not block for long (hand work to
    /// a queue and answer through the responder later).
    public init(configuration: HTTPServerConfiguration = .init(),
                handler: @escaping @Sendable (HTTPRequest, HTTPResponder) -> Void) throws {
        shared = ServerShared(configuration: configuration, handler: handler, mailbox: try LoopMailbox())
    }

    deinit { shutdown() }

    /// Binds a Unix socket at `path`: missing parent folders are made with mode 0750, the socket file gets `mode`.
    /// A stale socket file (nobody answers on it) is replaced; a live server there or a non-socket file is an error.
    public func listen(unixPath: String, mode: UInt32 = 0o660) throws {
        try add(ListeningSocket.unix(path: unixPath, mode: mode))
    }

    /// Binds TCP `host:port` (an IP literal or localhost; port 0 = any free port) and returns the bound port.
    @discardableResult
    public func listen(host: String, port: Int) throws -> Int {
        let (socket, bound) = try ListeningSocket.tcp(host: host, port: port)
        try add(socket)
        return bound
    }

    /// Adopts an already-listening descriptor (systemd socket activation); Unix or TCP is told by getsockname.
    public func adopt(listeningDescriptor fd: Int32) throws {
        try add(ListeningSocket.adopt(fd))
    }

    private func add(_ socket: ListeningSocket) throws {
        let accepted = lifecycle.withLock { s -> Bool in
            switch s.phase {
            case .created: s.pending.append(socket); return true
            case .running: return shared.mailbox.post(.addListener(socket))
            case .stopped: return false
            }
        }
        guard accepted else {
            socket.close()
            throw HTTPServerError(.invalidState, "cannot listen: the server is shut down")
        }
    }

    /// Starts the event-loop thread. Connections that arrived since `listen` are waiting in the backlog.
    public func start() throws {
        let thread = LoopThread()
        try lifecycle.withLock { s in
            switch s.phase {
            case .running: throw HTTPServerError(.invalidState, "start: the server is already running")
            case .stopped: throw HTTPServerError(.invalidState, "start: the server is shut down")
            case .created: break
            }
            for socket in s.pending { shared.mailbox.post(.addListener(socket)) }   // taken on the first pass
            s.pending = []
            s.phase = .running(thread)
        }
        if let error = thread.start(shared) {
            lifecycle.withLock { $0.phase = .stopped }
            for case .addListener(let socket) in shared.mailbox.close() { socket.close() }
            throw error
        }
    }

    /// Closes the listeners (removing the Unix socket files this server made); open connections carry on.
    public func stopAccepting() {
        let pending = lifecycle.withLock { s -> [ListeningSocket]? in
            switch s.phase {
            case .created: defer { s.pending = [] }; return s.pending
            case .running: return nil
            case .stopped: return []
            }
        }
        if let pending {
            for socket in pending { socket.close() }
            return
        }
        askLoop { .stopAccepting($0) }
    }

    /// Drain mode: idle keep-alive connections close now and every other one after its response. Waits until every
    /// in-flight response is written (true) or `timeout` passes (false). Requests not yet handed to the handler are
    /// dropped. Do not call it from the handler.
    public func drain(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        guard lifecycle.withLock({ s in if case .running = s.phase { true } else { false } }) else { return true }
        askLoop { .drain($0) }
        while shared.inFlight.load(ordering: .relaxed) > 0 {
            if shared.mailbox.isOnLoopThread || ContinuousClock.now >= deadline { return false }
            usleep(5_000)
        }
        return true
    }

    /// Closes every listener and connection (in-flight responders get onClose) and stops the loop thread.
    /// Idempotent; from the handler it returns without waiting for the thread.
    public func shutdown() {
        let (previous, pending) = lifecycle.withLock { s -> (Phase, [ListeningSocket]) in
            defer { s.phase = .stopped; s.pending = [] }
            return (s.phase, s.pending)
        }
        switch previous {
        case .created:
            for socket in pending { socket.close() }
            _ = shared.mailbox.close()
        case .running(let thread):
            shared.mailbox.post(.shutdown)
            if !shared.mailbox.isOnLoopThread { thread.waitUntilExited() }
        case .stopped:
            break
        }
    }

    /// Accepted connections not yet closed.
    public var openConnections: Int { shared.openConnections.load(ordering: .relaxed) }

    /// Posts a command carrying a semaphore and waits until the loop has carried it out.
    private func askLoop(_ command: (DispatchSemaphore) -> LoopMailbox.Command) {
        let done = DispatchSemaphore(value: 0)
        if shared.mailbox.post(command(done)) && !shared.mailbox.isOnLoopThread { done.wait() }
    }
}

/// The thread running a `ServerLoop`, with the semaphores that report it started and that it exited.
private final class LoopThread: Sendable {
    private let ready = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)
    private let failure = Mutex<HTTPServerError?>(nil)

    /// Starts the thread; returns the error if the loop could not be made.
    func start(_ shared: ServerShared) -> HTTPServerError? {
        let thread = Thread { [self] in
            do {
                let loop = try ServerLoop(shared: shared)
                ready.signal()
                loop.run()
            } catch {
                let reported = error as? HTTPServerError ?? HTTPServerError(.system, "event loop: \(error)")
                failure.withLock { $0 = reported }
                ready.signal()
            }
            exited.signal()
        }
        thread.name = "lorad-http"
        thread.start()
        ready.wait()
        return failure.withLock { $0 }
    }

    func waitUntilExited() {
        exited.wait()
        exited.signal()   // a later waiter returns at once too
    }
}
