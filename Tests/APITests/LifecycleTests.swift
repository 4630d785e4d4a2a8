import Foundation
import Testing
import TestSupport

/// `lorad serve` as a process: the socket it makes, a stale socket, a second daemon, graceful SIGTERM.
@Suite struct LifecycleTests {
    @Test func socketIsPrivateToTheGroupAndAStaleOneIsReplaced() throws {
        let daemon = try APIFixture.makeDaemon()
        var st = stat()
        #expect(stat(daemon.socketPath, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o660)
        #expect(daemon.log.contains("ready"))
        #expect(daemon.log.contains(daemon.socketPath))

        // A second daemon on the same live socket refuses to start and names the path.
        let second = Process()
        second.executableURL = Fixtures.builtProduct("lorad")
        second.arguments = ["serve", "--model", Fixtures.tinyLlama.path, "--socket", daemon.socketPath,
                            "--data-dir", daemon.dataDirectory.path + "-2"]
        let err = Pipe()
        second.standardError = err
        try second.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        second.waitUntilExit()
        #expect(second.terminationStatus == 1)
        #expect(text.contains(daemon.socketPath), "\(text)")
        #expect(try daemon.client.request("GET", "/health").status == 200)

        // SIGKILL leaves the socket file behind; the next daemon replaces it.
        daemon.stop(signal: SIGKILL)
        #expect(FileManager.default.fileExists(atPath: daemon.socketPath))
        let next = try TestDaemon(model: Fixtures.tinyLlama.path, extraArguments: ["--socket", daemon.socketPath],
                                  dataDirectory: daemon.dataDirectory)
        defer { next.stop() }
        #expect(try UnixHTTPClient(path: daemon.socketPath).request("GET", "/health").status == 200)
    }

    /// A SIGTERM sent the moment `ready` is printed stops the daemon (with a dispatch signal source it was
    /// sometimes lost: the source was armed later, on another thread, and the daemon ran on).
    @Test func sigtermRightAfterReadyStops() throws {
        for _ in 0..<3 {
            let daemon = try APIFixture.makeDaemon()
            #expect(daemon.stop(timeout: 30) == 0, "\(daemon.log)")
            #expect(daemon.log.contains("lorad: stopped"))
        }
    }

    /// Ctrl-C starts the drain; Ctrl-C again exits at once (status 130) instead of waiting for the request.
    @Test func secondSigintExitsAtOnce() throws {
        let daemon = try APIFixture.makeDaemon(["--drain-seconds", "300"])
        let (fd, first) = try APIFixture.startStream(daemon, maxTokens: 480)
        defer { close(fd) }
        #expect(!first.isEmpty)
        kill(daemon.process.processIdentifier, SIGINT)
        let deadline = Date().addingTimeInterval(30)
        while !daemon.log.contains("draining") && Date() < deadline { usleep(10_000) }
        #expect(daemon.log.contains("SIGINT: draining"))
        #expect(daemon.stop(signal: SIGINT, timeout: 30) == 130, "\(daemon.log)")
        #expect(daemon.log.contains("SIGINT again: exiting now"))
    }

    @Test func sigtermLetsARunningRequestFinish() throws {
        let daemon = try APIFixture.makeDaemon(["--drain-seconds", "300"])
        // Wait for the first bytes of the stream, then ask the daemon to stop.
        let (fd, first) = try APIFixture.startStream(daemon, maxTokens: 300)
        defer { close(fd) }
        #expect(!first.isEmpty)
        kill(daemon.process.processIdentifier, SIGTERM)
        let rest = first + UnixHTTPClient.readAll(fd)
        let response = try UnixHTTPClient.parse(rest)
        let events = UnixHTTPClient.events(response.body)
        #expect(events.last == "[DONE]", "\(events.suffix(2))")
        // The usage chunk (stream_options.include_usage): empty choices, the request's usage.
        let final = events.dropLast().last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect((final?["choices"] as? [Any])?.isEmpty == true)
        let usage = final?["usage"] as? [String: Any]
        #expect(usage?["completion_tokens"] as? Int == 300)
        #expect(daemon.stop(timeout: 60) == 0)
        #expect(daemon.log.contains("draining"))
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
    }

