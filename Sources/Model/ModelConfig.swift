import Foundation

/// How RoPE frequencies are scaled for long contexts (`rope_scaling` / `rope_parameters`).
public enum RopeScaling: Sendable, Equatable {
    case none
    case linear(factor: Float)
    case llama3(factor: Float, lowFreqFactor: Float, highFreqFactor: Float, originalMaxPositions: Int)
}

/// The architecture facts lorad needs from a Hugging Face `config.json` (Llama, Mistral, Qwen2 families).
public struct ModelConfig: Sendable, Equatable {
    public static let supportedArchitectures = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"]

    public var architecture: String
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var vocabSize: Int
    public var maxPositions: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var ropeScaling: RopeScaling
    public var tieWordEmbeddings: Bool
    /// Bias vectors on q/k/v (Qwen2 always; Llama with `attention_bias`), on o_proj (Llama `attention_bias`),
    /// and on the MLP (Llama `mlp_bias`).
    public var qkvBias: Bool
    public var outputBias: Bool
    public var mlpBias: Bool
    /// Mistral-style sliding attention window, when it is shorter than the context.
    public var slidingWindow: Int?
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]

    public var qDim: Int { headCount * headDim }
    public var kvDim: Int { kvHeadCount * headDim }

    /// Parses config.json text. Every field is checked; a wrong type or impossible value names the field.
    public init(json data: Data) throws {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError("config.json is not a JSON object")
        }
        let fields = ConfigFields(root, file: "config.json")
        if let archs = root["architectures"] {
            guard let list = archs as? [Any], let first = list.first as? String else {
                throw ModelError("config.json: \"architectures\" must be a non-empty list of strings")
            }
            architecture = first
        } else {
            let type = try fields.string("model_type") ?? "(none)"
            switch type {
            case "llama": architecture = "LlamaForCausalLM"
            case "mistral": architecture = "MistralForCausalLM"
            case "qwen2": architecture = "Qwen2ForCausalLM"
            default: architecture = type
            }
        }
        guard Self.supportedArchitectures.contains(architecture) else {
            throw ModelError("unsupported architecture \"\(architecture)\" (lorad serves \(Self.supportedArchitectures.joined(separator: ", ")))")
        }
        if let act = try fields.string("hidden_act"), act != "silu" {
            throw ModelError("config.json: hidden_act \"\(act)\" is not supported (only silu)")
        }
        hiddenSize = try fields.requiredInt("hidden_size", in: 1...65536)
        intermediateSize = try fields.requiredInt("intermediate_size", in: 1...262_144)
        layerCount = try fields.requiredInt("num_hidden_layers", in: 1...512)
        headCount = try fields.requiredInt("num_attention_heads", in: 1...1024)
        kvHeadCount = try fields.int("num_key_value_heads", in: 1...1024) ?? headCount
        guard headCount % kvHeadCount == 0 else {
            throw ModelError("config.json: num_attention_heads \(headCount) is not a multiple of num_key_value_heads \(kvHeadCount)")
        }
        if let hd = try fields.int("head_dim", in: 2...4096) {
            headDim = hd
        } else {
            guard hiddenSize % headCount == 0 else {
                throw ModelError("config.json: hidden_size \(hiddenSize) is not divisible by num_attention_heads \(headCount)")
            }
            headDim = hiddenSize / headCount
        }
        guard headDim % 2 == 0 else { throw ModelError("config.json: head_dim \(headDim) must be even for RoPE") }
        vocabSize = try fields.requiredInt("vocab_size", in: 1...4_000_000)
        maxPositions = try fields.int("max_position_embeddings", in: 1...16_777_216) ?? 4096
        rmsNormEps = Float(try fields.double("rms_norm_eps", in: 0...1) ?? 1e-6)
        tieWordEmbeddings = try fields.bool("tie_word_embeddings") ?? false

        let ropeParameters = root["rope_parameters"] as? [String: Any]
        let theta = try fields.double("rope_theta", in: 1...1e12)
            ?? ConfigFields(ropeParameters ?? [:], file: "config.json rope_parameters").double("rope_theta", in: 1...1e12)
        ropeTheta = Float(theta ?? 10000)
        let legacyScaling = root["rope_scaling"].flatMap { $0 is NSNull ? nil : $0 }
        ropeScaling = try Self.parseRopeScaling(legacyScaling ?? ropeParameters)

        let attentionBias = try fields.bool("attention_bias") ?? false
        qkvBias = architecture == "Qwen2ForCausalLM" ? true : attentionBias
        outputBias = architecture == "Qwen2ForCausalLM" ? false : attentionBias
        mlpBias = try fields.bool("mlp_bias") ?? false

        var window: Int? = nil
        if architecture != "LlamaForCausalLM", let w = try fields.int("sliding_window", in: 1...16_777_216) {
            let enabled = architecture == "Qwen2ForCausalLM" ? (try fields.bool("use_sliding_window") ?? false) : true
            if enabled && w < maxPositions { window = w }
        }
        slidingWindow = window
        bosTokenId = try fields.int("bos_token_id", in: 0...Int(Int32.max))
        eosTokenIds = try fields.intOrList("eos_token_id")
    }

    public static func load(directory: URL) throws -> ModelConfig {
        let url = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError("\(directory.path) has no config.json")
        }
        return try ModelConfig(json: data)
    }

    private static func parseRopeScaling(_ value: Any?) throws -> RopeScaling {
        guard let value, !(value is NSNull) else { return .none }
        guard let dict = value as? [String: Any] else {
            throw ModelError("config.json: rope_scaling must be an object")
        }
        let f = ConfigFields(dict, file: "config.json rope_scaling")
        let type = try f.string("rope_type") ?? f.string("type") ?? "default"
        switch type {
        case "default":
            return .none
        case "linear":
            let factor = try f.double("factor", in: 1e-6...1e6) ?? 1
            return .linear(factor: Float(factor))
        case "llama3":
            return .llama3(factor: Float(try f.double("factor", in: 1e-6...1e6) ?? 8),
                           lowFreqFactor: Float(try f.double("low_freq_factor", in: 1e-6...1e6) ?? 1),
                           highFreqFactor: Float(try f.double("high_freq_factor", in: 1e-6...1e6) ?? 4),
                           originalMaxPositions: try f.int("original_max_position_embeddings", in: 1...16_777_216) ?? 8192)
        default:
            throw ModelError("config.json: rope scaling type \"\(type)\" is not supported (default, linear and llama3 are)")
        }
    }
}

