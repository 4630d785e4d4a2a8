import Foundation
import Glibc
@testable import HTTPServer
import Testing

/// sd_listen_fds and sd_notify equivalents. Serialized: they set process environment variables.
@Suite(.serialized) struct SystemdTests {
    @Test func listenFDsAreReadOnlyForThisProcess() {
        #expect(SystemdSocketActivation.descriptors(listenPID: "42", listenFDs: "2", pid: 42) == [3, 4])
        #expect(SystemdSocketActivation.descriptors(listenPID: "41", listenFDs: "2", pid: 42) == [])
        #expect(SystemdSocketActivation.descriptors(listenPID: "42", listenFDs: "zero", pid: 42) == [])
        #expect(SystemdSocketActivation.descriptors(listenPID: nil, listenFDs: "1", pid: 42) == [])

        // Another process's variables: nothing, and they are removed.
        setenv("LISTEN_PID", "\(getpid() + 1)", 1)
        setenv("LISTEN_FDS", "1", 1)
        setenv("LISTEN_FDNAMES", "http", 1)
        #expect(SystemdSocketActivation.listeningDescriptors() == [])
        #expect(getenv("LISTEN_PID") == nil)
        #expect(getenv("LISTEN_FDS") == nil)
        #expect(getenv("LISTEN_FDNAMES") == nil)
    }

    @Test func notifySendsOneDatagram() throws {
        unsetenv("NOTIFY_SOCKET")
        #expect(SystemdNotify.send("READY=1") == false)

        let directory = try TestServer.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/notify"
        let receiver = try unixSocket(SOCK_DGRAM, boundAt: path)
        defer { close(receiver) }
        setenv("NOTIFY_SOCKET", path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        #expect(SystemdNotify.send("READY=1\nSTATUS=serving"))
        #expect(receive(receiver) == "READY=1\nSTATUS=serving")

        // An abstract-namespace socket ("@name").
        let name = "lorad-notify-test-\(getpid())"
        let abstract = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(abstract) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in name.utf8.enumerated() { raw[i + 1] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + name.utf8.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(abstract, $0, length) }
        }
        #expect(bound == 0)
        setenv("NOTIFY_SOCKET", "@" + name, 1)
        #expect(SystemdNotify.send("STOPPING=1"))
        #expect(receive(abstract) == "STOPPING=1")
    }

    private func receive(_ fd: Int32) -> String? {
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n >= 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }
}
