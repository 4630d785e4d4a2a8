#if canImport(Glibc)
import Glibc
#endif

/// A failure of the HTTP server: what went wrong with the name of the call or path, and the errno of a failed call.
public struct HTTPServerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure; a struct so kinds can be added without breaking callers' switches.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        /// A system call failed (`errno` says why).
        public static let system = Kind(description: "system")
        /// Another process is accepting connections on the Unix socket path.
        public static let alreadyListening = Kind(description: "already listening")
        /// A listen address or socket path that cannot be used as given.
        public static let invalidAddress = Kind(description: "invalid address")
        /// The call does not fit the server's state (listen after shutdown, run twice).
        public static let invalidState = Kind(description: "invalid state")
    }

    public let kind: Kind
    public let message: String
    public let errno: Int32?

    public init(_ kind: Kind, _ message: String, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.errno = errno
    }

    public var description: String { message }

    static func system(_ call: String, errno code: Int32) -> HTTPServerError {
        HTTPServerError(.system, "\(call): \(String(cString: strerror(code)))", errno: code)
    }
}

/// Runs a system call, retrying EINTR. Returns the call's result and, when it is -1, the errno (else 0).
/// This is the one place system calls go through; `syscall` below adds throwing.
@inline(__always)
func retryingEINTR<T: FixedWidthInteger>(_ body: () -> T) -> (result: T, errno: Int32) {
    while true {
        let result = body()
        if result != -1 { return (result, 0) }
        let code = Glibc.errno
        if code != EINTR { return (result, code) }
    }
}

/// Runs a system call, retrying EINTR; -1 becomes an `HTTPServerError` naming `call`.
@discardableResult
func syscall<T: FixedWidthInteger>(_ call: @autoclosure () -> String, _ body: () -> T) throws -> T {
    let (result, code) = retryingEINTR(body)
    if result == -1 { throw HTTPServerError.system(call(), errno: code) }
    return result
}

/// Closes a descriptor. Not retried on EINTR: on Linux the descriptor is released either way.
func closeDescriptor(_ fd: Int32) {
    if fd >= 0 { _ = Glibc.close(fd) }
}

/// Declarations Swift's Glibc module leaves out (sys/epoll.h, sys/eventfd.h and the _GNU_SOURCE `accept4`), bound
/// once from the C library through dlsym with the C calling convention. The constants are Linux's (same on x86_64
/// and aarch64).
enum LinuxAPI {
    typealias EpollCreate1 = @convention(c) (Int32) -> Int32
    typealias EpollCtl = @convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32
    typealias EpollWait = @convention(c) (Int32, UnsafeMutableRawPointer?, Int32, Int32) -> Int32
    typealias EventFD = @convention(c) (UInt32, Int32) -> Int32
    typealias Accept4 = @convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?,
                                        Int32) -> Int32

    static let epollCreate1: EpollCreate1 = bind("epoll_create1")
    static let epollCtl: EpollCtl = bind("epoll_ctl")
    static let epollWait: EpollWait = bind("epoll_wait")
    static let eventfd: EventFD = bind("eventfd")
    static let accept4: Accept4 = bind("accept4")

    static let epollCtlAdd: Int32 = 1
    static let epollCtlDel: Int32 = 2
    static let epollCtlMod: Int32 = 3

    /// struct epoll_event is packed on x86_64 (12 bytes, data at 4) and naturally aligned elsewhere (16, data at 8).
    #if arch(x86_64)
    static let epollEventSize = 12
    static let epollEventDataOffset = 4
    #else
    static let epollEventSize = 16
    static let epollEventDataOffset = 8
    #endif

    /// Socket type flags as the Int32 the calls take.
    static let sockStream = Int32(SOCK_STREAM.rawValue)
    static let sockDgram = Int32(SOCK_DGRAM.rawValue)
    static let sockNonblock = Int32(SOCK_NONBLOCK.rawValue)
    static let sockCloexec = Int32(SOCK_CLOEXEC.rawValue)

    private static func bind<F>(_ name: String) -> F {
        // RTLD_DEFAULT (a null handle) searches the global scope, where the C library always is.
        guard let symbol = dlsym(nil, name) else { fatalError("the C library has no \(name)") }
        return unsafeBitCast(symbol, to: F.self)
    }
}
