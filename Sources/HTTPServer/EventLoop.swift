#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// An epoll instance and its event buffer; owned and used by the loop thread only. Level-triggered: the caller keeps
/// each descriptor's interest set to what it can act on. Tokens are the caller's 64-bit keys.
final class Epoll {
    static let input: UInt32 = 0x001
    static let output: UInt32 = 0x004
    static let error: UInt32 = 0x008
    static let hangup: UInt32 = 0x010
    static let readHangup: UInt32 = 0x2000

    let fd: Int32
    private let capacity = 256
    private let events: UnsafeMutableRawPointer   // [capacity] struct epoll_event

    init() throws {
        fd = try syscall("epoll_create1") { LinuxAPI.epollCreate1(O_CLOEXEC) }
        events = UnsafeMutableRawPointer.allocate(byteCount: capacity * LinuxAPI.epollEventSize, alignment: 8)
    }

    deinit {
        closeDescriptor(fd)
        events.deallocate()
    }

    func add(_ descriptor: Int32, events mask: UInt32, token: UInt64) throws {
        try control(LinuxAPI.epollCtlAdd, descriptor, mask, token, "epoll_ctl add")
    }

    func modify(_ descriptor: Int32, events mask: UInt32, token: UInt64) throws {
        try control(LinuxAPI.epollCtlMod, descriptor, mask, token, "epoll_ctl modify")
    }

    func remove(_ descriptor: Int32) {
        _ = retryingEINTR { LinuxAPI.epollCtl(fd, LinuxAPI.epollCtlDel, descriptor, nil) }
    }

    private func control(_ op: Int32, _ descriptor: Int32, _ mask: UInt32, _ token: UInt64, _ what: String) throws {
        try withUnsafeTemporaryAllocation(byteCount: LinuxAPI.epollEventSize, alignment: 8) { event in
            event.storeBytes(of: mask, toByteOffset: 0, as: UInt32.self)
            event.storeBytes(of: token, toByteOffset: LinuxAPI.epollEventDataOffset, as: UInt64.self)
            try syscall(what) { LinuxAPI.epollCtl(fd, op, descriptor, event.baseAddress) }
        }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and returns how many events `event(at:)` can read.
    func wait(timeoutMilliseconds: Int32) throws -> Int {
        let (n, code) = retryingEINTR { LinuxAPI.epollWait(fd, events, Int32(capacity), timeoutMilliseconds) }
        if n < 0 { throw HTTPServerError.system("epoll_wait", errno: code) }
        return Int(n)
    }

    func event(at index: Int) -> (token: UInt64, events: UInt32) {
        let base = index * LinuxAPI.epollEventSize
        return (events.loadUnaligned(fromByteOffset: base + LinuxAPI.epollEventDataOffset, as: UInt64.self),
                events.loadUnaligned(fromByteOffset: base, as: UInt32.self))
    }
}

/// The loop's inbox. Any thread posts commands; an eventfd wakes the loop, which drains the inbox on its own thread.
/// Posts from the loop thread itself skip the eventfd: the loop looks at `hasPending` before it sleeps.
final class LoopMailbox: Sendable {
    enum Command: Sendable {
        /// A bound, listening socket for the loop to accept on.
        case addListener(ListeningSocket)
        /// Close every listener, then signal.
        case stopAccepting(DispatchSemaphore)
        /// Enter drain mode (idle connections closed, none kept alive), then signal.
        case drain(DispatchSemaphore)
        /// Close everything and leave the loop.
        case shutdown
        /// A connection's responder queued bytes or ended its response.
        case outputReady(connectionId: UInt64)
    }

    private struct State {
        var commands: [Command] = []
        /// The eventfd was written and the loop has not taken the commands since.
        var signalled = false
        var closed = false
    }

    let eventFD: Int32
    private let state = Mutex(State())
    /// pthread_t of the thread running the loop, 0 when none.
    private let loopThread = Atomic<UInt>(0)

    init() throws {
        eventFD = try syscall("eventfd") { LinuxAPI.eventfd(0, O_CLOEXEC | O_NONBLOCK) }
    }

    deinit { closeDescriptor(eventFD) }

    var isOnLoopThread: Bool {
        let current = loopThread.load(ordering: .acquiring)
        return current != 0 && pthread_equal(current, pthread_self()) != 0
    }

    func bindToCurrentThread() { loopThread.store(pthread_self(), ordering: .releasing) }

    /// Queues a command; false once the loop has stopped for good (the command is dropped).
    @discardableResult
    func post(_ command: Command) -> Bool {
        let onLoop = isOnLoopThread
        let (accepted, signal) = state.withLock { s -> (Bool, Bool) in
            guard !s.closed else { return (false, false) }
            s.commands.append(command)
            if onLoop || s.signalled { return (true, false) }
            s.signalled = true
            return (true, true)
        }
        if signal {
            var one: UInt64 = 1
            _ = retryingEINTR { write(eventFD, &one, 8) }
        }
        return accepted
    }

    var hasPending: Bool { state.withLock { !$0.commands.isEmpty } }

    /// Takes every queued command (the loop thread calls this). The eventfd is reset first, so a post that lands
    /// after the reset either is taken here or writes the eventfd again (it sees `signalled` cleared): none is lost.
    func take() -> [Command] {
        var value: UInt64 = 0
        _ = retryingEINTR { read(eventFD, &value, 8) }
        return state.withLock { s in
            s.signalled = false
            var taken: [Command] = []
            swap(&taken, &s.commands)
            return taken
        }
    }

    /// Refuses further posts and returns what was left (listeners to close, waiters to signal).
    func close() -> [Command] {
        loopThread.store(0, ordering: .releasing)
        return state.withLock { s in
            s.closed = true
            var taken: [Command] = []
            swap(&taken, &s.commands)
            return taken
        }
    }
}
