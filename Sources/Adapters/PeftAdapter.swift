import Foundation
import Kernels
import Model
import Safetensors

/// A PEFT LoRA adapter loaded for one base model: validated against its shapes, weights widened to F32 and laid
/// out as the SGMV kernel reads them (A: [rank, input], B: [output, rank] per targeted projection and layer).
public final class PeftAdapter: Sendable {
    public let name: String
    public let config: PeftConfig
    /// Targeted projections, in Projection order.
    public let targets: [Projection]
    /// Largest rank over the adapter's modules.
    public let rank: Int
    public let weights: LoRAWeights
    /// Bytes of LoRA weights held (F32).
    public let byteCount: Int

    /// Loads `directory` (adapter_config.json + adapter_model.safetensors) for a base model of `model`.
    public convenience init(directory: URL, name: String? = nil, model: ModelConfig) throws {
        let name = name ?? directory.lastPathComponent
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw AdapterError("adapter \"\(name)\": \(directory.path) is not a directory")
        }
        let configURL = directory.appendingPathComponent("adapter_config.json")
        guard let configData = fm.contents(atPath: configURL.path) else {
            throw AdapterError("adapter \"\(name)\": \(directory.path) has no adapter_config.json")
        }
        let config = try PeftConfig(json: configData, adapter: name)
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        guard fm.fileExists(atPath: weightsURL.path) else {
            if fm.fileExists(atPath: directory.appendingPathComponent("adapter_model.bin").path) {
                throw AdapterError("adapter \"\(name)\": adapter_model.bin is a pickle, which lorad never loads; save the adapter as safetensors (adapter_model.safetensors)")
            }
            throw AdapterError("adapter \"\(name)\": \(directory.path) has no adapter_model.safetensors")
        }
        let file: SafetensorsFile
        do { file = try SafetensorsFile(url: weightsURL) } catch let e as SafetensorsError {
            throw AdapterError("adapter \"\(name)\": \(e.description)")
        }
        try self.init(name: name, config: config, file: file, model: model)
    }

    public init(name: String, config: PeftConfig, file: SafetensorsFile, model: ModelConfig) throws {
        func fail(_ message: String) -> AdapterError { AdapterError("adapter \"\(name)\": \(message)") }
        self.name = name
        self.config = config

        // Group the tensors by (layer, projection).
        struct Found { var a: TensorInfo?; var b: TensorInfo? }
        var found: [Int: [Projection: Found]] = [:]
        for key in file.names {
            guard let parsed = Self.parseKey(key) else {
                if key.contains("lora_magnitude_vector") { throw fail("DoRA weights (\(key)) are not supported") }
                if key.contains("lora_embedding") { throw fail("LoRA on embeddings (\(key)) is not supported") }
                throw fail("unexpected tensor \"\(key)\" (lorad serves LoRA on q/k/v/o/gate/up/down_proj of decoder layers)")
            }
            guard let projection = Projection(moduleName: parsed.module) else {
                throw fail("unknown module \"\(parsed.module)\" in \"\(key)\" (lorad serves q/k/v/o/gate/up/down_proj)")
            }
            guard parsed.parent == projection.parentModule else {
                throw fail("module \"\(parsed.parent).\(parsed.module)\" in \"\(key)\" does not exist in a Llama layer")
            }
            guard parsed.layer < model.layerCount else {
                throw fail("has weights for layer \(parsed.layer), the base model has \(model.layerCount) layers")
            }
            if let allowed = config.layersToTransform, !allowed.contains(parsed.layer) {
                throw fail("has weights for layer \(parsed.layer), which layers_to_transform excludes")
            }
            let module = "model.layers.\(parsed.layer).\(parsed.parent).\(parsed.module)"
            guard config.targets(module: module) else {
                throw fail("tensor \"\(key)\" is for \(module), which target_modules does not name")
            }
            guard let info = file.tensors[key], info.dtype.isWeightFloat else {
                throw fail("tensor \"\(key)\" must be F32, F16 or BF16")
            }
            var entry = found[parsed.layer, default: [:]][projection, default: Found()]
            if parsed.isA { entry.a = info } else { entry.b = info }
            found[parsed.layer, default: [:]][projection] = entry
        }
        guard !found.isEmpty else { throw fail("adapter_model.safetensors holds no LoRA weights") }

        var pairs = [[LoRAPair?]](repeating: [LoRAPair?](repeating: nil, count: Projection.allCases.count),
                                  count: model.layerCount)
        var buffers: [AlignedBuffer<Float>] = []
        var targets = Set<Projection>()
        var maxRank = 0
        var bytes = 0
        for (layer, projections) in found {
            for (projection, entry) in projections {
                let module = "model.layers.\(layer).\(projection.parentModule).\(projection.moduleName)"
                guard let a = entry.a, let b = entry.b else {
                    throw fail("\(module) has lora_\(entry.a == nil ? "B" : "A") but not lora_\(entry.a == nil ? "A" : "B")")
                }
                let (input, output) = projection.shape(model)
                let (expectedRank, alpha) = config.rankAndAlpha(module: module)
                guard a.shape.count == 2, b.shape.count == 2 else {
                    throw fail("\(module) LoRA tensors must be matrices, got A \(a.shape) and B \(b.shape)")
                }
                let r = a.shape[0]
                guard r == expectedRank else {
                    throw fail("\(module) lora_A has rank \(r), adapter_config.json says \(expectedRank)")
                }
                guard b.shape[1] == r else { throw fail("\(module) lora_B has rank \(b.shape[1]), lora_A has \(r)") }
                guard a.shape[1] == input else {
                    throw fail("expects \(Self.sizeName(projection, input: true)) \(a.shape[1]) for \(projection.moduleName), the base model has \(input)")
                }
                guard b.shape[0] == output else {
                    throw fail("expects \(Self.sizeName(projection, input: false)) \(b.shape[0]) for \(projection.moduleName), the base model has \(output)")
                }
                let aBuf = AlignedBuffer<Float>(count: r * input, zeroed: false)
                let bBuf = AlignedBuffer<Float>(count: output * r, zeroed: false)
                do {
                    try TensorStore.widen(file.rawBytes(a), dtype: a.dtype, count: r * input, into: aBuf.pointer, name: a.name)
                    try TensorStore.widen(file.rawBytes(b), dtype: b.dtype, count: output * r, into: bBuf.pointer, name: b.name)
                } catch let e as SafetensorsError { throw fail(e.description) }
                for v in UnsafeBufferPointer(start: aBuf.pointer, count: aBuf.count) where !v.isFinite {
                    throw fail("\(module) lora_A holds a non-finite value")
                }
                for v in UnsafeBufferPointer(start: bBuf.pointer, count: bBuf.count) where !v.isFinite {
                    throw fail("\(module) lora_B holds a non-finite value")
                }
                buffers.append(aBuf)
                buffers.append(bBuf)
                let scale = config.useRslora ? alpha / Double(r).squareRoot() : alpha / Double(r)
                pairs[layer][projection.rawValue] = LoRAPair(
                    pieces: [LoRAPiece(a: aBuf.pointer, b: bBuf.pointer, rank: r)], scale: Float(scale))
                targets.insert(projection)
                maxRank = max(maxRank, r)
                bytes += aBuf.byteCount + bBuf.byteCount
            }
        }
        self.targets = targets.sorted { $0.rawValue < $1.rawValue }
        self.rank = maxRank
        self.byteCount = bytes
        self.weights = LoRAWeights(pairs: pairs, owner: buffers)
    }

    private static func sizeName(_ p: Projection, input: Bool) -> String {
        switch (p, input) {
        case (.q, true), (.k, true), (.v, true), (.gate, true), (.up, true), (.o, false), (.down, false):
            return "hidden size"
        case (.o, true), (.q, false): return "attention size"
        case (.k, false), (.v, false): return "key/value size"
        case (.gate, false), (.up, false), (.down, true): return "intermediate size"
        }
    }

    struct ParsedKey {
        let layer: Int
        let parent: String
        let module: String
        let isA: Bool
    }

    /// `base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight` (optionally `.lora_A.default.weight`).
    static func parseKey(_ key: String) -> ParsedKey? {
        var parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.last == "weight" else { return nil }
        parts.removeLast()
        if parts.last == "default" { parts.removeLast() }
        guard let which = parts.popLast(), which == "lora_A" || which == "lora_B" else { return nil }
        // Strip the PEFT wrapper prefixes down to "layers.N.parent.module".
        guard let layersIndex = parts.lastIndex(of: "layers"), parts.count == layersIndex + 4,
              let layer = Int(parts[layersIndex + 1]), layer >= 0 else { return nil }
        return ParsedKey(layer: layer, parent: parts[layersIndex + 2], module: parts[layersIndex + 3], isA: which == "lora_A")
    }
}
