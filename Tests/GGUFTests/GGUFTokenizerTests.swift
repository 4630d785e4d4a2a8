import Foundation
import GGUF
import Testing
import TestSupport
import Tokenization

/// The tokenizer written into a GGUF file by llama.cpp's converter, read back through `GGUFTokenizerFiles`, must
/// tokenize the shared cases exactly as Hugging Face's tokenizer of the same model.
@Suite struct GGUFTokenizerTests {
    struct Cases: Decodable {
        struct Result: Decodable {
            let ids: [Int]
            let ids_with_special: [Int]
            let decoded: String
        }
        struct Case: Decodable {
            let id: Int
            let text: String
            let results: [String: Result]
        }
        let cases: [Case]
    }

    static let cases: Cases = {
        do { return try JSONDecoder().decode(Cases.self, from: Data(contentsOf: Fixtures.tokenizerCases)) }
        catch { fatalError("\(error)") }
    }()

    static let tokenizer: Tokenizer = {
        do {
            let file = try GGUFFile(url: Fixtures.directory.appendingPathComponent("gguf/tiny-llama-bf16.gguf"))
            let files = try GGUFTokenizerFiles(file)
            return try Tokenizer(tokenizerJSON: files.tokenizerJSON, configJSON: files.configJSON)
        } catch { fatalError("\(error)") }
    }()

    @Test func idsMatchHuggingFaceOnEveryCase() {
        var mismatches: [Int] = []
        for c in Self.cases.cases {
            let expected = c.results["bytelevel-llama3"]!
            let ids = Self.tokenizer.encode(c.text, addSpecialTokens: false)
            let withSpecial = Self.tokenizer.encode(c.text, addSpecialTokens: true)
            if ids != expected.ids || withSpecial != expected.ids_with_special
                || Self.tokenizer.decode(ids) != expected.decoded {
                mismatches.append(c.id)
            }
        }
        #expect(mismatches.isEmpty, "cases \(mismatches) differ from Hugging Face")
        #expect(Self.tokenizer.bosTokenId == 2037 && Self.tokenizer.eosTokenId == 2038)
    }

    static func file(_ metadata: [(String, GGUFValue)]) throws -> GGUFFile {
        var w = GGUFWriter()
        for (k, v) in metadata { w.add(k, v) }
        let dir = try Fixtures.temporaryDirectory()
        let url = dir.appendingPathComponent("t.gguf")
        try w.write(to: url)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try GGUFFile(url: url)
    }

    static let tokens: (String, GGUFValue) = ("tokenizer.ggml.tokens", .array(elementType: 8, [.string("a"), .string("b"), .string("ab")]))
    static let merges: (String, GGUFValue) = ("tokenizer.ggml.merges", .array(elementType: 8, [.string("a b")]))

    @Test func unknownPreTokenizerIsRefusedByName() throws {
        let f = try Self.file([("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("deepseek-coder")),
                               Self.tokens, Self.merges])
        let e = #expect(throws: GGUFError.self) { _ = try GGUFTokenizerFiles(f) }
        #expect(e?.description.contains("pre-tokenizer \"deepseek-coder\"") == true)
    }

    @Test func unknownModelAndBadIdsAreRefused() throws {
        let f = try Self.file([("tokenizer.ggml.model", .string("bert")), Self.tokens])
        #expect(throws: GGUFError("tokenizer model \"bert\" (metadata \"tokenizer.ggml.model\") is not supported (gpt2 and llama are)")) {
            _ = try GGUFTokenizerFiles(f)
        }
        let g = try Self.file([("tokenizer.ggml.model", .string("gpt2")), Self.tokens, Self.merges,
                               ("tokenizer.ggml.bos_token_id", .uint32(7))])
        #expect(throws: GGUFError("metadata \"tokenizer.ggml.bos_token_id\" = 7 is outside the 3-token vocabulary")) {
            _ = try GGUFTokenizerFiles(g)
        }
    }

    /// Each known pre-tokenizer name gives a tokenizer lorad can build (the patterns parse).
    @Test(arguments: GGUFTokenizerFiles.preTokenizers)
    func everyKnownPreTokenizerBuilds(_ pre: String) throws {
        let f = try Self.file([("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string(pre)),
                               Self.tokens, Self.merges])
        let files = try GGUFTokenizerFiles(f)
        let t = try Tokenizer(tokenizerJSON: files.tokenizerJSON, configJSON: files.configJSON)
        #expect(t.encode("ab", addSpecialTokens: false) == [2])
    }
}
