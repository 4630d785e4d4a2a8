import Foundation
import Testing
@testable import Tokenization

/// Small handwritten tokenizer.json documents covering stages the reference fixtures do not use; expected values
/// were produced by Hugging Face tokenizers (see GeneratedStageCases.swift and the script that writes it).
@Suite("Pipeline stages against Hugging Face")
struct StageTests {
    @Test("stage documents", arguments: StageCases.all)
    func stageCase(_ c: StageCases.Case) throws {
        let tokenizer = try makeTokenizer(c.document)
        for input in c.inputs {
            let ids = tokenizer.encode(input.text, addSpecialTokens: false)
            #expect(ids == input.ids, "\(c.name): ids of \(input.text.debugDescription)")
            #expect(ids.map { tokenizer.token(forId: $0) ?? "<missing>" } == input.tokens,
                    "\(c.name): tokens of \(input.text.debugDescription)")
            #expect(tokenizer.encode(input.text) == input.idsWithSpecial,
                    "\(c.name): ids with special tokens of \(input.text.debugDescription)")
            #expect(tokenizer.decode(input.ids) == input.decoded, "\(c.name): decode of \(input.text.debugDescription)")
            #expect(tokenizer.decode(input.idsWithSpecial, skipSpecialTokens: true) == input.decodedSkipSpecial,
                    "\(c.name): decode (skip special) of \(input.text.debugDescription)")
            // Streaming gives the same text.
            #expect(streamPieces(tokenizer, input.idsWithSpecial).joined()
                    == tokenizer.decode(input.idsWithSpecial), "\(c.name): streaming \(input.text.debugDescription)")
            #expect(streamPieces(tokenizer, input.idsWithSpecial, skipSpecialTokens: true).joined()
                    == input.decodedSkipSpecial, "\(c.name): streaming (skip special) \(input.text.debugDescription)")
        }
    }
}