    @Test func badFlagsAreUsageErrors() throws {
        let r = try runProduct("lorad", ["serve", "--frobnicate"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--frobnicate"))
        let size = try runProduct("lorad", ["serve", "--pool-memory", "lots"])
        #expect(size.status == 2)
        #expect(size.stderr.contains("pool-memory"))
        // A budget past the machine's memory would map (unreserved) and fail under load: refused up front.
        let huge = try runProduct("lorad", ["serve", "--pool-memory", "500T", "--socket", "/tmp/lorad-x.sock"])
        #expect(huge.status == 2)
        #expect(huge.stderr.contains("--pool-memory 500T is more than this"), "\(huge.stderr)")
        let model = try runProduct("lorad", ["serve", "--model", "/nonexistent/model", "--socket", "/tmp/lorad-x.sock"])
        #expect(model.status == 1)
        #expect(model.stderr.contains("/nonexistent/model"))
    }
}

/// The TCP listener (bearer token required) and systemd's readiness notification.
@Suite struct TCPAndSystemdTests {
    /// A TCP request to 127.0.0.1:port (or [::1]:port); the raw response.
    func tcpRequest(port: Int, ipv6: Bool = false, _ head: String) throws -> UnixHTTPClient.Response {
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let r: Int32
        if ipv6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = in_port_t(UInt16(port).bigEndian)
            addr.sin6_addr = in6addr_loopback
            r = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            r = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard r == 0 else { throw TestDaemonError(description: "connect \(ipv6 ? "[::1]" : "127.0.0.1"):\(port) failed") }
        UnixHTTPClient.write(fd, Array(head.utf8))
        return try UnixHTTPClient.parse(UnixHTTPClient.readAll(fd))
    }

    @Test func tcpListenerNeedsABearerToken() throws {
        let daemon = try APIFixture.makeDaemon(["--listen-tcp", "127.0.0.1:0"])
        defer { daemon.stop() }
        let line = try #require(daemon.log.split(separator: "\n").first { $0.contains("ready") })
        let port = try #require(line.range(of: "tcp 127.0.0.1:").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) })
        let anonymous = try tcpRequest(port: port, "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(anonymous.status == 401)
        #expect(anonymous.errorMessage.contains("token"))
        // Liveness needs no token (for probes).
        let health = try tcpRequest(port: port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(health.status == 200)
        let t = try daemon.client.request("POST", "/v1/tenants", json: ["name": "remote", "token": true])
        let token = try #require(t.json?["token"] as? String)
        let ok = try tcpRequest(port: port, "GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
        #expect(ok.status == 200, "\(ok.text)")
        // A tenant over TCP is never admin.
        let tenants = try tcpRequest(port: port, "GET /v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
        #expect(tenants.status == 403)
    }

    /// An IPv6 listener is shown as a URL writes it ([::1]:PORT) and answers there. Skipped where the machine
    /// has no IPv6 loopback.
    @Test func ipv6ListenerIsShownInBracketsAndAnswers() throws {
        let probe = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        var loopback = sockaddr_in6()
        loopback.sin6_family = sa_family_t(AF_INET6)
        loopback.sin6_addr = in6addr_loopback
        let bound = withUnsafePointer(to: &loopback) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        close(probe)
        guard bound == 0 else { return }
        let daemon = try APIFixture.makeDaemon(["--listen-tcp", "[::1]:0"])
        defer { daemon.stop() }
        let line = try #require(daemon.log.split(separator: "\n").first { $0.contains("ready") })
        let port = try #require(line.range(of: "tcp [::1]:").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) },
                                "\(line)")
        let health = try tcpRequest(port: port, ipv6: true, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(health.status == 200)
    }

    @Test func notifiesSystemdWhenReadyAndStopping() throws {
        let path = "/tmp/lorad-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd); unlink(path) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        var tv = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let daemon = try APIFixture.makeDaemon(environment: ["NOTIFY_SOCKET": path])
        func message() -> String {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
        }
        #expect(message().contains("READY=1"))
        #expect(daemon.stop() == 0)
        #expect(message().contains("STOPPING=1"))
    }
}

/// A drain that runs out of time cancels what is left, and those streams still end properly.
@Suite struct DrainTimeoutTests {
    @Test func streamsCutByTheDrainEndWithCancelledAndDone() throws {
        let daemon = try APIFixture.makeDaemon(["--drain-seconds", "0"])
        let (fd, first) = try APIFixture.startStream(daemon, maxTokens: 480)
        defer { close(fd) }
        kill(daemon.process.processIdentifier, SIGTERM)
        let response = try UnixHTTPClient.parse(first + UnixHTTPClient.readAll(fd))
        let events = UnixHTTPClient.events(response.body)
        #expect(events.last == "[DONE]", "\(String(decoding: first, as: UTF8.self))\n\(daemon.log)")
        // The choice's last chunk (before the usage chunk asked for with include_usage) says why it ended.
        let last = events.dropLast().dropLast().last
        #expect(last?.contains("\"finish_reason\":\"cancelled\"") == true || last?.contains("\"length\"") == true)
        #expect(events.dropLast().last?.contains("\"choices\":[]") == true)
        #expect(daemon.stop() == 0)
    }
}
