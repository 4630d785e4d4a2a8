import Kernels

/// How one projection matrix (qkv, o, gate/up, down, LM head) is held: packed dense weights (F32/BF16/F16, the
/// `Matmul.packed` kernels) or quantized blocks as a GGUF file stores them (`QuantizedMatrix`: integer dot products
/// over activations quantized per block). A fused projection whose parts have different block types (Q4_K_M files
/// keep some v/down rows in Q6_K) is a list of parts, stacked by output rows. The forward pass calls
/// `Matmul.packed(weight:)` on either.
public enum ProjectionWeights: Sendable {
    case dense(PackedWeights)
    /// Parts stacked by output rows: part i computes outputs [offset_i, offset_i + rows_i).
    case quantized([QuantizedMatrix])

    /// F32 rows [rows, cols] held as `precision` asks: quantized at load, rounded to BF16, or packed F32.
    public init(converting wide: AlignedBuffer<Float>, rows: Int, cols: Int, precision: WeightPrecision) {
        if let q = precision.quantType, cols % q.blockElements == 0 {
            self = .quantized([QuantizedMatrix(quantizing: wide.pointer, rows: rows, cols: cols, type: q)])
        } else {
            self = .dense(PackedWeights(rowMajor: wide.pointer, rows: rows, cols: cols,
                                        element: precision == .bf16 ? .bf16 : .f32))
        }
    }

    /// N, the output features.
    public var outputs: Int {
        switch self {
        case .dense(let p): return p.outputs
        case .quantized(let parts): return parts.reduce(0) { $0 + $1.rows }
        }
    }

    /// K, the input features.
    public var inputs: Int {
        switch self {
        case .dense(let p): return p.inputs
        case .quantized(let parts): return parts[0].cols
        }
    }

    /// Bytes one full pass over the weights reads.
    public var byteCount: Int {
        switch self {
        case .dense(let p): return p.byteCount
        case .quantized(let parts): return parts.reduce(0) { $0 + $1.byteCount }
        }
    }

    /// The weight type's name as users see it: "bf16", "f16", "f32", or ggml's name of the block type ("Q4_K";
    /// "Q4_K+Q6_K" when the parts differ).
    public var typeName: String {
        switch self {
        case .dense(let p): return "\(p.element)"
        case .quantized(let parts):
            var names: [String] = []
            for p in parts where !names.contains(p.type.name) { names.append(p.type.name) }
            return names.joined(separator: "+")
        }
    }

    /// The packed element type of dense weights (nil for quantized ones).
    public var element: WeightElement? {
        switch self {
        case .dense(let p): return p.element
        case .quantized: return nil
        }
    }

    /// y: [M, ldy] = beta * y + x · Wᵀ over quantized parts (beta 0 or 1). Parts of one type share one quantization
    /// of the activations.
    fileprivate static func quantizedProduct(_ parts: [QuantizedMatrix], x: UnsafePointer<Float>, ldx: Int,
                                             rows M: Int, y: UnsafeMutablePointer<Float>, ldy: Int, beta: Float) {
        let N = parts.reduce(0) { $0 + $1.rows }
        // With beta 1 the product goes to scratch first and is added (the kernels overwrite).
        let scratch = beta == 0 ? nil : AlignedBuffer<Float>(count: M * N, zeroed: false)
        let out = scratch?.pointer ?? y, ldo = scratch == nil ? ldy : N
        var activations: [QuantType: AlignedBuffer<UInt8>] = [:]
        var offset = 0
        for part in parts {
            let qx: AlignedBuffer<UInt8>
            if let shared = activations[part.type] { qx = shared } else {
                qx = AlignedBuffer<UInt8>(count: part.activationBytes(rows: M), zeroed: false)
                part.quantizeActivations(x: x, ldx: ldx, rows: M, into: qx.pointer)
                activations[part.type] = qx
            }
            part.matmul(quantized: UnsafeRawPointer(qx.pointer), rows: M, y: out + offset, ldy: ldo)
            offset += part.rows
        }
        if let scratch {
            for m in 0..<M { Vector.add(y + m * ldy, scratch.pointer + m * N, N) }
        }
    }
}

extension Matmul {
    /// y: [M, ldy] (first `weight.outputs` columns written) = beta * y + x: [M, ldx] · Wᵀ, for dense or quantized W.
    @inline(__always)
    public static func packed(x: UnsafePointer<Float>, ldx: Int? = nil, rows M: Int, weight: ProjectionWeights,
                              y: UnsafeMutablePointer<Float>, ldy: Int? = nil, beta: Float = 0) {
        switch weight {
        case .dense(let p): packed(x: x, ldx: ldx, rows: M, weight: p, y: y, ldy: ldy, beta: beta)
        case .quantized(let parts):
            guard M > 0 else { return }
            precondition(beta == 0 || beta == 1, "quantized projections accumulate with beta 0 or 1")
            ProjectionWeights.quantizedProduct(parts, x: x, ldx: ldx ?? weight.inputs, rows: M, y: y,
                                               ldy: ldy ?? weight.outputs, beta: beta)
        }
    }
}

extension ModelWeights {
    /// The weight types of the projections, most common first where they differ: "bf16", "Q4_K+Q6_K", ...
    /// (`/v1/models`, metrics, `loractl status`, bench JSON).
    public var weightType: String {
        var names: [String] = []
        for p in layers.flatMap({ [$0.qkv, $0.output, $0.gateUp, $0.down] }) + [lmHead] {
            for n in p.typeName.split(separator: "+").map(String.init) where !names.contains(n) { names.append(n) }
        }
        return names.joined(separator: "+")
    }
}
