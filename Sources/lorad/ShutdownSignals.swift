import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT for the daemon: a sigaction handler writes the signal number into a pipe, and one thread
/// reads the pipe and runs the stop action.
///
/// Why not a `DispatchSource` signal source: on Linux libdispatch arms it asynchronously on its manager thread and
/// leaves the disposition as it found it until then (SIG_IGN here), so a SIGTERM sent right after `ready` was lost
/// and the daemon never stopped (seen in CI under load). It also relies on signalfd, which misses a signal the
/// kernel hands to a thread that does not block it (OpenBLAS and kernel pool threads do not). The handler installed
/// here is in place when `install` returns and runs on whatever thread the kernel picks.
enum ShutdownSignals {
    /// Write end of the pipe; the handler's only state (a signal handler cannot capture context).
    nonisolated(unsafe) private static var writeEnd: Int32 = -1

    /// Installs the handlers and starts the watcher thread. The first signal calls `onFirst(signal)` on that
    /// thread; a second one while it runs calls `onRepeat(signal)`.
    static func install(_ signals: [Int32], onFirst: @escaping @Sendable (Int32) -> Void,
                        onRepeat: @escaping @Sendable (Int32) -> Void) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw ShutdownSignalsError(description: "cannot make the signal pipe: \(String(cString: strerror(errno)))")
        }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)   // a handler must never block; a full pipe already holds a signal
        writeEnd = fds[1]
        let readEnd = fds[0]

        let watcher = Thread {
            var first = true
            while true {
                var byte: UInt8 = 0
                let n = read(readEnd, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                guard n == 1 else { return }
                let sig = Int32(byte)
                if first {
                    first = false
                    // The stop action runs long (draining): this thread goes on reading later signals.
                    Thread { onFirst(sig) }.start()
                } else {
                    onRepeat(sig)
                }
            }
        }
        watcher.name = "lorad-signals"
        watcher.start()

        for sig in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                var byte = UInt8(truncatingIfNeeded: sig)
                let saved = errno
                _ = write(ShutdownSignals.writeEnd, &byte, 1)
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            guard sigaction(sig, &action, nil) == 0 else {
                throw ShutdownSignalsError(description: "cannot handle signal \(sig): \(String(cString: strerror(errno)))")
            }
        }
    }
}

struct ShutdownSignalsError: Error, CustomStringConvertible {
    let description: String
}