/// `generation_config.json`: the ids that end generation, when the file is present.
public struct GenerationConfig: Sendable, Equatable {
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]

    public init(bosTokenId: Int?, eosTokenIds: [Int]) {
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
    }

    public init(json data: Data) throws {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError("generation_config.json is not a JSON object")
        }
        let f = ConfigFields(root, file: "generation_config.json")
        bosTokenId = try f.int("bos_token_id", in: 0...Int(Int32.max))
        eosTokenIds = try f.intOrList("eos_token_id")
    }

    /// generation_config.json when present, else the ids config.json names.
    public static func load(directory: URL, config: ModelConfig) throws -> GenerationConfig {
        let url = directory.appendingPathComponent("generation_config.json")
        if let data = FileManager.default.contents(atPath: url.path) {
            var g = try GenerationConfig(json: data)
            if g.eosTokenIds.isEmpty { g.eosTokenIds = config.eosTokenIds }
            if g.bosTokenId == nil { g.bosTokenId = config.bosTokenId }
            return g
        }
        return GenerationConfig(bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds)
    }
}

/// Typed access to a JSON object's fields with errors that name the field.
struct ConfigFields {
    let object: [String: Any]
    let file: String
    init(_ object: [String: Any], file: String) {
        self.object = object
        self.file = file
    }

    private func present(_ key: String) -> Any? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        return v
    }

    func string(_ key: String) throws -> String? {
        guard let v = present(key) else { return nil }
        guard let s = v as? String else { throw ModelError("\(file): \"\(key)\" must be a string") }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = present(key) else { return nil }
        guard let n = v as? NSNumber, n.intValue == 0 || n.intValue == 1 else {
            throw ModelError("\(file): \"\(key)\" must be true or false")
        }
        return n.boolValue
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let v = present(key) else { return nil }
        guard let n = v as? NSNumber, !(v is String) else { throw ModelError("\(file): \"\(key)\" must be a number") }
        let d = n.doubleValue
        guard d.isFinite, range.contains(d) else {
            throw ModelError("\(file): \"\(key)\" = \(d) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return d
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = present(key) else { return nil }
        guard let n = v as? NSNumber, !(v is String) else { throw ModelError("\(file): \"\(key)\" must be an integer") }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
            throw ModelError("\(file): \"\(key)\" = \(n) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(d)
    }

    func requiredInt(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let v = try int(key, in: range) else { throw ModelError("\(file): \"\(key)\" is missing") }
        return v
    }

    func intOrList(_ key: String) throws -> [Int] {
        guard let v = present(key) else { return [] }
        if let list = v as? [Any] {
            return try list.map { item in
                guard let n = item as? NSNumber, n.doubleValue >= 0, n.doubleValue == n.doubleValue.rounded(),
                      n.doubleValue <= Double(Int32.max) else {
                    throw ModelError("\(file): \"\(key)\" must hold non-negative integers")
                }
                return n.intValue
            }
        }
        return [try requiredInt(key, in: 0...Int(Int32.max))]
    }
}
