#if canImport(Glibc)
import Glibc
#endif

/// Sockets systemd opened for this process (sd_listen_fds): LISTEN_PID must be our pid, LISTEN_FDS descriptors
/// start at 3. Reading them unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES so children do not inherit them.
public enum SystemdSocketActivation {
    static let firstDescriptor: Int32 = 3

    /// The passed descriptors, each set close-on-exec; empty when none were passed to this process.
    public static func listeningDescriptors() -> [Int32] {
        let pid = environment("LISTEN_PID"), count = environment("LISTEN_FDS")
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) }
        let descriptors = descriptors(listenPID: pid, listenFDs: count, pid: getpid())
        for fd in descriptors { _ = retryingEINTR { fcntl(fd, F_SETFD, FD_CLOEXEC) } }
        return descriptors
    }

    /// The descriptor numbers the two variables name for process `pid`; empty when they are absent or malformed.
    static func descriptors(listenPID: String?, listenFDs: String?, pid: Int32) -> [Int32] {
        guard let listenPID, let owner = Int32(listenPID), owner == pid,
              let listenFDs, let count = Int32(listenFDs), count > 0, count < Int32.max - firstDescriptor else {
            return []
        }
        return Array(firstDescriptor..<firstDescriptor + count)
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// Status messages to systemd (sd_notify): one datagram to NOTIFY_SOCKET, a path or an "@abstract" name.
public enum SystemdNotify {
    /// Sends `state` ("READY=1", "STOPPING=1", "STATUS=..."); false when NOTIFY_SOCKET is unset or sending failed.
    @discardableResult
    public static func send(_ state: String) -> Bool {
        guard let raw = getenv("NOTIFY_SOCKET") else { return false }
        var path = String(cString: raw)
        let abstract = path.hasPrefix("@")
        if abstract { path.removeFirst() }
        guard !path.isEmpty else { return false }
        let (fd, _) = retryingEINTR { socket(AF_UNIX, LinuxAPI.sockDgram | LinuxAPI.sockCloexec, 0) }
        guard fd >= 0 else { return false }
        defer { closeDescriptor(fd) }
        let message = Array(state.utf8)
        let sent = try? SocketAddress.withUnixAddress(path, abstract: abstract) { address, length in
            message.withUnsafeBytes { bytes in
                retryingEINTR { sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), address, length) }
            }
        }
        return sent?.result == message.count
    }
}
