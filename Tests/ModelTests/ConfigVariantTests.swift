import Foundation
import Kernels
import Model
import Safetensors
import Testing
import TestSupport

// MARK: - Random model directories

/// Deterministic test randomness (SplitMix64), independent of the Model module's generator.
struct VariantRNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-scale, scale).
    mutating func uniform(_ scale: Float) -> Float { (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    mutating func int(below n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// A small random model: the config.json to write, what the reference assumes, and which tensors exist.
struct ModelSpec {
    var config: [String: Any]
    var reference: ReferenceConfig
    var qkvBias = false, outputBias = false, mlpBias = false
    var writeLMHead = true
    var dtype: DType = .f32
    var promptLength = 24
    var seed: UInt64 = 1

    init(architecture: String = "LlamaForCausalLM", modelType: String = "llama", hidden: Int = 32, heads: Int = 4,
         kvHeads: Int = 4, headDim: Int? = nil, intermediate: Int = 64, vocab: Int = 100) {
        config = [
            "architectures": [architecture], "model_type": modelType, "hidden_size": hidden,
            "intermediate_size": intermediate, "num_hidden_layers": 2, "num_attention_heads": heads,
            "num_key_value_heads": kvHeads, "vocab_size": vocab, "max_position_embeddings": 256,
            "rms_norm_eps": 1e-5, "hidden_act": "silu", "tie_word_embeddings": false, "rope_theta": 10000.0,
            "rope_scaling": NSNull(), "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
        ]
        if let headDim { config["head_dim"] = headDim }
        reference = ReferenceConfig(hidden: hidden, intermediate: intermediate, layers: 2, heads: heads, kvHeads: kvHeads,
                                    headDim: headDim ?? hidden / heads, vocab: vocab)
    }
}

typealias NamedTensor = (name: String, shape: [Int], values: [Float])

enum ModelBuilder {
    /// Values as stored in `dtype` (round to nearest even), so the reference sees exactly what the model loads.
    static func stored(_ x: Float, _ dtype: DType) -> Float {
        switch dtype {
        case .f16: return Float(Float16(x))
        case .bf16:
            let b = x.bitPattern, low = b & 0xFFFF
            var high = b >> 16
            if low > 0x8000 || (low == 0x8000 && high & 1 == 1) { high += 1 }
            return Float(bitPattern: high << 16)
        default: return x
        }
    }

    /// Every tensor of the spec, scaled so activations and logits stay O(1).
    static func tensors(_ s: ModelSpec) -> [NamedTensor] {
        var rng = VariantRNG(state: s.seed)
        let r = s.reference, h = r.hidden, q = r.heads * r.headDim, kv = r.kvHeads * r.headDim, inter = r.intermediate
        var out: [NamedTensor] = []
        func add(_ name: String, _ shape: [Int], scale: Float, offset: Float = 0) {
            let n = shape.reduce(1, *)
            out.append((name, shape, (0..<n).map { _ in stored(offset + rng.uniform(scale), s.dtype) }))
        }
        func matrix(_ name: String, _ rows: Int, _ cols: Int) { add(name, [rows, cols], scale: (3 / Float(cols)).squareRoot()) }
        add("model.embed_tokens.weight", [r.vocab, h], scale: s.writeLMHead ? 1 : (3 / Float(h)).squareRoot())
        for l in 0..<r.layers {
            let p = "model.layers.\(l).", a = p + "self_attn.", m = p + "mlp."
            add(p + "input_layernorm.weight", [h], scale: 0.2, offset: 1)
            matrix(a + "q_proj.weight", q, h)
            matrix(a + "k_proj.weight", kv, h)
            matrix(a + "v_proj.weight", kv, h)
            if s.qkvBias {
                add(a + "q_proj.bias", [q], scale: 0.3)
                add(a + "k_proj.bias", [kv], scale: 0.3)
                add(a + "v_proj.bias", [kv], scale: 0.3)
            }
            matrix(a + "o_proj.weight", h, q)
            if s.outputBias { add(a + "o_proj.bias", [h], scale: 0.3) }
            add(p + "post_attention_layernorm.weight", [h], scale: 0.2, offset: 1)
            matrix(m + "gate_proj.weight", inter, h)
            matrix(m + "up_proj.weight", inter, h)
            matrix(m + "down_proj.weight", h, inter)
            if s.mlpBias {
                add(m + "gate_proj.bias", [inter], scale: 0.3)
                add(m + "up_proj.bias", [inter], scale: 0.3)
                add(m + "down_proj.bias", [h], scale: 0.3)
            }
        }
        add("model.norm.weight", [h], scale: 0.2, offset: 1)
        if s.writeLMHead { matrix("lm_head.weight", r.vocab, h) }
        return out
    }

    /// Writes config.json and model.safetensors; `edit` may change the tensor list first. Returns the weights.
    @discardableResult
    static func write(_ s: ModelSpec, to dir: URL, edit: (inout [NamedTensor]) -> Void = { _ in }) throws -> [String: [Float]] {
        var list = tensors(s)
        edit(&list)
        let json = try JSONSerialization.data(withJSONObject: s.config, options: [.sortedKeys, .prettyPrinted])
        try json.write(to: dir.appendingPathComponent("config.json"))
        try SafetensorsWriter.write(to: dir.appendingPathComponent("model.safetensors"), tensors: list, dtype: s.dtype)
        return Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0.values) })
    }

    static func prompt(_ s: ModelSpec) -> [Int] {
        var rng = VariantRNG(state: s.seed &+ 1000)
        return (0..<s.promptLength).map { _ in rng.int(below: s.reference.vocab) }
    }
}

