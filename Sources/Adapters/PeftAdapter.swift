import Foundation
import Kernels
import Model
import Safetensors

/// A PEFT LoRA adapter's files, checked against one base model but not yet read: for each targeted projection of
/// each layer, the tensors that hold its A and B, its rank and its scale. Reading them is a separate step, so the
/// weights go in one pass from the page cache to where they are used: `PeftAdapter` reads them onto the heap,
/// `PooledAdapter` straight into pages of the memory pool. A module whose A and B are both BF16 (or both F16) stays
/// in that type: the SGMV kernel widens it exactly in registers, so results are those of the widened values with
/// half the bytes read per step. Any other mix is widened to F32. Values are checked finite as they are read.
public final class PeftAdapterFiles: Sendable {
    /// One targeted projection of one layer.
    public struct Module: Sendable {
        public let layer: Int
        public let projection: Projection
        public let rank: Int
        /// alpha/r, or alpha/sqrt(r) for rsLoRA.
        public let scale: Float
        /// How the weights are held once read: the file's type when A and B share a narrow one, else F32.
        public let element: WeightElement
        let a: TensorInfo
        let b: TensorInfo

        /// `model.layers.N.parent.module`, as error messages (and target_modules) name it.
        public var path: String { Self.path(layer: layer, projection) }

        static func path(layer: Int, _ projection: Projection) -> String {
            "model.layers.\(layer).\(projection.parentModule).\(projection.moduleName)"
        }
    }

