// libFuzzer harness: the incremental HTTP/1.1 request parser (RequestParser + RequestHead), compiled into the
// HTTPServer module. Input: byte 0 picks the split pattern (bits 0-6) and the limits (bit 7 set: tight limits that
// make every refusal reachable with short inputs; clear: the server's default limits); the rest is what a client
// sent on one connection. The stream is fed once whole and once in pseudo-random pieces (1 byte up to 1 KiB);
// both feeds must report the same heads, requests and refusal, since TCP may split bytes anywhere.

enum HTTPParserFuzz {
    static let defaultLimits: RequestParser.Limits = {
        let c = HTTPServerConfiguration()
        return RequestParser.Limits(maxHeaderBytes: c.maxHeaderBytes, maxHeaderCount: c.maxHeaderCount,
                                    maxBodyBytes: c.maxBodyBytes)
    }()
    static let tightLimits = RequestParser.Limits(maxHeaderBytes: 200, maxHeaderCount: 6, maxBodyBytes: 64,
                                                  maxChunkLineBytes: 12)

    /// Feeds `stream` in pieces of the sizes `piece` returns and drives the parser as the server loop does
    /// (next() until it needs more); returns every event as text. Stops at the first refusal.
    static func events(_ stream: [UInt8], limits: RequestParser.Limits, piece: () -> Int) -> [String] {
        var parser = RequestParser(limits: limits)
        var input = ByteQueue()
        var log: [String] = []
        var offset = 0
        while offset < stream.count {
            let n = min(piece(), stream.count - offset)
            stream.withUnsafeBytes { input.append(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
            offset += n
            parsing: while true {
                switch parser.next(&input) {
                case .needMore:
                    break parsing
                case .head(let head):
                    fuzzCheck(parser.isReadingBody, "a head with a body to follow left the parser reading no body")
                    log.append("head " + describe(head))
                case .complete(let head, let body):
                    fuzzCheck(body.count <= limits.maxBodyBytes, "a body of \(body.count) bytes passed the limit")
                    if case .length(let n) = head.framing { fuzzCheck(body.count == n, "Content-Length \(n), body \(body.count)") }
                    let request = HTTPRequest(method: head.method, target: head.target, version: head.version,
                                              headers: head.headers, body: body)
                    fuzzCheck(request.path.utf8.count <= head.target.utf8.count + 1, "path longer than its target")
                    log.append("complete " + describe(head) + " body \(body)")
                case .failure(let error):
                    fuzzCheck([400, 413, 417, 431, 501, 505].contains(error.status), "refusal status \(error.status)")
                    log.append("failure \(error.status) \(error.message)")
                    if case .needMore = parser.next(&input) {} else { fuzzCheck(false, "a failed parser reported more") }
                    return log
                }
            }
        }
        return log
    }

    static func describe(_ head: RequestHead) -> String {
        let fields = head.headers.fields.map { "\($0.name): \($0.value)" }.joined(separator: " | ")
        return "\(head.method) \(head.target) \(head.version) \(head.framing) keepAlive \(head.keepAlive) "
            + "continue \(head.expectsContinue) [\(fields)]"
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func httpParserFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    guard let control = bytes.first else { return 0 }
    let stream = Array(bytes.dropFirst())
    let limits = control & 0x80 != 0 ? HTTPParserFuzz.tightLimits : HTTPParserFuzz.defaultLimits
    let whole = HTTPParserFuzz.events(stream, limits: limits) { Int.max }
    var random = FuzzRandom(seed: UInt64(control & 0x7F))
    // Mostly short pieces (1 to 16 bytes), some up to 1 KiB.
    let split = HTTPParserFuzz.events(stream, limits: limits) {
        random.next() % 4 == 0 ? random.size(upTo: 1024) : random.size(upTo: 16)
    }
    fuzzCheck(whole == split, "the events depend on how the input was split:\n  whole: \(whole)\n  split: \(split)")
    return 0
}
