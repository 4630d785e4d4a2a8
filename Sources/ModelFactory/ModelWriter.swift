import Foundation
import Model
import Safetensors

/// Writes randomly initialised, seeded models and PEFT adapters in the Hugging Face layouts lorad loads.
public enum ModelWriter {
    /// A model directory: config.json, generation_config.json, tokenizer.json, tokenizer_config.json and
    /// model.safetensors (weights stored as `dtype`).
    public static func writeModel(shape: ModelShape, dtype: DType, seed: UInt64, to directory: URL,
                                  progress: (String) -> Void = { _ in }) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let bos = DemoTokenizer.bosId, eos = DemoTokenizer.eosId
        try writeJSON(shape.configJSON(bos: bos, eos: eos), to: directory.appendingPathComponent("config.json"))
        try writeJSON(["bos_token_id": bos, "eos_token_id": [eos], "do_sample": false],
                      to: directory.appendingPathComponent("generation_config.json"))
        try DemoTokenizer.tokenizerJSON().write(to: directory.appendingPathComponent("tokenizer.json"), options: .atomic)
        try DemoTokenizer.tokenizerConfigJSON().write(to: directory.appendingPathComponent("tokenizer_config.json"),
                                                      options: .atomic)

        // (name, shape, init): std for matrices is 1/sqrt(fan_in); norms in [0.8, 1.2].
        enum Init { case matrix(std: Float), norm, zero }
        var tensors: [(String, [Int], Init)] = []
        let h = shape.hidden, q = shape.heads * shape.headDim, kv = shape.kvHeads * shape.headDim
        let inter = shape.intermediate
        tensors.append(("model.embed_tokens.weight", [shape.vocab, h], .matrix(std: 1)))
        for i in 0..<shape.layers {
            let p = "model.layers.\(i)."
            tensors.append((p + "input_layernorm.weight", [h], .norm))
            for (name, rows) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
                tensors.append((p + "self_attn.\(name).weight", [rows, h], .matrix(std: 1 / Float(h).squareRoot())))
                if shape.qkvBias { tensors.append((p + "self_attn.\(name).bias", [rows], .matrix(std: 0.02))) }
            }
            tensors.append((p + "self_attn.o_proj.weight", [h, q], .matrix(std: 1 / Float(q).squareRoot())))
            tensors.append((p + "post_attention_layernorm.weight", [h], .norm))
            tensors.append((p + "mlp.gate_proj.weight", [inter, h], .matrix(std: 1 / Float(h).squareRoot())))
            tensors.append((p + "mlp.up_proj.weight", [inter, h], .matrix(std: 1 / Float(h).squareRoot())))
            tensors.append((p + "mlp.down_proj.weight", [h, inter], .matrix(std: 1 / Float(inter).squareRoot())))
        }
        tensors.append(("model.norm.weight", [h], .norm))
        if !shape.tieEmbeddings {
            tensors.append(("lm_head.weight", [shape.vocab, h], .matrix(std: 1 / Float(h).squareRoot())))
        }
        var rng = RandomWeights(seed: seed)
        let entries = tensors.map { SafetensorsWriter.Entry(name: $0.0, dtype: dtype, shape: $0.1) }
        try SafetensorsWriter.write(to: directory.appendingPathComponent("model.safetensors"), entries: entries,
                                    metadata: ["format": "pt", "generator": "lorad"]) { i in
            let (name, dims, kind) = tensors[i]
            if i % 16 == 0 { progress("writing \(name)") }
            let n = dims.reduce(1, *)
            let values: [Float]
            switch kind {
            case .matrix(let std): values = rng.uniform(n, std: std)
            case .norm: values = rng.range(n, 0.8, 1.2)
            case .zero: values = [Float](repeating: 0, count: n)
            }
            return try SafetensorsWriter.encode(values, as: dtype)
        }
    }

    /// The projections a LoRA adapter may target, with their (in, out) sizes for `shape`.
    public static func projectionSizes(_ shape: ModelShape) -> [String: (input: Int, output: Int)] {
        let h = shape.hidden, q = shape.heads * shape.headDim, kv = shape.kvHeads * shape.headDim
        return ["q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, shape.intermediate), "up_proj": (h, shape.intermediate),
                "down_proj": (shape.intermediate, h)]
    }

    /// A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) for a model of `shape`.
    /// `deltaStd` sets how strongly the adapter changes each projection's output.
    public static func writeAdapter(shape: ModelShape, rank: Int, alpha: Double, targets: [String], seed: UInt64,
                                    dtype: DType = .f32, deltaStd: Float = 0.05, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let sizes = projectionSizes(shape)
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": alpha,
            "target_modules": targets, "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": false,
            "use_rslora": false, "use_dora": false, "base_model_name_or_path": shape.name,
            "modules_to_save": NSNull(), "layers_to_transform": NSNull(),
        ]
        try writeJSON(config, to: directory.appendingPathComponent("adapter_config.json"))
        var rng = RandomWeights(seed: seed)
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        // A and B both random (a trained adapter has non-zero B), scaled so scale·B·A·x has std ≈ deltaStd.
        let scale = Float(alpha) / Float(rank)
        for layer in 0..<shape.layers {
            for target in targets {
                guard let (input, output) = sizes[target] else { continue }
                let module = target.hasSuffix("mlp") || ["gate_proj", "up_proj", "down_proj"].contains(target)
                    ? "mlp" : "self_attn"
                let prefix = "base_model.model.model.layers.\(layer).\(module).\(target)"
                let stdA = 1 / Float(input).squareRoot()
                let stdB = deltaStd / (scale * Float(rank).squareRoot())
                tensors.append((prefix + ".lora_A.weight", [rank, input], rng.uniform(rank * input, std: stdA)))
                tensors.append((prefix + ".lora_B.weight", [output, rank], rng.uniform(output * rank, std: stdB)))
            }
        }
        try SafetensorsWriter.write(to: directory.appendingPathComponent("adapter_model.safetensors"),
                                    tensors: tensors, dtype: dtype, metadata: ["format": "pt"])
    }

    static func writeJSON(_ object: Any, to url: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        try data.write(to: url, options: .atomic)
    }
}
