import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `lorad bench load`: a bounded load generator against a running daemon on its Unix socket (local only). Many
/// concurrent streaming clients over several adapters and tenants; every response is checked (status, each SSE
/// event parses, the stream ends with [DONE] or an error event, the streamed text is whole); latency percentiles;
/// the daemon's RSS sampled through the run (its pid from SO_PEERCRED) with a least-squares growth trend.
func benchLoad(_ args: [String]) throws {
    let a = try Arguments(args, options: ["socket", "clients", "requests", "duration", "models", "tokens", "max-tokens",
                                          "sample-seconds"], switches: ["json", "help"])
    if a.has("help") { print(benchUsage); return }
    let socketPath = a.string("socket") ?? defaultSocketPath(ProcessInfo.processInfo.environment)
    let clients = try a.int("clients") ?? 256
    let duration = try a.double("duration")
    let requests = try a.int("requests") ?? (duration == nil ? clients * 4 : Int.max)
    let models = (a.string("models") ?? "").split(separator: ",").map(String.init)
    let tokens = (a.string("tokens") ?? "").split(separator: ",").map(String.init)
    let maxTokens = try a.int("max-tokens") ?? 16
    let sampleEvery = try a.double("sample-seconds") ?? 1
    guard (1...4096).contains(clients), requests >= 1, !models.isEmpty else {
        throw UsageError("bench load needs --models a,b,... and 1...4096 --clients")
    }
    guard let pid = LoadClient.daemonPID(socketPath) else {
        throw CommandError("cannot connect to \(socketPath): is lorad running?")
    }
    log("load: \(clients) clients, \(duration.map { "\($0) s" } ?? "\(requests) requests") against pid \(pid) on \(socketPath)")

    struct Tally {
        var ok = 0, httpErrors = 0, streamErrors = 0, lost = 0, garbled = 0
        var latencies: [Double] = []
        var firstProblems: [String] = []
    }
    let tally = Mutex(Tally())
    let next = Mutex(0)
    let start = DispatchTime.now().uptimeNanoseconds
    let deadline = duration.map { start + UInt64($0 * 1e9) }
    var rss: [(t: Double, bytes: Int)] = []
    let group = DispatchGroup()
    for c in 0..<clients {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            while true {
                let i = next.withLock { n -> Int in defer { n += 1 }; return n }
                if i >= requests { return }
                if let deadline, DispatchTime.now().uptimeNanoseconds >= deadline { return }
                let model = models[(c + i) % models.count]
                let token = tokens.isEmpty ? nil : tokens[(c + i) % tokens.count]
                let t0 = DispatchTime.now().uptimeNanoseconds
                let outcome = LoadClient.streamOnce(socketPath, model: model, token: token, maxTokens: maxTokens,
                                                    prompt: "request \(i) from client \(c):")
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                tally.withLock { t in
                    switch outcome {
                    case .ok: t.ok += 1; t.latencies.append(seconds)
                    case .httpError(let why): t.httpErrors += 1; if t.firstProblems.count < 5 { t.firstProblems.append(why) }
                    case .streamError: t.streamErrors += 1
                    case .lost(let why): t.lost += 1; if t.firstProblems.count < 5 { t.firstProblems.append("lost: \(why)") }
                    case .garbled(let why): t.garbled += 1; if t.firstProblems.count < 5 { t.firstProblems.append("garbled: \(why)") }
                    }
                }
            }
        }
        thread.stackSize = 256 << 10
        thread.start()
    }
    while group.wait(timeout: .now() + sampleEvery) == .timedOut {
        if let bytes = LoadClient.rss(pid: pid) {
            rss.append((Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, bytes))
        }
    }
    if let bytes = LoadClient.rss(pid: pid) { rss.append((Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, bytes)) }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let t = tally.withLock { $0 }
    let sorted = t.latencies.sorted()
    func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))] }
    // Growth trend of RSS over the second half of the run (after warm-up), bytes per minute.
    let half = rss.filter { $0.t >= seconds / 2 }
    let slope = leastSquaresSlope(half.map(\.t), half.map { Double($0.bytes) }) * 60
    let result: [String: Any] = [
        "scenario": "load", "clients": clients, "seconds": seconds, "requests": t.ok + t.httpErrors + t.streamErrors + t.lost + t.garbled,
        "ok": t.ok, "http_errors": t.httpErrors, "stream_errors": t.streamErrors, "lost": t.lost, "garbled": t.garbled,
        "latency_p50_s": pct(0.5), "latency_p99_s": pct(0.99), "requests_per_s": Double(t.ok) / seconds,
        "rss_start_bytes": rss.first?.bytes ?? 0, "rss_end_bytes": rss.last?.bytes ?? 0,
        "rss_max_bytes": rss.map(\.bytes).max() ?? 0, "rss_trend_bytes_per_min": slope, "rss_samples": rss.count,
        "problems": t.firstProblems,
    ]
    if a.has("json") { try printBenchJSON(result) } else {
        print(String(format: """
            load  %d clients, %.0f s: %d ok, %d HTTP errors, %d stream errors, %d lost, %d garbled
              latency p50 %.3f s  p99 %.3f s   %.1f requests/s
              daemon RSS %d MiB -> %d MiB (max %d MiB), trend %+.2f MiB/min over the second half
            """, clients, seconds, t.ok, t.httpErrors, t.streamErrors, t.lost, t.garbled, pct(0.5), pct(0.99),
                     Double(t.ok) / seconds, (rss.first?.bytes ?? 0) >> 20, (rss.last?.bytes ?? 0) >> 20,
                     (rss.map(\.bytes).max() ?? 0) >> 20, slope / 1_048_576))
        for p in t.firstProblems { print("  " + p) }
    }
}

