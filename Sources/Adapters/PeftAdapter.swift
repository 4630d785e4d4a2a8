import Foundation
import Kernels
import Model
import Safetensors

/// A PEFT LoRA adapter's files, checked against one base model but not yet read: for each targeted projection of
/// each layer, the tensors that hold its A and B, its rank and its scale. Reading them is a separate step, so the
/// weights go in one pass from the page cache to where they are used: `PeftAdapter` widens them to F32 on the heap,
/// `PooledAdapter` straight into pages of the memory pool. Values are checked finite as they are widened.
public final class PeftAdapterFiles: Sendable {
    /// One targeted projection of one layer.
    public struct Module: Sendable {
        public let layer: Int
        public let projection: Projection
        public let rank: Int
        /// alpha/r, or alpha/sqrt(r) for rsLoRA.
        public let scale: Float
        let a: TensorInfo
        let b: TensorInfo

        /// `model.layers.N.parent.module`, as error messages name it.
        public var path: String { "model.layers.\(layer).\(projection.parentModule).\(projection.moduleName)" }
    }

    public let name: String
    public let config: PeftConfig
    /// In (layer, projection) order.
    public let modules: [Module]
    /// Targeted projections, in Projection order.
    public let targets: [Projection]
    /// Largest rank over the adapter's modules.
    public let rank: Int
    /// Bytes the LoRA weights take once widened to F32.
    public let widenedByteCount: Int
    let modelConfig: ModelConfig
    private let file: SafetensorsFile

    /// Opens `directory` (adapter_config.json + adapter_model.safetensors) for a base model of `model` and starts
    /// the kernel reading the weights.
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
        // Every tensor is read once, in file order: let the reads run ahead instead of one page fault at a time.
        file.willReadAll()
        try self.init(name: name, config: config, file: file, model: model)
    }

    public init(name: String, config: PeftConfig, file: SafetensorsFile, model: ModelConfig) throws {
        func fail(_ message: String) -> AdapterError { AdapterError("adapter \"\(name)\": \(message)") }
        self.name = name
        self.config = config
        self.file = file
        self.modelConfig = model

        // Group the tensors by (layer, projection).
        struct Found { var a: TensorInfo?; var b: TensorInfo? }
        var found: [Int: [Projection: Found]] = [:]
        for key in file.names {
            guard let parsed = PeftAdapter.parseKey(key) else {
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

        var modules: [Module] = []
        var targets = Set<Projection>()
        var maxRank = 0
        var bytes = 0
        for layer in found.keys.sorted() {
            for projection in Projection.allCases {
                guard let entry = found[layer]?[projection] else { continue }
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
                    throw fail("expects \(PeftAdapter.sizeName(projection, input: true)) \(a.shape[1]) for \(projection.moduleName), the base model has \(input)")
                }
                guard b.shape[0] == output else {
                    throw fail("expects \(PeftAdapter.sizeName(projection, input: false)) \(b.shape[0]) for \(projection.moduleName), the base model has \(output)")
                }
                let scale = config.useRslora ? alpha / Double(r).squareRoot() : alpha / Double(r)
                modules.append(Module(layer: layer, projection: projection, rank: r, scale: Float(scale), a: a, b: b))
                targets.insert(projection)
                maxRank = max(maxRank, r)
                bytes += (input + output) * r * 4
            }
        }
        self.modules = modules
        self.targets = targets.sorted { $0.rawValue < $1.rawValue }
        self.rank = maxRank
        self.widenedByteCount = bytes
    }

    /// Widens rank rows `rows` of `module`: A's rows into `a` as [k, input] and the matching columns of B into `b`
    /// as rows [k, output] (Bᵀ; k = rows.count). Throws if a value is not finite.
    public func widen(_ module: Module, rows: Range<Int>, a: UnsafeMutablePointer<Float>,
                      b: UnsafeMutablePointer<Float>) throws {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= module.rank)
        let (input, output) = module.projection.shape(modelConfig)
        let k = rows.count, r = module.rank
        let aBytes = file.rawBytes(module.a), bBytes = file.rawBytes(module.b)
        try Self.widenRun(aBytes.baseAddress! + rows.lowerBound * input * module.a.dtype.byteSize, of: module.a,
                          count: k * input, into: a)
        // B is [output, r] in the file: widen it a block of rows at a time, then transpose the block's k columns.
        let bes = module.b.dtype.byteSize, block = 64
        var tmp = [Float](repeating: 0, count: block * r)
        try tmp.withUnsafeMutableBufferPointer { t in
            for o0 in stride(from: 0, to: output, by: block) {
                let n = min(block, output - o0)
                try Self.widenRun(bBytes.baseAddress! + o0 * r * bes, of: module.b, count: n * r, into: t.baseAddress!)
                for j in 0..<k {
                    let dst = b + j * output + o0, src = t.baseAddress! + rows.lowerBound + j
                    for o in 0..<n { dst[o] = src[o * r] }
                }
            }
        }
        guard Self.allFinite(a, k * input) else {
            throw AdapterError("adapter \"\(name)\": \(module.path) lora_A holds a non-finite value")
        }
        guard Self.allFinite(b, output * k) else {
            throw AdapterError("adapter \"\(name)\": \(module.path) lora_B holds a non-finite value")
        }
    }

    /// `count` values of `tensor` from `raw` on (any alignment), as F32.
    private static func widenRun(_ raw: UnsafeRawPointer, of tensor: TensorInfo, count: Int,
                                 into dst: UnsafeMutablePointer<Float>) throws {
        try TensorStore.widen(UnsafeRawBufferPointer(start: raw, count: count * tensor.dtype.byteSize),
                              dtype: tensor.dtype, count: count, into: dst, name: tensor.name)
    }

    private static func allFinite(_ p: UnsafePointer<Float>, _ n: Int) -> Bool {
        // On the bits, so the loop vectorises: an all-ones exponent (infinity or NaN) carries into bit 31 when
        // 2^23 is added to it; no finite exponent does.
        let bits = UnsafeRawPointer(p).assumingMemoryBound(to: UInt32.self)
        var carry: UInt32 = 0
        for i in 0..<n { carry |= (bits[i] & 0x7f80_0000) &+ 0x0080_0000 }
        return carry & 0x8000_0000 == 0
    }
}

