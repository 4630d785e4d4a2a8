import Foundation
import GGUF

extension ModelConfig {
    /// GGUF architectures lorad serves, and the Hugging Face class each corresponds to.
    public static let ggufArchitectures = ["llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"]

    /// The hyperparameters of a GGUF model from its `ARCH.*` keys (llama.cpp's names). Errors name the key.
    public init(gguf file: GGUFFile) throws {
        do { try self.init(ggufChecked: file) } catch let e as GGUFError { throw ModelError(e.description) }
    }

    private init(ggufChecked f: GGUFFile) throws {
        let arch = try f.requiredString("general.architecture")
        if let type = try f.string("general.type"), type != "model" {
            throw ModelError("\((f.path as NSString).lastPathComponent) is a GGUF \(type), not a model")
        }
        guard let hf = Self.ggufArchitectures[arch] else {
            throw ModelError("unsupported GGUF architecture \"\(arch)\" (lorad serves \(Self.ggufArchitectures.keys.sorted().joined(separator: ", ")))")
        }
        func int(_ key: String, _ range: ClosedRange<Int>, default value: Int? = nil) throws -> Int {
            guard let v = try f.int("\(arch).\(key)") ?? value else { throw ModelError("metadata \"\(arch).\(key)\" is missing") }
            guard range.contains(v) else {
                throw ModelError("metadata \"\(arch).\(key)\" = \(v) is out of range \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }
        architecture = hf
        hiddenSize = try int("embedding_length", 1...65536)
        intermediateSize = try int("feed_forward_length", 1...262_144)
        layerCount = try int("block_count", 1...512)
        headCount = try int("attention.head_count", 1...1024)
        kvHeadCount = try int("attention.head_count_kv", 1...1024, default: headCount)
        guard headCount % kvHeadCount == 0 else {
            throw ModelError("metadata \"\(arch).attention.head_count\" \(headCount) is not a multiple of head_count_kv \(kvHeadCount)")
        }
        if hiddenSize % headCount != 0, try f.int("\(arch).attention.key_length") == nil {
            throw ModelError("metadata \"\(arch).embedding_length\" \(hiddenSize) is not divisible by the head count \(headCount)")
        }
        headDim = try int("attention.key_length", 2...4096, default: hiddenSize / headCount)
        let valueLength = try int("attention.value_length", 2...4096, default: headDim)
        guard valueLength == headDim else {
            throw ModelError("metadata \"\(arch).attention.value_length\" \(valueLength) differs from key_length \(headDim) (not supported)")
        }
        guard headDim % 2 == 0 else { throw ModelError("head size \(headDim) must be even for RoPE") }
        let ropeDims = try int("rope.dimension_count", 0...4096, default: headDim)
        guard ropeDims == headDim else {
            throw ModelError("metadata \"\(arch).rope.dimension_count\" \(ropeDims) is not the head size \(headDim) (partial RoPE is not supported)")
        }
        let tokens = try f.array("tokenizer.ggml.tokens")?.count
        let embdRows = f.tensors["token_embd.weight"].map(\.rows)
        guard let vocab = try f.int("\(arch).vocab_size") ?? embdRows ?? tokens, (1...4_000_000).contains(vocab) else {
            throw ModelError("cannot tell the vocabulary size (no \"\(arch).vocab_size\", token_embd or token list)")
        }
        vocabSize = vocab
        maxPositions = try int("context_length", 1...16_777_216, default: 4096)
        let eps = try f.double("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-6
        guard eps.isFinite, (0...1).contains(eps) else {
            throw ModelError("metadata \"\(arch).attention.layer_norm_rms_epsilon\" = \(eps) is out of range 0...1")
        }
        rmsNormEps = Float(eps)
        let theta = try f.double("\(arch).rope.freq_base") ?? 10000
        guard theta.isFinite, (1...1e12).contains(theta) else {
            throw ModelError("metadata \"\(arch).rope.freq_base\" = \(theta) is out of range 1...1e12")
        }
        ropeTheta = Float(theta)
        let scaling = try f.string("\(arch).rope.scaling.type") ?? "none"
        switch scaling {
        case "none": ropeScaling = .none
        case "linear":
            let factor = try f.double("\(arch).rope.scaling.factor") ?? 1
            guard factor.isFinite, (1e-6...1e6).contains(factor) else {
                throw ModelError("metadata \"\(arch).rope.scaling.factor\" = \(factor) is out of range")
            }
            ropeScaling = factor == 1 ? .none : .linear(factor: Float(factor))
        default:
            throw ModelError("metadata \"\(arch).rope.scaling.type\" \"\(scaling)\" is not supported (none and linear are)")
        }
        if f.tensors["rope_freqs.weight"] != nil {
            throw ModelError("tensor \"rope_freqs.weight\" (Llama 3.1 RoPE frequency factors) is not supported yet")
        }
        tieWordEmbeddings = f.tensors["output.weight"] == nil
        qkvBias = f.tensors["blk.0.attn_q.bias"] != nil
        outputBias = f.tensors["blk.0.attn_output.bias"] != nil
        mlpBias = f.tensors["blk.0.ffn_down.bias"] != nil
        slidingWindow = nil
        bosTokenId = try f.int("tokenizer.ggml.bos_token_id")
        var eos: [Int] = []
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let id = try f.int(key), !eos.contains(id) { eos.append(id) }
        }
        eosTokenIds = eos
    }
}
