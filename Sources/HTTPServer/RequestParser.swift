/// Incremental HTTP/1.1 request parser: feed it the connection's input, it consumes bytes and reports heads,
/// complete requests and errors. Every length it buffers is bounded by `Limits` (input is hostile).
///   head:   request line + headers, at most maxHeaderBytes (431) and maxHeaderCount lines (431)
///   body:   Content-Length or chunked, at most maxBodyBytes in total (413)
///   chunk:  size lines at most maxChunkLineBytes (400); trailers share the header limit and are dropped
struct RequestParser {
    struct Limits {
        var maxHeaderBytes: Int
        var maxHeaderCount: Int
        var maxBodyBytes: Int
        var maxChunkLineBytes = 4096
    }

    enum Event {
        /// Nothing complete yet; read more.
        case needMore
        /// A head with a body to follow (the caller may send 100 Continue); the next calls read the body.
        case head(RequestHead)
        /// A whole request. The parser is ready for the next one.
        case complete(RequestHead, [UInt8])
        /// A request that must be refused; the parser stays failed.
        case failure(RequestError)
    }

    private enum State: Equatable {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case failed
    }

    let limits: Limits
    private var state = State.head
    /// Head bytes examined so far (relative to the input's start), and where the current line began.
    private var scanned = 0
    private var lineStart = 0
    private var lineCount = 0
    private var sawRequestLine = false
    private var trailerBytes = 0
    private var head: RequestHead?
    private var body: [UInt8] = []

    init(limits: Limits) { self.limits = limits }

    /// Between requests, with no byte of the next one examined.
    var isIdle: Bool { state == .head && scanned == 0 }
    /// Reading the body of a request whose head was reported.
    var isReadingBody: Bool { state != .head && state != .failed }

    mutating func next(_ input: inout ByteQueue) -> Event {
        switch state {
        case .failed: return .needMore
        case .head: return parseHead(&input)
        default: return parseBody(&input)
        }
    }

    private mutating func fail(_ error: RequestError) -> Event {
        state = .failed
        head = nil
        body = []
        return .failure(error)
    }

    // MARK: head

    private mutating func parseHead(_ input: inout ByteQueue) -> Event {
        let limit = limits.maxHeaderBytes, maxLines = limits.maxHeaderCount + 1
        var end: Int?
        var tooLarge: RequestError?
        input.withBytes { bytes in
            while scanned < bytes.count {
                if scanned >= limit {
                    tooLarge = .headersTooLarge("request header block exceeds \(limit) bytes")
                    return
                }
                let c = bytes[scanned]
                scanned += 1
                guard c == LF else { continue }
                let lineLength = scanned - 1 - lineStart - (scanned - 1 > lineStart && bytes[scanned - 2] == CR ? 1 : 0)
                lineStart = scanned
                if lineLength == 0 {
                    if sawRequestLine { end = scanned; return }
                    continue   // blank lines before the request line are ignored (they count toward the limit)
                }
                sawRequestLine = true
                lineCount += 1
                if lineCount > maxLines {
                    tooLarge = .headersTooLarge("more than \(limits.maxHeaderCount) header fields")
                    return
                }
            }
        }
        if let tooLarge { return fail(tooLarge) }
        guard let end else { return .needMore }

        let parsed = input.withBytes { RequestHead.parse(UnsafeRawBufferPointer(rebasing: $0[0..<end]),
                                                         maxBodyBytes: limits.maxBodyBytes) }
        input.consume(end)
        scanned = 0
        lineStart = 0
        lineCount = 0
        sawRequestLine = false
        switch parsed {
        case .failure(let error):
            return fail(error)
        case .success(let parsedHead):
            switch parsedHead.framing {
            case .none:
                return .complete(parsedHead, [])
            case .length(let n):
                head = parsedHead
                body = []
                body.reserveCapacity(min(n, 64 * 1024))
                state = .fixedBody(remaining: n)
                return .head(parsedHead)
            case .chunked:
                head = parsedHead
                body = []
                trailerBytes = 0
                state = .chunkSize
                return .head(parsedHead)
            }
        }
    }

    // MARK: body

