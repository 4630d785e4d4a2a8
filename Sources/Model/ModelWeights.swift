import Foundation
import Kernels
import Safetensors

/// One decoder layer's weights. Projections are packed once at load for `Matmul.packed` (BF16 or F32, see
/// `WeightPrecision`) and fused where rows are computed together; norms and biases are F32.
public final class LayerWeights: Sendable {
    public let attentionNorm: AlignedBuffer<Float>   // [hidden]
    public let qkv: ProjectionWeights                    // [qDim + 2 kvDim, hidden] (q rows, then k, then v)
    public let qkvBias: AlignedBuffer<Float>?        // [qDim + 2 kvDim]
    public let output: ProjectionWeights                 // [hidden, qDim]
    public let outputBias: AlignedBuffer<Float>?     // [hidden]
    public let mlpNorm: AlignedBuffer<Float>         // [hidden]
    public let gateUp: ProjectionWeights                 // [2 intermediate, hidden] (gate rows, then up)
    public let gateUpBias: AlignedBuffer<Float>?     // [2 intermediate]
    public let down: ProjectionWeights                   // [hidden, intermediate]
    public let downBias: AlignedBuffer<Float>?       // [hidden]

    init(attentionNorm: AlignedBuffer<Float>, qkv: ProjectionWeights, qkvBias: AlignedBuffer<Float>?,
         output: ProjectionWeights, outputBias: AlignedBuffer<Float>?, mlpNorm: AlignedBuffer<Float>,
         gateUp: ProjectionWeights, gateUpBias: AlignedBuffer<Float>?, down: ProjectionWeights,
         downBias: AlignedBuffer<Float>?) {
        self.attentionNorm = attentionNorm
        self.qkv = qkv
        self.qkvBias = qkvBias
        self.output = output
        self.outputBias = outputBias
        self.mlpNorm = mlpNorm
        self.gateUp = gateUp
        self.gateUpBias = gateUpBias
        self.down = down
        self.downBias = downBias
    }

    /// Bytes one decode step reads from this layer.
    var byteCount: Int {
        attentionNorm.byteCount + qkv.byteCount + output.byteCount + mlpNorm.byteCount + gateUp.byteCount
            + down.byteCount + (qkvBias?.byteCount ?? 0) + (outputBias?.byteCount ?? 0)
            + (gateUpBias?.byteCount ?? 0) + (downBias?.byteCount ?? 0)
    }
}

/// All weights of a Llama-family model. The embedding, norms and biases are F32; the projections and the LM head are
/// `PackedWeights` in the element type `precision` picks (BF16, F16 or F32).
public final class ModelWeights: Sendable {
    public let config: ModelConfig
    public let precision: WeightPrecision
    public let embedding: AlignedBuffer<Float>   // [vocab, hidden] (one row read per token, so it stays F32)
    public let layers: [LayerWeights]
    public let finalNorm: AlignedBuffer<Float>   // [hidden]
    public let lmHead: ProjectionWeights             // [vocab, hidden]; packed from the embedding when tied
    /// True when the LM head was packed from the embedding (tied embeddings, no `lm_head.weight`).
    public let lmHeadIsTied: Bool

    /// Bytes of weights one decode step streams: every layer matrix as packed (BF16/F16 two bytes, F32 four, output
    /// features padded to 16), the final norm and the LM head, plus one embedding row.
    public var bytesPerDecodedToken: Int {
        config.hiddenSize * 4 + finalNorm.byteCount + lmHead.byteCount + layers.reduce(0) { $0 + $1.byteCount }
    }

    /// Weights built by another loader (GGUF files: `ModelWeights(gguf:)`).
    init(config: ModelConfig, precision: WeightPrecision, embedding: AlignedBuffer<Float>, layers: [LayerWeights],
         finalNorm: AlignedBuffer<Float>, lmHead: ProjectionWeights, lmHeadIsTied: Bool) {
        self.config = config
        self.precision = precision
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.lmHead = lmHead
        self.lmHeadIsTied = lmHeadIsTied
    }

