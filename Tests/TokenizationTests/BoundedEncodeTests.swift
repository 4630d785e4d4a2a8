import Foundation
import Testing
import TestSupport
@testable import Tokenization

/// Encoding untrusted text in bounded work (issue 21, items 3 and 7): a split regex that backtracks
/// exponentially stops at its step budget with an error naming it, and an abandoned encode stops early.
@Suite struct BoundedEncodeTests {
    static let bomb = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a|a)*b"}, "behavior": "Isolated"}}"#

    @Test func backtrackingSplitRegexIsRefusedQuickly() throws {
        let t = try makeTokenizer(Self.bomb)
        let prompt = String(repeating: "a", count: 64)   // unbounded: 2^64 steps; issue 21 saw 26.5 s at 64
        let start = ContinuousClock.now
        do {
            _ = try t.encode(prompt, addSpecialTokens: false, isCancelled: { false })
            Issue.record("the bomb was not refused")
        } catch let e as TokenizerError {
            #expect(e.message.contains(#"split regex "(a|a)*b" took more than its step budget"#), "\(e)")
        }
        // The unchecked form stays bounded too (the rest of the text is left unsplit).
        #expect(t.encode(prompt, addSpecialTokens: false).count == 64)
        #expect(ContinuousClock.now - start < .seconds(2))
        // Text the regex handles in ordinary time is unaffected.
        #expect(try t.encode("aab", addSpecialTokens: false, isCancelled: { false }) == [0, 2])
    }

    @Test func cancelledEncodeStopsEarly() throws {
        let t = try Tokenizer.load(directory: Fixtures.tinyLlama)
        let text = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 200_000)   // 9 MB
        let start = ContinuousClock.now
        #expect(throws: EncodeCancelled.self) {
            _ = try t.encode(text, addSpecialTokens: false, isCancelled: { ContinuousClock.now - start > .milliseconds(20) })
        }
        // Not cancelled, the same call tokenizes it all: the early stop above was the cancellation.
        let some = try t.encode(String(text.prefix(4500)), addSpecialTokens: false, isCancelled: { false })
        #expect(some.count > 900)
    }
}