// MARK: - Running the model

enum Run {
    static func rows(_ flat: [Float], vocab: Int) -> [[Float]] {
        stride(from: 0, to: flat.count, by: vocab).map { Array(flat[$0..<($0 + vocab)]) }
    }

    /// The whole prompt in one step, logits at every row.
    static func fullPrompt(_ t: Transformer, _ tokens: [Int]) throws -> [[Float]] {
        var batch = StepBatch()
        batch.append(tokens, cache: t.makeCache())
        batch.logitRows = Array(tokens.indices)
        return rows(try t.forward(batch), vocab: t.config.vocabSize)
    }

    /// Prefill in `chunks` (all rows' logits), then the rest one token at a time through the KV cache.
    static func incremental(_ t: Transformer, _ tokens: [Int], chunks: [Int]) throws -> [[Float]] {
        let cache = t.makeCache()
        var out: [[Float]] = []
        var offset = 0
        var sizes = chunks
        while offset < tokens.count {
            let size = sizes.isEmpty ? 1 : sizes.removeFirst()
            let end = min(tokens.count, offset + size)
            var batch = StepBatch()
            batch.append(Array(tokens[offset..<end]), cache: cache)
            batch.logitRows = Array(0..<(end - offset))
            out += rows(try t.forward(batch), vocab: t.config.vocabSize)
            offset = end
        }
        #expect(cache.length == tokens.count)
        return out
    }

    static func maxDiff(_ a: [[Float]], _ b: [[Float]]) -> Float {
        guard a.count == b.count else { return .infinity }
        var m: Float = 0
        for (x, y) in zip(a, b) {
            guard x.count == y.count else { return .infinity }
            for (u, v) in zip(x, y) { m = max(m, abs(u - v)) }
        }
        return m
    }
}

// MARK: - Variants against the reference

enum ConfigVariant: String, CaseIterable, Sendable {
    case llamaMHA, gqaTwoKVHeads, gqaOneKVHead, qwen2Bias, llamaAttentionBias, llamaMLPBias, tiedEmbeddings
    case ropeLlama3, ropeLinear, explicitHeadDim, mistral, ropeParametersTheta, topLevelTheta, ropeParametersLlama3
    case bf16Weights, f16Weights

