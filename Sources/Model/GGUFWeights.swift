import Foundation
import GGUF
import Kernels

extension ModelWeights {
    /// The weights of a GGUF model (llama.cpp's tensor names). Norms, biases and the embedding become F32; each
    /// projection is held as its parts are stored (BF16/F16 packed narrow, F32 packed, quantized blocks as they are)
    /// unless `precision` asks for another type. For `llama` files the Q and K rows are put back in Hugging Face's
    /// order (llama.cpp's converter interleaves each head's two rotary halves).
    public convenience init(config: ModelConfig, gguf file: GGUFFile, precision: WeightPrecision = .asStored) throws {
        let reader = GGUFWeightReader(file: file, precision: precision,
                                      permuteQK: config.architecture == "LlamaForCausalLM")
        let h = config.hiddenSize, inter = config.intermediateSize
        let q = config.qDim, kv = config.kvDim
        let embedding = try reader.floats([.init("token_embd.weight", config.vocabSize)], cols: h)
        var layers: [LayerWeights] = []
        for i in 0..<config.layerCount {
            let p = "blk.\(i)."
            let qPart = GGUFWeightReader.Part(p + "attn_q.weight", q, heads: config.headCount)
            let kPart = GGUFWeightReader.Part(p + "attn_k.weight", kv, heads: config.kvHeadCount)
            layers.append(LayerWeights(
                attentionNorm: try reader.floats([.init(p + "attn_norm.weight", h)], cols: 1),
                qkv: try reader.projection([qPart, kPart, .init(p + "attn_v.weight", kv)], cols: h),
                qkvBias: config.qkvBias
                    ? try reader.floats([.init(p + "attn_q.bias", q, heads: config.headCount),
                                         .init(p + "attn_k.bias", kv, heads: config.kvHeadCount),
                                         .init(p + "attn_v.bias", kv)], cols: 1)
                    : nil,
                output: try reader.projection([.init(p + "attn_output.weight", h)], cols: q),
                outputBias: config.outputBias ? try reader.floats([.init(p + "attn_output.bias", h)], cols: 1) : nil,
                mlpNorm: try reader.floats([.init(p + "ffn_norm.weight", h)], cols: 1),
                gateUp: try reader.projection([.init(p + "ffn_gate.weight", inter), .init(p + "ffn_up.weight", inter)],
                                              cols: h),
                gateUpBias: config.mlpBias
                    ? try reader.floats([.init(p + "ffn_gate.bias", inter), .init(p + "ffn_up.bias", inter)], cols: 1)
                    : nil,
                down: try reader.projection([.init(p + "ffn_down.weight", h)], cols: inter),
                downBias: config.mlpBias ? try reader.floats([.init(p + "ffn_down.bias", h)], cols: 1) : nil))
        }
        let tied = file.tensors["output.weight"] == nil
        self.init(config: config, precision: precision, embedding: embedding, layers: layers,
                  finalNorm: try reader.floats([.init("output_norm.weight", h)], cols: 1),
                  lmHead: try reader.projection([.init(tied ? "token_embd.weight" : "output.weight", config.vocabSize)],
                                                cols: h),
                  lmHeadIsTied: tied)
    }
}

/// Reads a GGUF model's tensors for `ModelWeights(gguf:)`. Errors name the tensor.
struct GGUFWeightReader {
    /// One tensor of a stacked matrix: `rows` rows of the HF weight; `heads` set for llama's permuted Q/K.
    struct Part {
        let name: String
        let rows: Int
        let heads: Int?
        init(_ name: String, _ rows: Int, heads: Int? = nil) {
            self.name = name
            self.rows = rows
            self.heads = heads
        }
    }

    let file: GGUFFile
    let precision: WeightPrecision
    let permuteQK: Bool

    /// The tensor `part` names, checked to hold [rows, cols] (ggml shape [cols, rows], or [rows] when cols is 1).
    func info(_ part: Part, cols: Int) throws -> GGUFTensorInfo {
        guard let info = file.tensors[part.name] else { throw ModelError("tensor \"\(part.name)\" is missing") }
        let expected = cols == 1 ? [part.rows] : [cols, part.rows]
        guard info.shape == expected else {
            throw ModelError("tensor \"\(part.name)\" has shape \(info.shape), expected \(expected) (ggml order)")
        }
        return info
    }

    /// The source row of HF row `r`: llama.cpp's converter stores each head's rows (h, j, i) as (h, i, j) for
    /// j the rotary half and i the pair index; this undoes it.
    func sourceRow(_ r: Int, _ part: Part) -> Int {
        guard permuteQK, let heads = part.heads else { return r }
        let hd = part.rows / heads, half = hd / 2
        let h = r / hd, within = r % hd, j = within / half, i = within % half
        return h * hd + 2 * i + j
    }

