import Foundation
import Testing
@testable import Tokenization

/// The streaming decoder: its pieces concatenate to `decode`, each piece is whole characters sitting exactly where
/// `decode` has them, and text comes out as soon as it is final.
@Suite("Streaming decoder")
struct StreamingTests {
    /// Checks that `pieces` concatenate to `full` and that each piece is the bytes of `full` at its offset (so no
    /// piece carries a U+FFFD, or any character, that `decode` does not have at that place).
    static func checkPieces(_ pieces: [String], equal full: String, _ label: String) {
        let fullBytes = Array(full.utf8)
        var offset = 0
        for (i, piece) in pieces.enumerated() {
            let bytes = Array(piece.utf8)
            guard offset + bytes.count <= fullBytes.count,
                  fullBytes[offset..<(offset + bytes.count)].elementsEqual(bytes) else {
                Issue.record("\(label): piece \(i) \(piece.debugDescription) is not at byte \(offset) of \(full.debugDescription)")
                return
            }
            offset += bytes.count
        }
        #expect(offset == fullBytes.count, "\(label): pieces cover \(offset) of \(fullBytes.count) bytes")
    }

    @Test("fixture cases stream to the full decode", arguments: Fixture.tokenizerNames, Fixture.caseIds)
    func fixtureCases(name: String, caseId: Int) {
        let t = Fixture.tokenizer(name)
        let ids = Fixture.testCase(caseId).results[name]!.ids_with_special
        for skip in [false, true] {
            StreamingTests.checkPieces(streamPieces(t, ids, skipSpecialTokens: skip),
                                       equal: t.decode(ids, skipSpecialTokens: skip), "\(name) case \(caseId) skip \(skip)")
        }
    }

    /// Byte-level: after every id the text so far is exactly the decode of the ids so far, minus an incomplete
    /// UTF-8 sequence at the end (nothing final is held back, nothing unfinished is let out).
    @Test("byte-level output is eager and never splits a character", arguments: Fixture.caseIds)
    func byteLevelEager(caseId: Int) {
        let t = Fixture.tokenizer("bytelevel-llama3")
        let ids = Fixture.testCase(caseId).results["bytelevel-llama3"]!.ids_with_special
        let decoder = t.makeStreamingDecoder()
        var emitted = ""
        var bytes: [UInt8] = []
        for id in ids {
            emitted += decoder.append(id)
            ByteLevelDecoder.appendBytes(of: t.token(forId: id)!, to: &bytes)
            #expect(emitted == UTF8Repairer.decode(Array(bytes.dropLast(incompleteTail(bytes)))))
        }
        emitted += decoder.finish()
        #expect(emitted == t.decode(ids))
    }

    /// Length of a trailing incomplete (but so far valid) UTF-8 sequence.
    func incompleteTail(_ bytes: [UInt8]) -> Int {
        var i = bytes.count - 1
        var continuation = 0
        while i >= 0 && bytes[i] & 0xC0 == 0x80 && continuation < 3 { i -= 1; continuation += 1 }
        guard i >= 0 else { return 0 }
        let lead = bytes[i]
        let need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0
        return need > continuation ? continuation + 1 : 0
    }

    /// SentencePiece style: the text so far is the decode of the ids so far, except while a run of byte tokens is
    /// open (held back whole).
    @Test("byte-fallback output holds only open byte runs", arguments: Fixture.caseIds)
    func byteFallbackRuns(caseId: Int) {
        let t = Fixture.tokenizer("spm-llama2")
        let ids = Fixture.testCase(caseId).results["spm-llama2"]!.ids_with_special
        let decoder = t.makeStreamingDecoder()
        var emitted = ""
        var runStart: Int?
        for (k, id) in ids.enumerated() {
            emitted += decoder.append(id)
            let isByte = ByteFallbackDecoder.byteValue(t.token(forId: id)!) != nil
            if isByte {
                if runStart == nil { runStart = k }
                #expect(emitted == t.decode(Array(ids[..<runStart!])))
            } else {
                runStart = nil
                #expect(emitted == t.decode(Array(ids[...k])))
            }
        }
        emitted += decoder.finish()
        #expect(emitted == t.decode(ids))
    }