    var spec: ModelSpec {
        switch self {
        case .llamaMHA:
            return ModelSpec()
        case .gqaTwoKVHeads:
            return ModelSpec(hidden: 64, kvHeads: 2)
        case .gqaOneKVHead:
            return ModelSpec(kvHeads: 1)
        case .qwen2Bias:
            // Qwen2 always has q/k/v bias and never o bias; its sliding window is off unless use_sliding_window.
            var s = ModelSpec(architecture: "Qwen2ForCausalLM", modelType: "qwen2", hidden: 64, kvHeads: 2)
            s.qkvBias = true
            s.config["rope_theta"] = 1_000_000.0
            s.config["sliding_window"] = 8
            s.config["use_sliding_window"] = false
            s.reference.theta = 1_000_000
            s.promptLength = 30
            return s
        case .llamaAttentionBias:
            var s = ModelSpec(kvHeads: 2)
            s.config["attention_bias"] = true
            s.qkvBias = true
            s.outputBias = true
            return s
        case .llamaMLPBias:
            var s = ModelSpec()
            s.config["mlp_bias"] = true
            s.mlpBias = true
            return s
        case .tiedEmbeddings:
            var s = ModelSpec(kvHeads: 2)
            s.config["tie_word_embeddings"] = true
            s.writeLMHead = false
            return s
        case .ropeLlama3:
            // head_dim 16, theta 1e4: wavelengths 6.3 (kept), 19.9 (smoothed), >32 (divided) all occur.
            var s = ModelSpec(hidden: 64, kvHeads: 2)
            s.config["rope_scaling"] = ["rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0, "original_max_position_embeddings": 32]
            s.reference.scaling = .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 32)
            s.promptLength = 100
            return s
        case .ropeLinear:
            var s = ModelSpec(hidden: 64, kvHeads: 2)
            s.config["rope_scaling"] = ["type": "linear", "factor": 2.0]
            s.reference.scaling = .linear(factor: 2)
            s.promptLength = 60
            return s
        case .explicitHeadDim:
            return ModelSpec(hidden: 48, heads: 4, kvHeads: 2, headDim: 16)
        case .mistral:
            var s = ModelSpec(architecture: "MistralForCausalLM", modelType: "mistral", kvHeads: 2)
            s.config["sliding_window"] = NSNull()
            s.config["rope_theta"] = 1_000_000.0
            s.reference.theta = 1_000_000
            return s
        case .ropeParametersTheta:
            // transformers 5 style: theta inside rope_parameters, no top-level rope_theta / rope_scaling.
            var s = ModelSpec(hidden: 64, kvHeads: 2)
            s.config["rope_theta"] = nil
            s.config["rope_scaling"] = nil
            s.config["rope_parameters"] = ["rope_type": "default", "rope_theta": 500_000.0]
            s.reference.theta = 500_000
            s.promptLength = 40
            return s
        case .topLevelTheta:
            var s = ModelSpec(hidden: 64, kvHeads: 2)
            s.config["rope_theta"] = 500_000.0
            s.reference.theta = 500_000
            s.promptLength = 40
            return s
        case .ropeParametersLlama3:
            var s = ModelSpec(hidden: 64, kvHeads: 2)
            s.config["rope_theta"] = nil
            s.config["rope_scaling"] = nil
            s.config["rope_parameters"] = ["rope_type": "llama3", "rope_theta": 500_000.0, "factor": 8.0,
                                           "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                           "original_max_position_embeddings": 64]
            s.reference.theta = 500_000
            s.reference.scaling = .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64)
            s.promptLength = 100
            return s
        case .bf16Weights:
            var s = ModelSpec(kvHeads: 2)
            s.dtype = .bf16
            s.config["torch_dtype"] = "bfloat16"
            return s
        case .f16Weights:
            var s = ModelSpec(hidden: 48, kvHeads: 1, headDim: 16)
            s.dtype = .f16
            s.config["torch_dtype"] = "float16"
            s.qkvBias = true
            s.outputBias = true
            s.config["attention_bias"] = true
            return s
        }
    }
}

@Suite struct ConfigVariantTests {
    static let tolerance: Float = 1e-4