    /// Parts [rows_i, cols] stacked into one F32 buffer [sum rows_i, cols], in HF row order.
    func floats(_ parts: [Part], cols: Int) throws -> AlignedBuffer<Float> {
        let buf = AlignedBuffer<Float>(count: parts.reduce(0) { $0 + $1.rows } * cols, zeroed: false)
        var row = 0
        for part in parts {
            let info = try info(part, cols: cols)
            let raw = file.rawBytes(info)
            let rowBytes = info.byteCount / part.rows
            let width = cols == 1 ? part.rows : cols
            let rows = cols == 1 ? 1 : part.rows
            for r in 0..<rows {
                let src = raw.baseAddress! + sourceRow(r, part) * rowBytes
                try widen(src, type: info.type, count: width, into: buf.pointer + (row + r) * cols, name: part.name)
            }
            if cols == 1 && part.heads != nil && permuteQK {
                // A bias vector is permuted like the rows of its weight.
                let copy = Array(UnsafeBufferPointer(start: buf.pointer + row, count: part.rows))
                for r in 0..<part.rows { buf.pointer[row + r] = copy[sourceRow(r, part)] }
            }
            row += part.rows
        }
        return buf
    }

    /// `count` elements of a row of `type` at `src` as F32.
    func widen(_ src: UnsafeRawPointer, type: GGMLType, count: Int, into dst: UnsafeMutablePointer<Float>,
               name: String) throws {
        switch type {
        case .f32: memcpy(dst, src, count * 4)
        case .f16, .bf16:
            // The mapped data is only 2-byte aligned at best; copy to aligned halves first.
            let halves = [UInt16](unsafeUninitializedCapacity: count) { b, n in
                memcpy(b.baseAddress!, src, count * 2)
                n = count
            }
            halves.withUnsafeBufferPointer {
                if type == .f16 { Convert.f16ToF32($0.baseAddress!, dst, count) }
                else { Convert.bf16ToF32($0.baseAddress!, dst, count) }
            }
        default:
            let q = try quantType(type, name)
            q.dequantize(src, into: dst, count: count)
        }
    }

    /// The kernels' type for a tensor's ggml type; anything lorad cannot compute with is refused by name.
    func quantType(_ type: GGMLType, _ name: String) throws -> QuantType {
        guard let q = QuantType(ggmlID: Int(type.id)) else {
            throw ModelError("tensor \"\(name)\" has type \(type), which lorad does not load (it loads "
                + QuantType.allCases.map(\.name).joined(separator: ", ") + ")")
        }
        return q
    }

    /// Parts [rows_i, cols] stacked into one projection [sum rows_i, cols].
    func projection(_ parts: [Part], cols: Int) throws -> ProjectionWeights {
        let infos = try parts.map { try info($0, cols: cols) }
        let rows = parts.reduce(0) { $0 + $1.rows }
        if precision == .asStored, infos.contains(where: { $0.type.blockElements > 1 }) {
            // Quantized blocks are used where they are mapped; llama's Q/K rows are reordered into a copy.
            return .quantized(try zip(parts, infos).map { part, info in
                let q = try quantType(info.type, part.name)
                let bytes = file.rawBytes(info)
                guard permuteQK, part.heads != nil else {
                    return QuantizedMatrix(type: q, rows: part.rows, cols: cols, blocks: bytes.baseAddress!, owner: file)
                }
                let rowBytes = info.byteCount / part.rows
                let copy = AlignedBuffer<UInt8>(count: info.byteCount, zeroed: false)
                for r in 0..<part.rows {
                    memcpy(copy.pointer + r * rowBytes, bytes.baseAddress! + sourceRow(r, part) * rowBytes, rowBytes)
                }
                return QuantizedMatrix(type: q, rows: part.rows, cols: cols, blocks: UnsafeRawPointer(copy.pointer),
                                       owner: copy)
            })
        }
        if precision == .asStored, let narrow = infos.first?.type, narrow == .bf16 || narrow == .f16,
           infos.allSatisfy({ $0.type == narrow }) {
            let raw = AlignedBuffer<UInt16>(count: rows * cols, zeroed: false)
            var row = 0
            for (part, info) in zip(parts, infos) {
                let bytes = file.rawBytes(info)
                for r in 0..<part.rows {
                    memcpy(raw.pointer + (row + r) * cols, bytes.baseAddress! + sourceRow(r, part) * cols * 2, cols * 2)
                }
                row += part.rows
            }
            return .dense(narrow == .bf16 ? PackedWeights(bf16RowMajor: raw.pointer, rows: rows, cols: cols)
                : PackedWeights(f16RowMajor: raw.pointer, rows: rows, cols: cols))
        }
        let wide = try floats(parts, cols: cols)
        return ProjectionWeights(converting: wide, rows: rows, cols: cols, precision: precision)
    }
}
