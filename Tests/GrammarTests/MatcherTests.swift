import Testing
@testable import Grammar

@Suite("Grammar matcher")
struct MatcherTests {
    let v = TestVocabularies.small

    func matcher(_ gbnf: String) throws -> GrammarMatcher {
        GrammarMatcher(grammar: try GrammarSpec.gbnf(gbnf).compile(), vocabulary: v)
    }

    @Test func masksFollowTheGrammar() throws {
        let m = try matcher(#"root ::= "a" ("b" | "cd")* "!""#)
        #expect(m.allowed() == [TestVocabularies.smallId("a"), TestVocabularies.smallId("ab"),
                                TestVocabularies.smallId("abc")].sorted())
        #expect(!m.accept(TestVocabularies.smallId("b")))
        #expect(m.accept(TestVocabularies.smallId("abc")))
        #expect(m.allowed() == [Int(UInt8(ascii: "d"))])
        #expect(m.forcedToken() == Int(UInt8(ascii: "d")))
        #expect(m.acceptBytes("d"))
        #expect(!m.canTerminate)
        #expect(m.acceptBytes("b!"))
        #expect(m.canTerminate)
        #expect(m.allowed() == [TestVocabularies.smallStop])
        #expect(m.accept(TestVocabularies.smallStop))
        #expect(m.isFinished)
        #expect(m.allowed().isEmpty)
    }

    @Test func rollbackRestoresEarlierStates() throws {
        let m = try matcher(#"root ::= "{" [a-z]+ "}""#)
        #expect(m.accept(TestVocabularies.smallId("{")))
        let before = m.allowed()
        #expect(m.accept(TestVocabularies.smallId("abc")))
        #expect(m.acceptBytes("x}"))
        #expect(m.canTerminate)
        m.rollback(3)
        #expect(m.acceptedCount == 1)
        #expect(m.allowed() == before)
        #expect(m.acceptablePrefix([TestVocabularies.smallId("ab"), Int(UInt8(ascii: "}")), Int(UInt8(ascii: "}"))]) == 2)
        #expect(m.acceptedCount == 1)
    }

    @Test func multiByteCharactersAcrossTokens() throws {
        // é is C3 A9: a token holding both bytes, or the two single-byte tokens, are legal; a lone A9 is not.
        let m = try matcher(#"root ::= [à-ÿ]+"#)
        #expect(m.allowed().contains(TestVocabularies.smallId("é")))
        #expect(!m.allowed().contains(0xA9))
        #expect(m.accept(0xC3))
        #expect(m.allowed() == Array(0xA0...0xBF))
        #expect(m.accept(0xA9))
        #expect(m.canTerminate)
    }

    @Test func stopTokenOnlyWhenComplete() throws {
        let m = GrammarMatcher(grammar: try GrammarSpec.jsonObject.compile(), vocabulary: v)
        #expect(!m.allowed().contains(TestVocabularies.smallStop))
        #expect(!m.accept(TestVocabularies.smallStop))
        #expect(m.accept(TestVocabularies.smallId("{\"")))
        #expect(m.acceptBytes("k"))
        #expect(m.accept(TestVocabularies.smallId("\":")))
        #expect(m.accept(TestVocabularies.smallId("null")))
        #expect(!m.canTerminate)
        #expect(m.acceptBytes("}"))
        #expect(m.canTerminate)
        #expect(m.allowed() == [TestVocabularies.smallStop])
    }

    @Test func maskMatchesAcceptOnARealVocabulary() throws {
        // Every token the mask allows is accepted, every other is refused, along a walked JSON document.
        let vocab = TestVocabularies.llama3
        let grammar = try GrammarSpec.jsonSchema(#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"array","items":{"type":"integer"}}},"required":["a","b"],"additionalProperties":false}"#, strict: true).compile()
        let ids = try #require(randomWalk(grammar, vocab, seed: 7))
        let m = GrammarMatcher(grammar: grammar, vocabulary: vocab)
        var random = TestRandom(seed: 3)
        for id in ids {
            let words = m.mask()
            for _ in 0..<300 {
                let t = Int(random.next() % UInt64(vocab.size))
                let allowed = words[t >> 6] & (1 << UInt64(t & 63)) != 0
                let accepted = m.accept(t)
                #expect(allowed == accepted, "token \(t) \(String(decoding: vocab.tokenBytes[t], as: UTF8.self).debugDescription)")
                if accepted { m.rollback(1) }
            }
            #expect(m.accept(id))
        }
    }
}

import TestSupport