    /// Every variant: logits at every prompt position, in one step and through the KV cache, match the reference.
    @Test(arguments: ConfigVariant.allCases)
    func variantMatchesReference(_ variant: ConfigVariant) throws {
        let spec = variant.spec
        let dir = try Fixtures.temporaryDirectory("variant-\(variant.rawValue)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = try ModelBuilder.write(spec, to: dir)
        let model = try LoadedModel(directory: dir)
        let t = model.transformer
        let tokens = ModelBuilder.prompt(spec)
        let expected = ReferenceForward.logits(spec.reference, weights: weights, tokens: tokens)
        let scale = expected.joined().map { abs($0) }.max() ?? 0
        #expect(scale > 0.5 && scale < 50, "logits should be O(1), max |logit| \(scale)")

        let full = try Run.fullPrompt(t, tokens)
        let fullDiff = Run.maxDiff(full, expected)
        #expect(fullDiff <= Self.tolerance, "\(variant) one step: max |diff| \(fullDiff)")

        let incremental = try Run.incremental(t, tokens, chunks: [7, 5])
        let incDiff = Run.maxDiff(incremental, expected)
        #expect(incDiff <= Self.tolerance, "\(variant) cached: max |diff| \(incDiff)")
    }

    /// The config facts each variant is meant to exercise were actually read.
    @Test func configFactsAreRead() throws {
        func config(_ v: ConfigVariant) throws -> ModelConfig {
            try ModelConfig(json: JSONSerialization.data(withJSONObject: v.spec.config))
        }
        #expect(try config(.gqaOneKVHead).kvHeadCount == 1)
        let qwen = try config(.qwen2Bias)
        #expect(qwen.qkvBias && !qwen.outputBias && qwen.slidingWindow == nil)
        let bias = try config(.llamaAttentionBias)
        #expect(bias.qkvBias && bias.outputBias && !bias.mlpBias)
        #expect(try config(.llamaMLPBias).mlpBias)
        #expect(try config(.tiedEmbeddings).tieWordEmbeddings)
        #expect(try config(.ropeLlama3).ropeScaling == .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 32))
        #expect(try config(.ropeLinear).ropeScaling == .linear(factor: 2))
        let hd = try config(.explicitHeadDim)
        #expect(hd.headDim == 16 && hd.qDim == 64 && hd.hiddenSize == 48)
        #expect(try config(.ropeParametersTheta).ropeTheta == 500_000)
        #expect(try config(.ropeParametersTheta).ropeScaling == RopeScaling.none)
        #expect(try config(.topLevelTheta).ropeTheta == 500_000)
        let p3 = try config(.ropeParametersLlama3)
        #expect(p3.ropeTheta == 500_000)
        #expect(p3.ropeScaling == .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64))
        #expect(try config(.mistral).architecture == "MistralForCausalLM")
    }

    /// The model's inverse frequencies agree with the reference's (Double) ones for every scaling.
    @Test(arguments: [ConfigVariant.llamaMHA, .ropeLlama3, .ropeLinear, .ropeParametersLlama3, .topLevelTheta])
    func ropeFrequenciesMatch(_ variant: ConfigVariant) throws {
        let spec = variant.spec
        let rope = Rope(config: try ModelConfig(json: JSONSerialization.data(withJSONObject: spec.config)))
        let expected = ReferenceForward.inverseFrequencies(spec.reference)
        #expect(rope.inverseFrequencies.count == expected.count)
        for (a, b) in zip(rope.inverseFrequencies, expected) {
            #expect(abs(Double(a) - b) <= 1e-6 * b, "\(variant): \(a) vs \(b)")
        }
    }

    /// Tied embeddings: the LM head is packed from the embedding.
    @Test func tiedHeadIsTheEmbedding() throws {
        let dir = try Fixtures.temporaryDirectory("variant-tied")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelBuilder.write(ConfigVariant.tiedEmbeddings.spec, to: dir)
        let w = try LoadedModel(directory: dir).transformer.weights
        #expect(w.lmHeadIsTied)
        #expect(w.lmHead.outputs == w.config.vocabSize && w.lmHead.inputs == w.config.hiddenSize)
    }

    /// Greedy generation follows the reference's argmax token by token.
    @Test func greedyGenerationFollowsReference() throws {
        var spec = ConfigVariant.gqaTwoKVHeads.spec
        spec.promptLength = 12
        let dir = try Fixtures.temporaryDirectory("variant-generate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = try ModelBuilder.write(spec, to: dir)
        let model = try LoadedModel(directory: dir)
        let prompt = ModelBuilder.prompt(spec)
        let g = try Generator(model: model, prefillChunk: 5).generate(prompt: prompt, maxTokens: 10, stopAtEOS: false)
        #expect(g.tokenIds.count == 10)
        var sequence = prompt
        for (i, token) in g.tokenIds.enumerated() {
            let last = ReferenceForward.logits(spec.reference, weights: weights, tokens: sequence).last!
            let sorted = last.enumerated().sorted { $0.element > $1.element }
            if sorted[0].element - sorted[1].element > 1e-3 {
                #expect(token == sorted[0].offset, "step \(i)")
            }
            sequence.append(token)
        }
    }
}

// MARK: - Mistral sliding window

extension ConfigVariantTests {
    /// Mistral with sliding_window 8 over a 30-token prompt (the window is shorter than the prompt).
    static func slidingWindowSpec() -> ModelSpec {
        var s = ModelSpec(architecture: "MistralForCausalLM", modelType: "mistral", kvHeads: 2)
        s.config["sliding_window"] = 8
        s.reference.slidingWindow = 8
        s.promptLength = 30
        return s
    }

    /// Prefill chunks no longer than the window, then decode: matches the windowed reference.
    @Test func mistralSlidingWindowThroughCache() throws {
        let spec = Self.slidingWindowSpec()
        let dir = try Fixtures.temporaryDirectory("variant-window")
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = try ModelBuilder.write(spec, to: dir)
        let model = try LoadedModel(directory: dir)
        #expect(model.config.slidingWindow == 8)
        let tokens = ModelBuilder.prompt(spec)
        let expected = ReferenceForward.logits(spec.reference, weights: weights, tokens: tokens)
        var unwindowed = spec.reference
        unwindowed.slidingWindow = nil
        let without = ReferenceForward.logits(unwindowed, weights: weights, tokens: tokens)
        #expect(Run.maxDiff(expected, without) > 1e-2, "the window must matter for this test to mean anything")
        let got = try Run.incremental(model.transformer, tokens, chunks: [8, 8, 3])
        let diff = Run.maxDiff(got, expected)
        #expect(diff <= Self.tolerance, "windowed, cached: max |diff| \(diff)")
    }

    /// Child-process body: the whole 30-token prompt in one step, against the windowed reference.
    static func slidingWindowFullPromptCheck() throws {
        let spec = slidingWindowSpec()
        let dir = try Fixtures.temporaryDirectory("variant-window-full")
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = try ModelBuilder.write(spec, to: dir)
        let t = try LoadedModel(directory: dir).transformer
        let tokens = ModelBuilder.prompt(spec)
        let diff = Run.maxDiff(try Run.fullPrompt(t, tokens),
                               ReferenceForward.logits(spec.reference, weights: weights, tokens: tokens))
        if !(diff <= tolerance) { exit(3) }
    }

    /// A prefill step with more rows than the window (here: the whole prompt) must work. Run in a child process
    /// because a failure here is a crash (see the report: Transformer.attention's `lowest..<committed`).
    @Test func mistralSlidingWindowLongPrefill() async {
        await #expect(processExitsWith: .success) {
            try ConfigVariantTests.slidingWindowFullPromptCheck()
        }
    }
}

// MARK: - Config and weight errors

enum ModelErrorCase: String, CaseIterable, Sendable {
    case unsupportedArchitecture, unsupportedModelType, yarnScaling, yarnInRopeParameters, headsNotMultiple
    case missingHiddenSize, hiddenSizeString, geluActivation, configNotJSON, configMissing, hiddenNotDivisible
    case oddHeadDim, attentionBiasString, ropeScalingNotObject, zeroVocab
    case missingTensor, wrongTensorShape, missingLMHead, qwenMissingBias, noWeights

