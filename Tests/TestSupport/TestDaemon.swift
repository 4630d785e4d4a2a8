import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `lorad serve` child process on a temporary socket and data directory, for end-to-end tests that talk to
/// it only over the socket.
public final class TestDaemon: @unchecked Sendable {
    // @unchecked Sendable: `stderrText` is guarded by `lock`; everything else is immutable after init.
    public let socketPath: String
    public let dataDirectory: URL
    public let process = Process()
    private let lock = NSLock()
    private var stderrText = ""
    private let errPipe = Pipe()

    /// Starts `lorad serve --model MODEL` with `extraArguments`, waiting (up to `timeout` s) for its `ready` line.
    public init(model: String, extraArguments: [String] = [], dataDirectory: URL? = nil,
                environment: [String: String] = [:], shellPrefix: String? = nil, timeout: Double = 120) throws {
        let dir = try Fixtures.temporaryDirectory("lorad-daemon")
        // sun_path is 108 bytes: keep the socket path short.
        socketPath = "/tmp/lorad-t-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        self.dataDirectory = dataDirectory ?? dir.appendingPathComponent("data")
        let arguments = ["serve", "--model", model, "--socket", socketPath,
                         "--data-dir", self.dataDirectory.path, "--threads", "2"] + extraArguments
        if let shellPrefix {
            // e.g. "ulimit -f 120": bash runs it, then execs the daemon in its place.
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", "\(shellPrefix); exec \"$0\" \"$@\"", Fixtures.builtProduct("lorad").path] + arguments
        } else {
            process.executableURL = Fixtures.builtProduct("lorad")
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"] ?? dir.appendingPathComponent("cache").path
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardError = errPipe
        process.standardOutput = FileHandle.nullDevice
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let data = h.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.stderrText += String(decoding: data, as: UTF8.self)
            self.lock.unlock()
        }
        try process.run()
        LiveDaemons.add(process.processIdentifier)
        let deadline = Date().addingTimeInterval(timeout)
        while !log.contains("ready") {
            guard process.isRunning else {
                throw TestDaemonError(description: "lorad serve exited (\(process.terminationStatus)) before ready:\n\(log)")
            }
            guard Date() < deadline else {
                stop()
                throw TestDaemonError(description: "lorad serve was not ready after \(timeout) s:\n\(log)")
            }
            usleep(20_000)
        }
    }

    /// Everything the daemon wrote to stderr so far.
    public var log: String {
        lock.lock()
        defer { lock.unlock() }
        return stderrText
    }

    /// Sends `signal` and waits for the exit; returns the exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 60) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        errPipe.fileHandleForReading.readabilityHandler = nil
        LiveDaemons.remove(process.processIdentifier)
        return process.terminationStatus
    }

    deinit { if process.isRunning { stop(signal: SIGKILL) } }

    public var client: UnixHTTPClient { UnixHTTPClient(path: socketPath) }
}

/// Daemons still running when the test process exits (shared fixtures are never stopped) get SIGKILL, so no
/// `lorad serve` outlives `swift test`.
enum LiveDaemons {
    private static let pids = NSLock()
    nonisolated(unsafe) private static var running: Set<Int32> = []
    nonisolated(unsafe) private static var installed = false

    static func add(_ pid: Int32) {
        pids.lock()
        defer { pids.unlock() }
        running.insert(pid)
        if !installed {
            installed = true
            atexit { LiveDaemons.killAll() }
        }
    }

    static func remove(_ pid: Int32) {
        pids.lock()
        running.remove(pid)
        pids.unlock()
    }

    static func killAll() {
        pids.lock()
        for pid in running { kill(pid, SIGKILL) }
        running.removeAll()
        pids.unlock()
    }
}

public struct TestDaemonError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// A test's HTTP/1.1 client over a Unix socket: raw bytes in, a parsed response (or the raw stream) out.
public struct UnixHTTPClient: Sendable {
    public let path: String

    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
        public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
    }

    public init(path: String) { self.path = path }

    /// A connected socket (with a receive timeout), for tests that write raw bytes.
    public func connect(timeoutSeconds: Int = 120) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else {
            close(fd)
            throw TestDaemonError(description: "connect \(path): \(String(cString: strerror(errno)))")
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    public static func write(_ fd: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    /// Reads until the peer closes (or the timeout), returning every byte.
    public static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return out }
            out += buf[0..<n]
        }
    }

    /// One request on its own connection (`Connection: close`); the whole response.
    public func request(_ method: String, _ target: String, json: Any? = nil, body: [UInt8]? = nil,
                        headers: [String: String] = [:]) throws -> Response {
        var payload = body
        if let json { payload = Array(try JSONSerialization.data(withJSONObject: json)) }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let payload { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        let fd = try connect()
        defer { close(fd) }
        Self.write(fd, Array((head + "\r\n").utf8) + (payload ?? []))
        return try Self.parse(Self.readAll(fd))
    }

    /// Parses one complete response (Content-Length, chunked or close-delimited).
    public static func parse(_ raw: [UInt8]) throws -> Response {
        guard let end = find(raw, [13, 10, 13, 10], from: 0) else {
            throw TestDaemonError(description: "no response head in \(raw.count) bytes: \(String(decoding: raw.prefix(200), as: UTF8.self))")
        }
        let lines = String(decoding: raw[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for l in lines.dropFirst() {
            if let c = l.firstIndex(of: ":") { headers[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces) }
        }
        var rest = Array(raw[(end + 4)...])
        if headers["transfer-encoding"]?.contains("chunked") == true {
            var body: [UInt8] = []
            while let lineEnd = find(rest, [13, 10], from: 0),
                  let size = Int(String(decoding: rest[..<lineEnd], as: UTF8.self), radix: 16), size > 0,
                  rest.count >= lineEnd + 2 + size {
                body += rest[(lineEnd + 2)..<(lineEnd + 2 + size)]
                rest = Array(rest[min(rest.count, lineEnd + 4 + size)...])
            }
            return Response(status: status, headers: headers, body: body)
        }
        if let n = headers["content-length"].flatMap(Int.init) { rest = Array(rest.prefix(n)) }
        return Response(status: status, headers: headers, body: rest)
    }

    static func find(_ a: [UInt8], _ p: [UInt8], from: Int) -> Int? {
        guard a.count >= p.count + from else { return nil }
        for i in from...(a.count - p.count) where a[i] == p[0] && Array(a[i..<(i + p.count)]) == p { return i }
        return nil
    }

    /// The `data:` payloads of a server-sent event stream body, in order.
    public static func events(_ body: [UInt8]) -> [String] {
        String(decoding: body, as: UTF8.self).components(separatedBy: "\n")
            .filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
    }
}
