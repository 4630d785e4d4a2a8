import Model

/// The architecture of a model to generate: real published shapes for benchmarks, a small one for the demo.
public struct ModelShape: Sendable {
    public var name: String
    public var architecture = "LlamaForCausalLM"
    public var hidden: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var intermediate: Int
    public var vocab: Int
    public var maxPositions: Int
    public var ropeTheta: Double = 10000
    public var rmsNormEps: Double = 1e-5
    public var tieEmbeddings = false
    public var qkvBias = false
    public var llama3Rope = false
    /// head_dim when it is not hidden / heads.
    public var explicitHeadDim: Int? = nil

    public static let tinyllama = ModelShape(name: "tinyllama-1.1b", hidden: 2048, layers: 22, heads: 32, kvHeads: 4,
                                             intermediate: 5632, vocab: 32000, maxPositions: 2048)
    public static let smollm = ModelShape(name: "smollm-135m", hidden: 576, layers: 30, heads: 9, kvHeads: 3,
                                          intermediate: 1536, vocab: 49152, maxPositions: 2048, tieEmbeddings: true)
    public static let qwen2 = ModelShape(name: "qwen2-0.5b", architecture: "Qwen2ForCausalLM", hidden: 896, layers: 24,
                                         heads: 14, kvHeads: 2, intermediate: 4864, vocab: 151_936, maxPositions: 32768,
                                         ropeTheta: 1_000_000, rmsNormEps: 1e-6, tieEmbeddings: true, qkvBias: true)
    public static let llama32 = ModelShape(name: "llama-3.2-1b", hidden: 2048, layers: 16, heads: 32, kvHeads: 8,
                                           intermediate: 8192, vocab: 128_256, maxPositions: 131_072,
                                           ropeTheta: 500_000, tieEmbeddings: true, llama3Rope: true)
    /// The embedded demo model: small enough to build in a second, Llama-shaped with GQA.
    public static let demo = ModelShape(name: "demo", hidden: 128, layers: 4, heads: 4, kvHeads: 2, intermediate: 344,
                                        vocab: DemoTokenizer.vocabularySize, maxPositions: 2048)

    public static let benchShapes = [tinyllama, smollm, qwen2, llama32]

    public var headDim: Int { explicitHeadDim ?? hidden / heads }

    /// config.json as transformers writes it.
    public func configJSON(bos: Int, eos: Int) -> [String: Any] {
        var c: [String: Any] = [
            "architectures": [architecture],
            "model_type": architecture == "Qwen2ForCausalLM" ? "qwen2" : "llama",
            "hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": kvHeads, "head_dim": headDim,
            "vocab_size": vocab, "max_position_embeddings": maxPositions, "rms_norm_eps": rmsNormEps,
            "rope_theta": ropeTheta, "tie_word_embeddings": tieEmbeddings, "hidden_act": "silu",
            "bos_token_id": bos, "eos_token_id": eos, "torch_dtype": "float32",
        ]
        if llama3Rope {
            c["rope_scaling"] = ["rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0, "original_max_position_embeddings": 8192]
        }
        return c
    }
}

extension ModelShape {
    /// The shape of a loaded model (for writing adapters that fit it).
    public init(config c: ModelConfig, name: String) {
        self.init(name: name, architecture: c.architecture, hidden: c.hiddenSize, layers: c.layerCount,
                  heads: c.headCount, kvHeads: c.kvHeadCount, intermediate: c.intermediateSize, vocab: c.vocabSize,
                  maxPositions: c.maxPositions)
        explicitHeadDim = c.headDim
    }
}
