import Testing
import Wire

/// Request bodies the wire-json fuzzer (Fuzz/WireFuzz.swift, docs/fuzzing.md) found trapping the decoders; each
/// must now be a 400 naming the field.
@Suite struct FuzzRegressionTests {
    /// 2^63 (written out, or as a Double that rounds to it) passed the range check of an integer field whose range
    /// ends at Int.max, then trapped converting to Int.
    @Test(arguments: ["max_tokens", "seed", "n", "best_of"], ["9223372036854775808", "9.223372036854775807e18"])
    func completionIntegerAtTwoToThe63(_ field: String, _ number: String) {
        let body = #"{"model":"m","prompt":"x","\#(field)":\#(number)}"#
        #expect(refusal { try CompletionRequest(body: Array(body.utf8)) }?.message.hasPrefix("\"\(field)\" must be between") == true)
    }

    @Test func chatMaxCompletionTokensAtTwoToThe63() {
        let body = #"{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_completion_tokens":9223372036854775808}"#
        #expect(refusal { try ChatRequest(body: Array(body.utf8)) }?.message.hasPrefix("\"max_completion_tokens\" must be between") == true)
    }

    @Test func largestIntegersBelowTwoToThe63StillParse() throws {
        let body = #"{"model":"m","prompt":"x","max_tokens":9223372036854774784,"seed":-9223372036854775808}"#
        let request = try CompletionRequest(body: Array(body.utf8))
        #expect(request.options.maxTokens == 9_223_372_036_854_774_784)
        #expect(request.options.seed == UInt64(1) << 63)
    }

    /// Integers are read exactly, not through a Double: seeds above 2^53 stay distinct, Int64.max is a seed.
    @Test func integersAreExact() throws {
        func seed(_ text: String) throws -> UInt64? {
            try CompletionRequest(body: Array(#"{"model":"m","prompt":"x","seed":\#(text)}"#.utf8)).options.seed
        }
        #expect(try seed("9007199254740993") == 9_007_199_254_740_993)
        #expect(try seed("9007199254740992") == 9_007_199_254_740_992)
        #expect(try seed("9223372036854775807") == UInt64(Int64.max))
        #expect(try seed("-9223372036854775808") == UInt64(1) << 63)
        let body = #"{"model":"m","prompt":"x","max_tokens":9223372036854775807}"#
        #expect(try CompletionRequest(body: Array(body.utf8)).options.maxTokens == Int.max)
        let fraction = #"{"model":"m","prompt":"x","max_tokens":2.5}"#
        #expect(refusal { try CompletionRequest(body: Array(fraction.utf8)) }?.message == "\"max_tokens\" must be an integer")
    }

    /// The 400 a decoder threw, or nil (recorded as an issue) when it accepted the body or threw something else.
    private func refusal<T>(_ decode: () throws -> T, sourceLocation: SourceLocation = #_sourceLocation) -> APIError? {
        do {
            _ = try decode()
            Issue.record("the body was accepted", sourceLocation: sourceLocation)
        } catch let error as APIError {
            #expect(error.status == 400, sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }
}
