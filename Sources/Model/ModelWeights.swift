import Foundation
import Kernels
import Safetensors

/// One decoder layer's weights, F32, fused where rows are computed together:
/// qkv: [qDim + 2 kvDim, hidden] (q rows, then k, then v), gateUp: [2 intermediate, hidden] (gate, then up).
public final class LayerWeights: Sendable {
    public let attentionNorm: AlignedBuffer<Float>   // [hidden]
    public let qkv: AlignedBuffer<Float>             // [qDim + 2 kvDim, hidden]
    public let qkvBias: AlignedBuffer<Float>?        // [qDim + 2 kvDim]
    public let output: AlignedBuffer<Float>          // [hidden, qDim]
    public let outputBias: AlignedBuffer<Float>?     // [hidden]
    public let mlpNorm: AlignedBuffer<Float>         // [hidden]
    public let gateUp: AlignedBuffer<Float>          // [2 intermediate, hidden]
    public let gateUpBias: AlignedBuffer<Float>?     // [2 intermediate]
    public let down: AlignedBuffer<Float>            // [hidden, intermediate]
    public let downBias: AlignedBuffer<Float>?       // [hidden]

    init(attentionNorm: AlignedBuffer<Float>, qkv: AlignedBuffer<Float>, qkvBias: AlignedBuffer<Float>?,
         output: AlignedBuffer<Float>, outputBias: AlignedBuffer<Float>?, mlpNorm: AlignedBuffer<Float>,
         gateUp: AlignedBuffer<Float>, gateUpBias: AlignedBuffer<Float>?, down: AlignedBuffer<Float>,
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
}

/// All weights of a Llama-family model, widened to F32 at load.
public final class ModelWeights: Sendable {
    public let config: ModelConfig
    public let embedding: AlignedBuffer<Float>   // [vocab, hidden]
    public let layers: [LayerWeights]
    public let finalNorm: AlignedBuffer<Float>   // [hidden]
    public let lmHead: AlignedBuffer<Float>      // [vocab, hidden]; the embedding itself when tied

    /// Bytes of weights one decode step streams: every layer matrix, the final norm and the LM head,
    /// plus one embedding row.
    public var bytesPerDecodedToken: Int {
        var total = config.hiddenSize * 4 + finalNorm.byteCount + lmHead.byteCount
        for l in layers {
            total += l.attentionNorm.byteCount + l.qkv.byteCount + l.output.byteCount + l.mlpNorm.byteCount
                + l.gateUp.byteCount + l.down.byteCount
            total += (l.qkvBias?.byteCount ?? 0) + (l.outputBias?.byteCount ?? 0)
                + (l.gateUpBias?.byteCount ?? 0) + (l.downBias?.byteCount ?? 0)
        }
        return total
    }

    public init(config: ModelConfig, store: TensorStore) throws {
        self.config = config
        let h = config.hiddenSize, inter = config.intermediateSize
        let q = config.qDim, kv = config.kvDim

        func load(_ name: String, _ shape: [Int]) throws -> AlignedBuffer<Float> {
            let buf = AlignedBuffer<Float>(count: shape.reduce(1, *), zeroed: false)
            do { try store.readFloats(name, expectedShape: shape, into: buf.pointer) } catch let e as SafetensorsError {
                throw ModelError(e.description)
            }
            return buf
        }
        /// Loads several [rows_i, cols] tensors stacked into one [sum rows_i, cols] buffer.
        func stacked(_ parts: [(String, Int)], cols: Int) throws -> AlignedBuffer<Float> {
            let buf = AlignedBuffer<Float>(count: parts.reduce(0) { $0 + $1.1 } * cols, zeroed: false)
            var row = 0
            for (name, rows) in parts {
                let shape = cols == 1 ? [rows] : [rows, cols]
                do { try store.readFloats(name, expectedShape: shape, into: buf.pointer + row * cols) }
                catch let e as SafetensorsError { throw ModelError(e.description) }
                row += rows
            }
            return buf
        }

        embedding = try load("model.embed_tokens.weight", [config.vocabSize, h])
        var layers: [LayerWeights] = []
        for i in 0..<config.layerCount {
            let p = "model.layers.\(i)."
            let attn = p + "self_attn.", mlp = p + "mlp."
            layers.append(LayerWeights(
                attentionNorm: try load(p + "input_layernorm.weight", [h]),
                qkv: try stacked([(attn + "q_proj.weight", q), (attn + "k_proj.weight", kv), (attn + "v_proj.weight", kv)], cols: h),
                qkvBias: config.qkvBias
                    ? try stacked([(attn + "q_proj.bias", q), (attn + "k_proj.bias", kv), (attn + "v_proj.bias", kv)], cols: 1)
                    : nil,
                output: try load(attn + "o_proj.weight", [h, q]),
                outputBias: config.outputBias ? try load(attn + "o_proj.bias", [h]) : nil,
                mlpNorm: try load(p + "post_attention_layernorm.weight", [h]),
                gateUp: try stacked([(mlp + "gate_proj.weight", inter), (mlp + "up_proj.weight", inter)], cols: h),
                gateUpBias: config.mlpBias
                    ? try stacked([(mlp + "gate_proj.bias", inter), (mlp + "up_proj.bias", inter)], cols: 1) : nil,
                down: try load(mlp + "down_proj.weight", [h, inter]),
                downBias: config.mlpBias ? try load(mlp + "down_proj.bias", [h]) : nil))
        }
        self.layers = layers
        finalNorm = try load("model.norm.weight", [h])
        if config.tieWordEmbeddings && !store.contains("lm_head.weight") {
            lmHead = embedding
        } else {
            lmHead = try load("lm_head.weight", [config.vocabSize, h])
        }
    }
}