    @Test("random id sequences", arguments: Fixture.tokenizerNames)
    func randomIds(name: String) {
        let t = Fixture.tokenizer(name)
        var rng = SplitMix64(seed: 42)
        for round in 0..<400 {
            let count = Int.random(in: 0...40, using: &rng)
            var ids: [Int] = (0..<count).map { _ in Int.random(in: 0..<t.vocabularySize, using: &rng) }
            if round % 10 == 0 { ids.insert(Int.random(in: 5000...9000, using: &rng), at: 0) }   // unknown id
            if round % 7 == 0 { ids.append(-3) }
            for skip in [false, true] {
                StreamingTests.checkPieces(streamPieces(t, ids, skipSpecialTokens: skip),
                                           equal: t.decode(ids, skipSpecialTokens: skip), "\(name) \(ids)")
            }
        }
    }

    @Test("a decoder is reusable after finish")
    func reuse() {
        let t = Fixture.tokenizer("spm-llama2")
        let decoder = t.makeStreamingDecoder()
        for text in ["Hello world", "😀 again", "third"] {
            let ids = t.encode(text, addSpecialTokens: false)
            var out = ""
            for id in ids { out += decoder.append(id) }
            out += decoder.finish()
            #expect(out == text)
        }
    }

    @Test("an emoji split over byte tokens comes out whole")
    func emojiBytes() {
        let t = Fixture.tokenizer("bytelevel-llama3")
        let ids = t.encode("😀", addSpecialTokens: false)
        #expect(ids.count > 1)
        let decoder = t.makeStreamingDecoder()
        let pieces = ids.map { decoder.append($0) }
        #expect(pieces.dropLast().allSatisfy { $0.isEmpty })
        #expect(pieces.last == "😀")
        #expect(decoder.finish() == "")
    }

    /// Small documents for decoder chains the fixtures do not have: trailing Strip after Fuse, a multi-character
    /// Replace after Fuse, BPEDecoder, Metaspace, a regex Replace after Fuse (decoded at finish) and no decoder.
    @Test("other decoder chains stream exactly", arguments: [
        #"{"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "Strip", "content": "x", "start": 2, "stop": 3}]}"#,
        #"{"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "Replace", "pattern": {"String": "xyx"}, "content": "-"}]}"#,
        #"{"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "x"}, "content": "é"}, {"type": "Fuse"}, {"type": "Replace", "pattern": {"String": "éyé"}, "content": "+"}, {"type": "Strip", "content": "é", "start": 1, "stop": 1}]}"#,
        #"{"type": "BPEDecoder", "suffix": "y"}"#,
        #"{"type": "Metaspace", "replacement": "x", "prepend_scheme": "always", "split": true}"#,
        #"{"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "Replace", "pattern": {"Regex": "x+"}, "content": "_"}]}"#,
        #"{"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Strip", "content": "x", "start": 1, "stop": 1}]}"#,
        "null",
    ])
    func otherChains(decoder: String) throws {
        let vocab = #"{"x": 0, "y": 1, "xy": 2, "yx": 3, "xyx": 4, "a": 5, "<0xC3>": 6, "<0xA9>": 7, "<0x80>": 8, "xx": 9}"#
        let json = #"{"model": {"type": "BPE", "vocab": \#(vocab), "merges": []}, "decoder": \#(decoder)}"#
        let t = try makeTokenizer(json)
        var rng = SplitMix64(seed: 3)
        for _ in 0..<300 {
            let ids = (0..<Int.random(in: 0...12, using: &rng)).map { _ in Int.random(in: 0...9, using: &rng) }
            StreamingTests.checkPieces(streamPieces(t, ids), equal: t.decode(ids), "\(decoder) \(ids)")
        }
    }
}