/// A PEFT LoRA adapter loaded for one base model: validated against its shapes, weights widened to F32 and laid
/// out as the SGMV kernel reads them (A: [rank, input], Bᵀ: [rank, output] per targeted projection and layer).
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
        try self.init(try PeftAdapterFiles(directory: directory, name: name, model: model))
    }

    public convenience init(name: String, config: PeftConfig, file: SafetensorsFile, model: ModelConfig) throws {
        try self.init(try PeftAdapterFiles(name: name, config: config, file: file, model: model))
    }

    /// Reads `files` onto the heap.
    public init(_ files: PeftAdapterFiles) throws {
        name = files.name
        config = files.config
        var pairs = [[LoRAPair?]](repeating: [LoRAPair?](repeating: nil, count: Projection.allCases.count),
                                  count: files.modelConfig.layerCount)
        var buffers: [AlignedBuffer<Float>] = []
        for m in files.modules {
            let (input, output) = m.projection.shape(files.modelConfig)
            let aBuf = AlignedBuffer<Float>(count: m.rank * input, zeroed: false)
            let bBuf = AlignedBuffer<Float>(count: output * m.rank, zeroed: false)
            try files.widen(m, rows: 0..<m.rank, a: aBuf.pointer, b: bBuf.pointer)
            buffers.append(aBuf)
            buffers.append(bBuf)
            pairs[m.layer][m.projection.rawValue] = LoRAPair(
                pieces: [LoRAPiece(a: aBuf.pointer, b: bBuf.pointer, rank: m.rank)], scale: m.scale)
        }
        targets = files.targets
        rank = files.rank
        byteCount = files.widenedByteCount
        weights = LoRAWeights(pairs: pairs, owner: buffers)
    }

    static func sizeName(_ p: Projection, input: Bool) -> String {
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
