import Foundation
import Tokenization

/// The model directory's tokenizer as `run` uses it: optional, so `--prompt-ids` works for a model without
/// tokenizer.json (text output is then omitted).
struct TextCodec {
    let tokenizer: Tokenizer?
    let loadError: String?

    init(directory: URL) throws {
        if modelHasTokenizer(directory) {
            tokenizer = try modelTokenizer(directory)
            loadError = nil
        } else {
            tokenizer = nil
            loadError = "\(directory.path) has no tokenizer.json"
        }
    }

    func encode(_ text: String) throws -> [Int] {
        guard let tokenizer else { throw CommandError("--prompt needs a tokenizer: \(loadError ?? "")") }
        return tokenizer.encode(text, addSpecialTokens: true)
    }

    func decode(_ ids: [Int]) -> String? { tokenizer?.decode(ids, skipSpecialTokens: true) }

    func streaming() -> StreamingDecoder? { tokenizer?.makeStreamingDecoder(skipSpecialTokens: true) }
}
