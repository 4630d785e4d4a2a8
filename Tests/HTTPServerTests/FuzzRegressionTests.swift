import Testing
@testable import HTTPServer

/// Inputs the http-parser fuzzer (Fuzz/HTTPParserFuzz.swift, docs/fuzzing.md) found: the parser must report the
/// same requests and refusals however TCP splits the bytes.
@Suite struct FuzzRegressionTests {
    static let serverLimits: RequestParser.Limits = {
        let c = HTTPServerConfiguration()
        return RequestParser.Limits(maxHeaderBytes: c.maxHeaderBytes, maxHeaderCount: c.maxHeaderCount,
                                    maxBodyBytes: c.maxBodyBytes)
    }()

    /// Feeds the pieces in order and reports what the parser said: a request's body, a refusal's message, or
    /// "need more" when it ends waiting.
    private func outcome(_ pieces: [[UInt8]], limits: RequestParser.Limits) -> String {
        var parser = RequestParser(limits: limits)
        var input = ByteQueue()
        for piece in pieces {
            input.append(piece)
            parsing: while true {
                switch parser.next(&input) {
                case .needMore: break parsing
                case .head: continue
                case .complete(_, let body): return "body " + String(decoding: body, as: UTF8.self)
                case .failure(let error): return "\(error.status) \(error.message)"
                }
            }
        }
        return "need more"
    }

    /// A request with one chunk, "hello", whose size line is "5;" and `extensionBytes` x's; and where that line ends.
    private func chunked(extensionBytes: Int) -> (bytes: [UInt8], lineEnd: Int) {
        let head = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;" + String(repeating: "x", count: extensionBytes)
        return (Array((head + "\r\nhello\r\n0\r\n\r\n").utf8), head.utf8.count)
    }

    /// A chunk-size line of exactly maxChunkLineBytes was refused as too long when its last byte or its CR had
    /// arrived and its LF had not. One byte longer, it is refused wherever the bytes are cut.
    @Test(arguments: [(0, "body hello"), (1, "400 chunk size line too long")])
    func chunkSizeLineAtAndOverTheLimitHoweverSplit(_ overLimit: Int, _ expected: String) {
        let limits = Self.serverLimits
        let (bytes, lineEnd) = chunked(extensionBytes: limits.maxChunkLineBytes - 2 + overLimit)
        #expect(outcome([bytes], limits: limits) == expected)
        for cut in [lineEnd - 1, lineEnd, lineEnd + 1] {
            #expect(outcome([Array(bytes[..<cut]), Array(bytes[cut...])], limits: limits) == expected, "cut after \(cut) bytes")
        }
    }

    /// No LF yet: waiting while a line at the limit and its CR may still end; refused one byte later.
    @Test func chunkSizeLineWithoutLFIsRefusedPastTheLimitAndItsCR() {
        let limits = Self.serverLimits
        let (bytes, lineEnd) = chunked(extensionBytes: limits.maxChunkLineBytes - 1)
        #expect(outcome([Array(bytes[..<lineEnd])], limits: limits) == "need more")
        #expect(outcome([Array(bytes[...lineEnd])], limits: limits) == "400 chunk size line too long")
    }

    /// The fuzzer's input (its control byte dropped), with the harness's tight limits: 12-byte chunk lines.
    @Test func fuzzerInputWithTightLimits() {
        let limits = RequestParser.Limits(maxHeaderBytes: 200, maxHeaderCount: 6, maxBodyBytes: 64, maxChunkLineBytes: 12)
        let bytes = Array("POT s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;nOptionalo\r\n".utf8)
        #expect(outcome([bytes], limits: limits) == "need more")
        #expect(outcome(bytes.map { [$0] }, limits: limits) == "need more")
        #expect(outcome([bytes + Array("hello\r\n0\r\n\r\n".utf8)], limits: limits) == "body hello")
    }
}