    private mutating func parseBody(_ input: inout ByteQueue) -> Event {
        while true {
            switch state {
            case .fixedBody(let remaining):
                let left = takeBody(&input, upTo: remaining)
                if left > 0 {
                    state = .fixedBody(remaining: left)
                    return .needMore
                }
                return finish()

            case .chunkSize:
                guard let line = takeLine(&input) else {
                    // A line at the limit may be buffered with its CR and without its LF yet: max + 1 bytes.
                    if input.count >= limits.maxChunkLineBytes + 2 { return fail(.badRequest("chunk size line too long")) }
                    return .needMore
                }
                guard line.count <= limits.maxChunkLineBytes else {
                    return fail(.badRequest("chunk size line too long"))
                }
                switch chunkSize(line) {
                case .failure(let error): return fail(error)
                case .success(0): state = .trailers
                case .success(let size):
                    guard size <= limits.maxBodyBytes - body.count else {
                        return fail(.bodyTooLarge(limit: limits.maxBodyBytes))
                    }
                    state = .chunkData(remaining: size)
                }

            case .chunkData(let remaining):
                let left = takeBody(&input, upTo: remaining)
                if left > 0 {
                    state = .chunkData(remaining: left)
                    return .needMore
                }
                state = .chunkDataEnd

            case .chunkDataEnd:
                // CRLF (or a bare LF) after the chunk data.
                guard input.count >= 1 else { return .needMore }
                let first = input.withBytes { $0[0] }
                if first == LF {
                    input.consume(1)
                } else if first == CR {
                    guard input.count >= 2 else { return .needMore }
                    guard input.withBytes({ $0[1] }) == LF else { return fail(.badRequest("malformed chunk ending")) }
                    input.consume(2)
                } else {
                    return fail(.badRequest("chunk data longer than its size"))
                }
                state = .chunkSize

            case .trailers:
                guard let line = takeLine(&input) else {
                    if trailerBytes + input.count > limits.maxHeaderBytes {
                        return fail(.headersTooLarge("trailer section exceeds \(limits.maxHeaderBytes) bytes"))
                    }
                    return .needMore
                }
                if line.isEmpty { return finish() }
                trailerBytes += line.count + 2
                if trailerBytes > limits.maxHeaderBytes {
                    return fail(.headersTooLarge("trailer section exceeds \(limits.maxHeaderBytes) bytes"))
                }

            case .head, .failed:
                return .needMore
            }
        }
    }

    /// Moves up to `remaining` body bytes from the input into `body`; returns how many are still to come.
    private mutating func takeBody(_ input: inout ByteQueue, upTo remaining: Int) -> Int {
        let n = min(remaining, input.count)
        if n > 0 {
            input.withBytes { body.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            input.consume(n)
        }
        return remaining - n
    }

    private mutating func finish() -> Event {
        let complete = Event.complete(head!, body)
        head = nil
        body = []
        state = .head
        return complete
    }

    /// Takes one line (without CRLF/LF) when a whole one is buffered. Lines are looked for only within
    /// maxChunkLineBytes (+2 for the ending), so a missing LF costs a bounded scan.
    private func takeLine(_ input: inout ByteQueue) -> [UInt8]? {
        let window = min(input.count, max(limits.maxChunkLineBytes, limits.maxHeaderBytes) + 2)
        let line: [UInt8]? = input.withBytes { bytes in
            guard let lf = bytes[0..<window].firstIndex(of: LF) else { return nil }
            let end = lf > 0 && bytes[lf - 1] == CR ? lf - 1 : lf
            return Array(bytes[0..<end])
        }
        guard let line else { return nil }
        // Consume the line and its ending (CRLF or LF).
        let ending = input.withBytes { bytes in bytes[line.count] == CR ? 2 : 1 }
        input.consume(line.count + ending)
        return line
    }

    /// chunk-size [ BWS ";" chunk-ext ]: hex digits, extensions ignored. Sizes past the body limit are 413.
    private func chunkSize(_ line: [UInt8]) -> Result<Int, RequestError> {
        var size = 0, digits = 0, i = 0
        while i < line.count, let d = hexValue(line[i]) {
            size = size * 16 + d
            digits += 1
            if size > limits.maxBodyBytes { return .failure(.bodyTooLarge(limit: limits.maxBodyBytes)) }
            i += 1
        }
        guard digits > 0 else { return .failure(.badRequest("malformed chunk size")) }
        while i < line.count, line[i] == SP || line[i] == HTAB { i += 1 }
        guard i == line.count || line[i] == UInt8(ascii: ";") else {
            return .failure(.badRequest("malformed chunk size"))
        }
        return .success(size)
    }

    private func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: return Int(c - 48)
        case 65...70: return Int(c - 55)
        case 97...102: return Int(c - 87)
        default: return nil
        }
    }
}