func leastSquaresSlope(_ x: [Double], _ y: [Double]) -> Double {
    guard x.count >= 2 else { return 0 }
    let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
    let num = zip(x, y).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
    let den = x.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
    return den == 0 ? 0 : num / den
}

/// One streaming client of `bench load`.
enum LoadClient {
    enum Outcome { case ok, httpError(String), streamError, lost(String), garbled(String) }

    static func connect(_ path: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { close(fd); return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else { close(fd); return nil }
        var tv = timeval(tv_sec: 300, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// The daemon's pid, from SO_PEERCRED on a connection to its socket.
    static func daemonPID(_ path: String) -> Int32? {
        guard let fd = connect(path) else { return nil }
        defer { close(fd) }
        var cred = [Int32](repeating: 0, count: 3)   // struct ucred: pid, uid, gid
        var len = socklen_t(12)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 else { return nil }
        return cred[0]
    }

    static func rss(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kb * 1024
    }

    static func streamOnce(_ path: String, model: String, token: String?, maxTokens: Int, prompt: String) -> Outcome {
        guard let fd = connect(path) else { return .lost("cannot connect") }
        defer { close(fd) }
        let body = (try? JSONSerialization.data(withJSONObject: ["model": model, "prompt": prompt, "max_tokens": maxTokens,
                                                                  "stream": true, "temperature": 0])) ?? Data()
        var head = "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        let bytes = Array((head + "\r\n").utf8) + Array(body)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return .lost("send failed") }
            off += n
        }
        var raw: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { return .lost("receive failed or timed out after \(raw.count) bytes") }
            if n == 0 { break }
            raw += buf[0..<n]
        }
        return check(raw)
    }

    /// Status line, chunked body, events that each parse, [DONE] (or one error event) at the end.
    static func check(_ raw: [UInt8]) -> Outcome {
        guard let end = find(raw, [13, 10, 13, 10]) else { return raw.isEmpty ? .lost("no response") : .garbled("no head") }
        let head = String(decoding: raw[..<end], as: UTF8.self)
        guard let status = Int(head.split(separator: " ").dropFirst().first ?? "") else { return .garbled("status line") }
        if status != 200 {
            let text = String(decoding: raw[(end + 4)...].prefix(300), as: UTF8.self)
            return .httpError("HTTP \(status): \(text)")
        }
        // De-chunk.
        var rest = Array(raw[(end + 4)...])
        var body: [UInt8] = []
        while true {
            guard let lineEnd = find(rest, [13, 10]),
                  let size = Int(String(decoding: rest[..<lineEnd], as: UTF8.self), radix: 16) else {
                return .lost("the chunked body ends early")
            }
            if size == 0 { break }
            guard rest.count >= lineEnd + 2 + size + 2 else { return .lost("a chunk is cut short") }
            body += rest[(lineEnd + 2)..<(lineEnd + 2 + size)]
            rest = Array(rest[(lineEnd + 4 + size)...])
        }
        let events = String(decoding: body, as: UTF8.self).components(separatedBy: "\n\n").filter { !$0.isEmpty }
        guard let last = events.last else { return .lost("no events") }
        for e in events.dropLast() {
            guard e.hasPrefix("data: "),
                  let o = try? JSONSerialization.jsonObject(with: Data(e.dropFirst(6).utf8)) as? [String: Any] else {
                return .garbled("an event is not JSON: \(e.prefix(80))")
            }
            if o["error"] != nil { return .streamError }
            guard o["choices"] is [[String: Any]] else { return .garbled("an event has no choices") }
        }
        guard last == "data: [DONE]" else { return .lost("the stream does not end with [DONE]") }
        return .ok
    }

    static func find(_ a: [UInt8], _ p: [UInt8]) -> Int? {
        guard a.count >= p.count else { return nil }
        for i in 0...(a.count - p.count) where a[i] == p[0] && Array(a[i..<(i + p.count)]) == p { return i }
        return nil
    }
}