    var expected: [String] {
        switch self {
        case .unsupportedArchitecture: return ["unsupported architecture", "\"GPTNeoXForCausalLM\""]
        case .unsupportedModelType: return ["unsupported architecture", "\"gpt_neox\""]
        case .yarnScaling, .yarnInRopeParameters: return ["rope scaling type", "\"yarn\""]
        case .headsNotMultiple: return ["num_attention_heads 4", "not a multiple", "num_key_value_heads 3"]
        case .missingHiddenSize: return ["\"hidden_size\"", "missing"]
        case .hiddenSizeString: return ["\"hidden_size\"", "must be an integer"]
        case .geluActivation: return ["hidden_act", "\"gelu\""]
        case .configNotJSON: return ["config.json", "not a JSON object"]
        case .configMissing: return ["no config.json"]
        case .hiddenNotDivisible: return ["hidden_size 32", "not divisible", "num_attention_heads 5"]
        case .oddHeadDim: return ["head_dim 7", "even"]
        case .attentionBiasString: return ["\"attention_bias\"", "true or false"]
        case .ropeScalingNotObject: return ["rope_scaling", "object"]
        case .zeroVocab: return ["\"vocab_size\""]
        case .missingTensor: return ["\"model.layers.1.mlp.up_proj.weight\"", "missing"]
        case .wrongTensorShape: return ["\"model.layers.0.self_attn.k_proj.weight\"", "has shape [32, 16]", "expected [16, 32]"]
        case .missingLMHead: return ["\"lm_head.weight\"", "missing"]
        case .qwenMissingBias: return ["\"model.layers.0.self_attn.q_proj.bias\"", "missing"]
        case .noWeights: return ["neither model.safetensors nor model.safetensors.index.json"]
        }
    }

