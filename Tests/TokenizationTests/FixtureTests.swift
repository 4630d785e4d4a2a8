import Foundation
import Testing
@testable import Tokenization

/// Every case of tokenizer_cases.json, for both fixture tokenizers: ids, tokens and decoded text identical to
/// Hugging Face's.
@Suite("Hugging Face reference cases")
struct FixtureTests {
    @Test("encode without special tokens", arguments: Fixture.tokenizerNames, Fixture.caseIds)
    func idsWithoutSpecial(name: String, caseId: Int) {
        let c = Fixture.testCase(caseId)
        let expected = c.results[name]!
        #expect(Fixture.tokenizer(name).encode(c.text, addSpecialTokens: false) == expected.ids)
    }

    @Test("encode with special tokens", arguments: Fixture.tokenizerNames, Fixture.caseIds)
    func idsWithSpecial(name: String, caseId: Int) {
        let c = Fixture.testCase(caseId)
        let expected = c.results[name]!
        #expect(Fixture.tokenizer(name).encode(c.text) == expected.ids_with_special)
    }

    @Test("tokens", arguments: Fixture.tokenizerNames, Fixture.caseIds)
    func tokens(name: String, caseId: Int) {
        let c = Fixture.testCase(caseId)
        let expected = c.results[name]!
        let t = Fixture.tokenizer(name)
        #expect(expected.ids.map { t.token(forId: $0) ?? "<missing>" } == expected.tokens)
        #expect(expected.tokens.map { t.id(forToken: $0) ?? -1 } == expected.ids)
    }

    @Test("decode", arguments: Fixture.tokenizerNames, Fixture.caseIds)
    func decode(name: String, caseId: Int) {
        let c = Fixture.testCase(caseId)
        let expected = c.results[name]!
        let t = Fixture.tokenizer(name)
        #expect(t.decode(expected.ids) == expected.decoded)
        #expect(t.decode(expected.ids_with_special, skipSpecialTokens: true) == expected.decoded_skip_special)
        #expect((t.decode(expected.ids) == c.text) == expected.roundtrip)
    }

    @Test("fixture tokenizer properties")
    func properties() throws {
        let llama3 = Fixture.tokenizer("bytelevel-llama3")
        #expect(llama3.vocabularySize == 2048)
        #expect(llama3.bosTokenId == 2037)
        #expect(llama3.eosTokenId == 2038)
        #expect(llama3.isSpecial(2046))
        #expect(!llama3.isSpecial(32))
        #expect(llama3.token(forId: 2046) == "<|eot_id|>")
        #expect(llama3.token(forId: 2048) == nil)
        #expect(llama3.token(forId: -1) == nil)
        #expect(llama3.chatTemplate == nil)

        let spm = Fixture.tokenizer("spm-llama2")
        #expect(spm.vocabularySize == 2048)
        #expect(spm.bosTokenId == 1)
        #expect(spm.eosTokenId == 2)
        #expect(spm.id(forToken: "<0x0A>") == 13)
        #expect(spm.isSpecial(0) && spm.isSpecial(1) && spm.isSpecial(2) && !spm.isSpecial(3))
    }
}
