import Foundation
import GGUF
import Model
import Tokenization

/// The tokenizer of a model: tokenizer.json (+ tokenizer_config.json) of a Hugging Face directory, or the
/// `tokenizer.ggml.*` metadata and chat template of a GGUF file.
func modelTokenizer(_ model: URL) throws -> Tokenizer {
    guard let path = try ModelFiles.gguf(at: model) else { return try Tokenizer.load(directory: model) }
    do {
        let files = try GGUFTokenizerFiles(try GGUFFile(url: path))
        return try Tokenizer(tokenizerJSON: files.tokenizerJSON, configJSON: files.configJSON)
    } catch let e as GGUFError {
        throw CommandError("cannot load the tokenizer of \(path.path): \(e.description)")
    } catch let e as TokenizerError {
        throw CommandError("cannot load the tokenizer of \(path.path): \(e.description)")
    }
}

/// True when `model` has a tokenizer lorad can look for (tokenizer.json, or a GGUF file).
func modelHasTokenizer(_ model: URL) -> Bool {
    ((try? ModelFiles.gguf(at: model)) ?? nil) != nil
        || FileManager.default.fileExists(atPath: model.appendingPathComponent("tokenizer.json").path)
}