    /// Writes a model directory that is broken in this case's way.
    func build(in dir: URL) throws {
        var s = ModelSpec(kvHeads: 2)
        var edit: (inout [NamedTensor]) -> Void = { _ in }
        switch self {
        case .unsupportedArchitecture: s.config["architectures"] = ["GPTNeoXForCausalLM"]
        case .unsupportedModelType:
            s.config["architectures"] = nil
            s.config["model_type"] = "gpt_neox"
        case .yarnScaling: s.config["rope_scaling"] = ["rope_type": "yarn", "factor": 4.0]
        case .yarnInRopeParameters:
            s.config["rope_scaling"] = nil
            s.config["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0]
        case .headsNotMultiple: s.config["num_key_value_heads"] = 3
        case .missingHiddenSize: s.config["hidden_size"] = nil
        case .hiddenSizeString: s.config["hidden_size"] = "32"
        case .geluActivation: s.config["hidden_act"] = "gelu"
        case .hiddenNotDivisible:
            s.config["num_attention_heads"] = 5
            s.config["num_key_value_heads"] = 5
        case .oddHeadDim: s.config["head_dim"] = 7
        case .attentionBiasString: s.config["attention_bias"] = "yes"
        case .ropeScalingNotObject: s.config["rope_scaling"] = "linear"
        case .zeroVocab: s.config["vocab_size"] = 0
        case .missingTensor: edit = { $0.removeAll { $0.name == "model.layers.1.mlp.up_proj.weight" } }
        case .wrongTensorShape:
            edit = { list in
                let i = list.firstIndex { $0.name == "model.layers.0.self_attn.k_proj.weight" }!
                list[i].shape = [list[i].shape[1], list[i].shape[0]]
            }
        case .missingLMHead: edit = { $0.removeAll { $0.name == "lm_head.weight" } }
        case .qwenMissingBias:
            s.config["architectures"] = ["Qwen2ForCausalLM"]
            s.config["model_type"] = "qwen2"
        case .configNotJSON, .configMissing, .noWeights: break
        }
        try ModelBuilder.write(s, to: dir, edit: edit)
        let fm = FileManager.default
        switch self {
        case .configNotJSON: try Data("{\"hidden_size\": 32,".utf8).write(to: dir.appendingPathComponent("config.json"))
        case .configMissing: try fm.removeItem(at: dir.appendingPathComponent("config.json"))
        case .noWeights: try fm.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        default: break
        }
    }
}

extension ConfigVariantTests {
    @Test(arguments: ModelErrorCase.allCases)
    func brokenModelIsRefused(_ c: ModelErrorCase) throws {
        let dir = try Fixtures.temporaryDirectory("variant-error")
        defer { try? FileManager.default.removeItem(at: dir) }
        try c.build(in: dir)
        let error = #expect(throws: ModelError.self, "\(c)") { _ = try LoadedModel(directory: dir) }
        guard let error else { return }
        for f in c.expected {
            #expect(error.description.contains(f), "\(c): \"\(error.description)\" lacks \"\(f)\"")
        }
    }

    /// config.json with "rope_scaling": null next to transformers-5 "rope_parameters": the parameters apply.
    @Test func nullRopeScalingDoesNotHideRopeParameters() throws {
        var s = ConfigVariant.ropeParametersLlama3.spec
        s.config["rope_scaling"] = NSNull()
        let c = try ModelConfig(json: JSONSerialization.data(withJSONObject: s.config))
        #expect(c.ropeTheta == 500_000)
        #expect(c.ropeScaling == .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64))
    }
}

// MARK: - Sampler

@Suite struct SamplerTests {
    static func logits(_ seed: UInt64, count: Int = 50) -> [Float] {
        var rng = VariantRNG(state: seed)
        return (0..<count).map { _ in rng.uniform(3) }
    }