    public init(config: ModelConfig, store: TensorStore, precision: WeightPrecision = .asStored) throws {
        self.config = config
        self.precision = precision
        let h = config.hiddenSize, inter = config.intermediateSize
        let q = config.qDim, kv = config.kvDim
        let reader = WeightReader(store: store, precision: precision)

        embedding = try reader.floats([("model.embed_tokens.weight", config.vocabSize)], cols: h)
        var layers: [LayerWeights] = []
        for i in 0..<config.layerCount {
            let p = "model.layers.\(i)."
            let attn = p + "self_attn.", mlp = p + "mlp."
            layers.append(LayerWeights(
                attentionNorm: try reader.vector(p + "input_layernorm.weight", h),
                qkv: try reader.projection([(attn + "q_proj.weight", q), (attn + "k_proj.weight", kv),
                                            (attn + "v_proj.weight", kv)], cols: h),
                qkvBias: config.qkvBias
                    ? try reader.floats([(attn + "q_proj.bias", q), (attn + "k_proj.bias", kv),
                                         (attn + "v_proj.bias", kv)], cols: 1)
                    : nil,
                output: try reader.projection([(attn + "o_proj.weight", h)], cols: q),
                outputBias: config.outputBias ? try reader.vector(attn + "o_proj.bias", h) : nil,
                mlpNorm: try reader.vector(p + "post_attention_layernorm.weight", h),
                gateUp: try reader.projection([(mlp + "gate_proj.weight", inter), (mlp + "up_proj.weight", inter)],
                                              cols: h),
                gateUpBias: config.mlpBias
                    ? try reader.floats([(mlp + "gate_proj.bias", inter), (mlp + "up_proj.bias", inter)], cols: 1)
                    : nil,
                down: try reader.projection([(mlp + "down_proj.weight", h)], cols: inter),
                downBias: config.mlpBias ? try reader.vector(mlp + "down_proj.bias", h) : nil))
        }
        self.layers = layers
        finalNorm = try reader.vector("model.norm.weight", h)
        lmHeadIsTied = config.tieWordEmbeddings && !store.contains("lm_head.weight")
        let head = lmHeadIsTied ? "model.embed_tokens.weight" : "lm_head.weight"
        lmHead = try reader.projection([(head, config.vocabSize)], cols: h)
    }
}

/// Reads a model's tensors for `ModelWeights`: F32 buffers for what stays wide, packed projections for the rest.
/// Errors name the tensor, as `TensorStore` does.
private struct WeightReader {
    let store: TensorStore
    let precision: WeightPrecision

    /// A [count] vector as F32.
    func vector(_ name: String, _ count: Int) throws -> AlignedBuffer<Float> { try floats([(name, count)], cols: 1) }

    /// Tensors [rows_i, cols] (or [rows_i] when cols is 1) stacked into one F32 buffer [sum rows_i, cols].
    func floats(_ parts: [(name: String, rows: Int)], cols: Int) throws -> AlignedBuffer<Float> {
        let buf = AlignedBuffer<Float>(count: parts.reduce(0) { $0 + $1.rows } * cols, zeroed: false)
        var row = 0
        for part in parts {
            let shape = cols == 1 ? [part.rows] : [part.rows, cols]
            do { try store.readFloats(part.name, expectedShape: shape, into: buf.pointer + row * cols) }
            catch let e as SafetensorsError { throw ModelError(e.description) }
            row += part.rows
        }
        return buf
    }

    /// Tensors [rows_i, cols] stacked into one projection [sum rows_i, cols], packed once. BF16 and F16 tensors stay
    /// narrow under `.asStored` (when every part has the same type); everything else is widened to F32 (exactly).
    func projection(_ parts: [(name: String, rows: Int)], cols: Int) throws -> ProjectionWeights {
        let rows = parts.reduce(0) { $0 + $1.rows }
        if precision == .asStored {
            let types = try parts.map { try storedType($0.name, [$0.rows, cols]) }
            if let narrow = types.first, narrow == .bf16 || narrow == .f16, types.allSatisfy({ $0 == narrow }) {
                // Raw 16-bit weights, stacked: [rows, cols]. memcpy: the mapped data may be only byte-aligned. (The
                // reader has checked each tensor's byte count against its shape; min() keeps the copy in bounds.)
                let raw = AlignedBuffer<UInt16>(count: rows * cols, zeroed: true)
                var row = 0
                for part in parts {
                    let bytes = try rawBytes(part.name)
                    memcpy(raw.pointer + row * cols, bytes.baseAddress!, min(bytes.count, part.rows * cols * 2))
                    row += part.rows
                }
                return .dense(narrow == .bf16 ? PackedWeights(bf16RowMajor: raw.pointer, rows: rows, cols: cols)
                    : PackedWeights(f16RowMajor: raw.pointer, rows: rows, cols: cols))
            }
        }
        let wide = try floats(parts, cols: cols)
        return ProjectionWeights(converting: wide, rows: rows, cols: cols, precision: precision)
    }

    /// The stored dtype of `name`, after checking it exists with `shape`.
    private func storedType(_ name: String, _ shape: [Int]) throws -> DType {
        guard let info = store.info(name) else { throw ModelError("tensor \"\(name)\" is missing") }
        guard info.shape == shape else {
            throw ModelError("tensor \"\(name)\" has shape \(info.shape), expected \(shape)")
        }
        return info.dtype
    }

    private func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let file = store.files.first(where: { $0.tensors[name] != nil }), let info = file.tensors[name] else {
            throw ModelError("tensor \"\(name)\" is missing")
        }
        return file.rawBytes(info)
    }
}
