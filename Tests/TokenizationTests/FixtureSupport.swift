import Foundation
import TestSupport
@testable import Tokenization

/// tokenizer_cases.json: reference outputs from Hugging Face transformers/tokenizers (see Tests/Fixtures/README.md).
struct FixtureFile: Decodable {
    struct Result: Decodable {
        let ids: [Int]
        let ids_with_special: [Int]
        let tokens: [String]
        let decoded: String
        let decoded_skip_special: String
        let roundtrip: Bool
    }
    struct Case: Decodable {
        let id: Int
        let category: String
        let text: String
        let results: [String: Result]
    }
    let cases: [Case]
}

enum Fixture {
    static let tokenizerNames = ["bytelevel-llama3", "spm-llama2"]

    static let file: FixtureFile = {
        do {
            return try JSONDecoder().decode(FixtureFile.self, from: Data(contentsOf: Fixtures.tokenizerCases))
        } catch {
            fatalError("cannot read \(Fixtures.tokenizerCases.path): \(error)")
        }
    }()

    static var caseIds: [Int] { file.cases.map(\.id) }

    static func testCase(_ id: Int) -> FixtureFile.Case {
        file.cases.first { $0.id == id }!
    }

    static let tokenizers: [String: Tokenizer] = {
        var out: [String: Tokenizer] = [:]
        for name in tokenizerNames {
            do {
                out[name] = try Tokenizer.load(directory: Fixtures.tokenizers.appendingPathComponent(name))
            } catch {
                fatalError("cannot load tokenizer \(name): \(error)")
            }
        }
        return out
    }()

    static func tokenizer(_ name: String) -> Tokenizer { tokenizers[name]! }
}

/// A tokenizer from an inline tokenizer.json document.
func makeTokenizer(_ json: String, config: String? = nil) throws -> Tokenizer {
    try Tokenizer(tokenizerJSON: Data(json.utf8), configJSON: config.map { Data($0.utf8) })
}

/// Streams `ids` through a streaming decoder; returns the pieces (one per append, then finish).
func streamPieces(_ tokenizer: Tokenizer, _ ids: [Int], skipSpecialTokens: Bool = false) -> [String] {
    let decoder = tokenizer.makeStreamingDecoder(skipSpecialTokens: skipSpecialTokens)
    var pieces = ids.map { decoder.append($0) }
    pieces.append(decoder.finish())
    return pieces
}