    static func draws(_ p: SamplingParameters, _ rows: [[Float]]) -> [Int] {
        var s = Sampler(p)
        return rows.map { row in row.withUnsafeBufferPointer { s.sample($0) } }
    }

    static func argmax(_ row: [Float]) -> Int { row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }! }

    @Test func sameSeedGivesSameSamples() {
        let rows = (0..<200).map { Self.logits(UInt64($0)) }
        let p = SamplingParameters(temperature: 0.9, topP: 0.95, topK: 30, seed: 1234)
        let a = Self.draws(p, rows), b = Self.draws(p, rows)
        #expect(a == b)
        var other = p
        other.seed = 1235
        #expect(Self.draws(other, rows) != a, "a different seed should give a different sequence")
        #expect(Set(a).count > 10, "sampling at temperature 0.9 should not collapse to a few tokens")
    }

    @Test(arguments: [0.5, 1.0, 2.0] as [Float])
    func topKOneIsGreedy(temperature: Float) {
        let rows = (0..<100).map { Self.logits(UInt64(1000 + $0)) }
        let p = SamplingParameters(temperature: temperature, topK: 1, seed: 7)
        #expect(Self.draws(p, rows) == rows.map(Self.argmax))
    }

    @Test func tinyTopPIsGreedy() {
        let rows = (0..<100).map { Self.logits(UInt64(2000 + $0)) }
        let p = SamplingParameters(temperature: 1.3, topP: 1e-6, seed: 9)
        #expect(Self.draws(p, rows) == rows.map(Self.argmax))
    }

    @Test func zeroTemperatureIsArgmax() {
        let rows = (0..<100).map { Self.logits(UInt64(3000 + $0)) }
        let p = SamplingParameters(temperature: 0, topP: 0.5, topK: 10, seed: 1)
        #expect(Self.draws(p, rows) == rows.map(Self.argmax))
        // Exact ties: the first index wins, as torch.argmax.
        let tied: [Float] = [0, 5, -1, 5, 5]
        #expect(Self.draws(.greedy, [tied]) == [1])
        #expect(tied.withUnsafeBufferPointer { Sampler.argmax($0) } == 1)
    }

    /// probabilities(): softmax at the temperature, then top-k, then top-p, renormalised, most likely first.
    @Test func probabilitiesFollowTemperatureTopKTopP() {
        let row: [Float] = [1, 3, 2, 0, -1]
        let t: Float = 0.7
        let e = row.map { expf(($0 - 3) / t) }
        let z = e.reduce(0, +)
        let all = row.withUnsafeBufferPointer { Sampler.probabilities($0, SamplingParameters(temperature: t)) }
        #expect(all.map(\.id) == [1, 2, 0, 3, 4])
        for (id, p) in all { #expect(abs(p - e[id] / z) < 1e-6) }
        let k2 = row.withUnsafeBufferPointer { Sampler.probabilities($0, SamplingParameters(temperature: t, topK: 2)) }
        #expect(k2.map(\.id) == [1, 2])
        #expect(abs(k2[0].p - e[1] / (e[1] + e[2])) < 1e-6)
        // top-p keeps the smallest prefix whose mass reaches p.
        let p1 = e[1] / z
        let justOver = row.withUnsafeBufferPointer {
            Sampler.probabilities($0, SamplingParameters(temperature: t, topP: p1 + 0.01))
        }
        #expect(justOver.map(\.id) == [1, 2])
        #expect(abs(justOver.reduce(0) { $0 + $1.p } - 1) < 1e-6)
    }

    /// Draw frequencies match the probabilities.
    @Test func samplesFollowTheDistribution() {
        let row: [Float] = [0, 1, 2, 0.5]
        let p = SamplingParameters(temperature: 1, seed: 42)
        let probs = row.withUnsafeBufferPointer { Sampler.probabilities($0, p) }
        let n = 20_000
        let counts = Self.draws(p, Array(repeating: row, count: n)).reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
        for (id, q) in probs {
            let f = Float(counts[id] ?? 0) / Float(n)
            #expect(abs(f - q) < 0.02, "token \(id): frequency \(f), probability \(q)")
        }
    }
}
