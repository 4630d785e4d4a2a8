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

    @Test func sigtermLetsARunningRequestFinish() throws {
        let daemon = try APIFixture.makeDaemon()
        let client = daemon.client
        let fd = try client.connect()
        defer { close(fd) }
        let body = #"{"model":"tiny-llama","prompt":[2037,39],"max_tokens":500,"ignore_eos":true,"stream":true}"#
        UnixHTTPClient.write(fd, Array("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8))
        // Wait for the first bytes of the stream, then ask the daemon to stop.
        var first = [UInt8](repeating: 0, count: 512)
        let n = first.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        #expect(n > 0)
        kill(daemon.process.processIdentifier, SIGTERM)
        let rest = Array(first[0..<max(0, n)]) + UnixHTTPClient.readAll(fd)
        let response = try UnixHTTPClient.parse(rest)
        let events = UnixHTTPClient.events(response.body)
        #expect(events.last == "[DONE]", "\(events.suffix(2))")
        let final = events.dropLast().last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let usage = final?["usage"] as? [String: Any]
        #expect(usage?["completion_tokens"] as? Int == 500)
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
        let model = try runProduct("lorad", ["serve", "--model", "/nonexistent/model", "--socket", "/tmp/lorad-x.sock"])
        #expect(model.status == 1)
        #expect(model.stderr.contains("/nonexistent/model"))
    }
}