    public let name: String
    public let config: PeftConfig
    /// In (layer, projection) order.
    public let modules: [Module]
    /// Targeted projections, in Projection order.
    public let targets: [Projection]
    /// Largest rank over the adapter's modules.
    public let rank: Int
    /// Bytes the LoRA weights take once read (each module in its `element` type).
    public let byteCount: Int
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
            let module = Module.path(layer: parsed.layer, projection)   // the parent was checked just above
            guard try Self.bounded(fail, { try config.targets(module: module) }) else {
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
                let module = Module.path(layer: layer, projection)
                guard let a = entry.a, let b = entry.b else {
                    throw fail("\(module) has lora_\(entry.a == nil ? "B" : "A") but not lora_\(entry.a == nil ? "A" : "B")")
                }
                let (input, output) = projection.shape(model)
                let (expectedRank, alpha) = try Self.bounded(fail, { try config.rankAndAlpha(module: module) })
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
                let scale = config.useRslora ? alpha / Double(r).squareRoot() : alpha / Double(r)
                let narrow = a.dtype == b.dtype && (a.dtype == .bf16 || a.dtype == .f16)
                let element: WeightElement = !narrow ? .f32 : a.dtype == .bf16 ? .bf16 : .f16
                modules.append(Module(layer: layer, projection: projection, rank: r, scale: Float(scale),
                                      element: element, a: a, b: b))
                targets.insert(projection)
                maxRank = max(maxRank, r)
                bytes += (input + output) * r * element.byteSize
            }
        }
        self.modules = modules
        self.targets = targets.sorted { $0.rawValue < $1.rawValue }
        self.rank = maxRank
        self.byteCount = bytes
    }

    /// Reads rank rows `rows` of `module` in its `element` type: A's rows into `a` as [k, input] and the matching
    /// columns of B into `b` as rows [k, output] (Bᵀ; k = rows.count). Throws if a value is not finite.
    public func read(_ module: Module, rows: Range<Int>, a: UnsafeMutableRawPointer, b: UnsafeMutableRawPointer) throws {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= module.rank)
        let (input, output) = module.projection.shape(modelConfig)
        let k = rows.count
        let aFile = file.rawBytes(module.a).baseAddress! + rows.lowerBound * input * module.a.dtype.byteSize
        let bFile = file.rawBytes(module.b).baseAddress!
        let finiteA: Bool, finiteB: Bool
        switch module.element {
        case .f32:
            let a = a.bindMemory(to: Float.self, capacity: k * input), b = b.bindMemory(to: Float.self, capacity: k * output)
            try Self.widenRun(aFile, of: module.a, count: k * input, into: a)
            try Self.transposeB(module, rows: rows, output: output, into: b) { o0, n, block in
                try Self.widenRun(bFile + o0 * module.rank * module.b.dtype.byteSize, of: module.b, count: n * module.rank,
                                  into: block)
            }
            (finiteA, finiteB) = (Self.allFinite(a, k * input), Self.allFinite(b, k * output))
        case .bf16, .f16:
            let a = a.bindMemory(to: UInt16.self, capacity: k * input), b = b.bindMemory(to: UInt16.self, capacity: k * output)
            UnsafeMutableRawPointer(a).copyMemory(from: aFile, byteCount: k * input * 2)
            Self.transposeB(module, rows: rows, output: output, into: b) { o0, n, block in
                UnsafeMutableRawPointer(block).copyMemory(from: bFile + o0 * module.rank * 2, byteCount: n * module.rank * 2)
            }
            // All-ones exponent: infinity or NaN.
            let exponent: UInt16 = module.element == .bf16 ? 0x7f80 : 0x7c00
            (finiteA, finiteB) = (Self.allFinite(a, k * input, exponent: exponent),
                                  Self.allFinite(b, k * output, exponent: exponent))
        }
        guard finiteA else { throw AdapterError("adapter \"\(name)\": \(module.path) lora_A holds a non-finite value") }
        guard finiteB else { throw AdapterError("adapter \"\(name)\": \(module.path) lora_B holds a non-finite value") }
    }

    /// Bᵀ rows `rows` of `module` into `dst` as [k, output]. B is [output, r] in the file: `load(o0, n, block)` puts
    /// B's rows o0..<o0+n into `block` ([n, r], as T), then the block's k columns are transposed out.
    private static func transposeB<T: BitwiseCopyable & Numeric>(
        _ module: Module, rows: Range<Int>, output: Int, into dst: UnsafeMutablePointer<T>,
        load: (Int, Int, UnsafeMutablePointer<T>) throws -> Void) rethrows {
        let r = module.rank, k = rows.count, blockRows = 64
        var scratch = [T](repeating: 0, count: blockRows * r)
        try scratch.withUnsafeMutableBufferPointer { block in
            for o0 in stride(from: 0, to: output, by: blockRows) {
                let n = min(blockRows, output - o0)
                try load(o0, n, block.baseAddress!)
                for j in 0..<k {
                    let to = dst + j * output + o0, from = block.baseAddress! + rows.lowerBound + j
                    for o in 0..<n { to[o] = from[o * r] }
                }
            }
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

    /// The same for 16-bit floats whose exponent field is `exponent` (bf16 0x7f80, f16 0x7c00).
    private static func allFinite(_ p: UnsafePointer<UInt16>, _ n: Int, exponent: UInt16) -> Bool {
        let lowest = exponent & (~exponent &+ 1)   // the exponent field's lowest bit
        var carry: UInt16 = 0
        for i in 0..<n { carry |= (p[i] & exponent) &+ lowest }
        return carry & 0x8000 == 0
    }

    /// Runs a config lookup whose regex may give up (`PeftConfig.fullMatch`), naming the adapter in its error.
    private static func bounded<T>(_ fail: (String) -> AdapterError, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as AdapterError { throw fail(e.description) }
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

    private struct ParsedKey {
        let layer: Int
        let parent: String
        let module: String
        let isA: Bool
    }

    /// `base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight` (optionally `.lora_A.default.weight`).
    private static func parseKey(_ key: String) -> ParsedKey? {
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

/// A PEFT LoRA adapter loaded for one base model: validated against its shapes, weights read onto the heap (F32, or
/// BF16/F16 as stored) and laid out as the SGMV kernel reads them (A: [rank, input], Bᵀ: [rank, output] per
/// targeted projection and layer).
public final class PeftAdapter: Sendable {
    public let name: String
    public let config: PeftConfig
    /// Targeted projections, in Projection order.
    public let targets: [Projection]
    /// Largest rank over the adapter's modules.
    public let rank: Int
    public let weights: LoRAWeights
    /// Bytes of LoRA weights held.
    public let byteCount: Int

    /// Loads `directory` (adapter_config.json + adapter_model.safetensors) for a base model of `model`.
    public convenience init(directory: URL, name: String? = nil, model: ModelConfig) throws {
        try self.init(try PeftAdapterFiles(directory: directory, name: name, model: model))
    }

    /// Reads `files` onto the heap.
    public init(_ files: PeftAdapterFiles) throws {
        name = files.name
        config = files.config
        var pairs = [[LoRAPair?]](repeating: [LoRAPair?](repeating: nil, count: Projection.allCases.count),
                                  count: files.modelConfig.layerCount)
        // One buffer for every module (64-byte aligned slices): a large one is mapped with huge pages, and the
        // SGMV kernel streams the adapter without a TLB miss every 4 KiB.
        func aligned(_ n: Int) -> Int { (n + 63) / 64 * 64 }
        var sizes: [(a: Int, b: Int)] = []
        for m in files.modules {
            let (input, output) = m.projection.shape(files.modelConfig)
            sizes.append((m.rank * input * m.element.byteSize, output * m.rank * m.element.byteSize))
        }
        let buffer = AlignedBuffer<UInt8>(count: sizes.reduce(0) { $0 + aligned($1.a) + aligned($1.b) }, zeroed: false)
        var offset = 0
        for (m, size) in zip(files.modules, sizes) {
            let a = buffer.pointer + offset, b = a + aligned(size.a)
            offset += aligned(size.a) + aligned(size.b)
            try files.read(m, rows: 0..<m.rank, a: a, b: b)
            let (input, output) = m.projection.shape(files.modelConfig)
            let gain = Self.gain(m, a: a, b: b, input: input, output: output)
            guard gain <= Self.maxGain else {
                throw AdapterError("adapter \"\(files.name)\": \(m.path) can multiply its input by up to \(Float(gain)) (scale × largest row sum of |A| × largest row sum of |B|), over the limit of \(Float(Self.maxGain)); its values would overflow the model's activations")
            }
            pairs[m.layer][m.projection.rawValue] = LoRAPair(
                pieces: [LoRAPiece(a: a, b: b, rank: m.rank, element: m.element)], scale: m.scale)
        }
        targets = files.targets
        rank = files.rank
        byteCount = files.byteCount
        weights = LoRAWeights(pairs: pairs, owner: buffer)
    }

    /// The largest factor by which one module's LoRA delta can exceed its input, in the max norm:
    /// ‖s·B·A·x‖∞ ≤ s · max_j Σ_r |B[j,r]| · max_r Σ_i |A[r,i]| · ‖x‖∞. Trained adapters stay below ~10³; past
    /// `maxGain` the products in attention and the MLP (squares of the activations, summed over thousands of
    /// terms) can leave Float's range, so registration refuses it.
    static let maxGain = 1e12

    static func gain(_ m: PeftAdapterFiles.Module, a: UnsafeMutableRawPointer, b: UnsafeMutableRawPointer,
                     input: Int, output: Int) -> Double {
        func value(_ p: UnsafeMutableRawPointer, _ i: Int) -> Double {
            switch m.element {
            case .f32: return Double(p.assumingMemoryBound(to: Float.self)[i])
            case .bf16: return Double(Float(bitPattern: UInt32(p.assumingMemoryBound(to: UInt16.self)[i]) << 16))
            case .f16: return Double(Float(Float16(bitPattern: p.assumingMemoryBound(to: UInt16.self)[i])))
            }
        }
        var rowA = 0.0   // A: [rank, input]
        for r in 0..<m.rank {
            var sum = 0.0
            for i in 0..<input { sum += abs(value(a, r * input + i)) }
            rowA = max(rowA, sum)
        }
        var columns = [Double](repeating: 0, count: output)   // Bᵀ: [rank, output]; B's row j is column j
        for r in 0..<m.rank {
            for j in 0..<output { columns[j] += abs(value(b, r * output + j)) }
        }
        return Double(abs(m.scale)) * rowA * (columns.max() ?? 0)
    }
}
