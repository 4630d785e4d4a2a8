import Foundation
import GGUF
import Safetensors

/// A model loaded for serving: its config, generation config and the forward pass over its weights. From a Hugging
/// Face directory (config.json + safetensors) or a GGUF file (`ModelFiles.gguf` finds one in a directory).
public final class LoadedModel: Sendable {
    public let directory: URL
    public let config: ModelConfig
    public let generation: GenerationConfig
    public let transformer: Transformer
    /// The GGUF file the model came from (nil for safetensors models). Quantized weights are read from its mapping.
    public let gguf: GGUFFile?

    /// `directory`: a Hugging Face model directory, a `.gguf` file, or a directory holding one `.gguf` file.
    /// `precision`: how the projections are held (`.asStored` keeps BF16 weights BF16).
    public init(directory: URL, precision: WeightPrecision = .asStored, blockTokens: Int = 16) throws {
        self.directory = directory
        if let path = try ModelFiles.gguf(at: directory) {
            let file: GGUFFile
            do { file = try GGUFFile(url: path) } catch let e as GGUFError { throw ModelError(e.description) }
            gguf = file
            config = try ModelConfig(gguf: file)
            generation = GenerationConfig(bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds)
            let weights = try ModelWeights(config: config, gguf: file, precision: precision)
            transformer = Transformer(weights: weights, blockTokens: blockTokens)
            return
        }
        gguf = nil
        config = try ModelConfig.load(directory: directory)
        generation = try GenerationConfig.load(directory: directory, config: config)
        let store: TensorStore
        do { store = try TensorStore.open(directory: directory) } catch let e as SafetensorsError {
            throw ModelError(e.description)
        }
        let weights = try ModelWeights(config: config, store: store, precision: precision)
        transformer = Transformer(weights: weights, blockTokens: blockTokens)
    }
}

/// Where a model's files are.
public enum ModelFiles {
    /// The GGUF file `url` names: `url` itself when it is a file ending in `.gguf`, or the one `.gguf` file of a
    /// directory without `config.json`. Nil for Hugging Face directories. Several `.gguf` files are an error.
    public static func gguf(at url: URL) throws -> URL? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { return nil }
        if !isDir.boolValue { return url.pathExtension.lowercased() == "gguf" ? url : nil }
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) { return nil }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [])
            .filter { $0.lowercased().hasSuffix(".gguf") }.sorted()
        guard names.count <= 1 else {
            throw ModelError("\(url.path) holds \(names.count) GGUF files (\(names.joined(separator: ", "))): name one with --model FILE.gguf")
        }
        return names.first.map { url.appendingPathComponent($0) }
    }
}
