import Foundation
import Safetensors

/// A model directory loaded for serving: its config, generation config and the forward pass over its weights.
public final class LoadedModel: Sendable {
    public let directory: URL
    public let config: ModelConfig
    public let generation: GenerationConfig
    public let transformer: Transformer

    /// `precision`: how the projections are held (`.asStored` keeps BF16 weights BF16).
    public init(directory: URL, precision: WeightPrecision = .asStored, blockTokens: Int = 16) throws {
        self.directory = directory
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
