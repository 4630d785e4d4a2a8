import CKernels
import Foundation

/// A GGUF / ggml tensor type lorad computes with: its ggml id (the raw value), name and block geometry.
/// Block layouts are ggml's, byte for byte (CKernels/include/quant.h), so GGUF tensor data is used as mapped.
public enum QuantType: Int32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q4_K = 12, q5_K = 13, q6_K = 14
    case bf16 = 30

    /// The ggml spelling: "Q4_K", "BF16", ...
    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        }
    }

    /// The type named `name` (any case: "q4_k", "Q8_0", "bf16"), nil for anything else.
    public init?(name: String) {
        guard let t = QuantType.allCases.first(where: { $0.name.lowercased() == name.lowercased() }) else {
            return nil
        }
        self = t
    }

    /// The type with ggml id `id`, nil when lorad cannot compute with it.
    public init?(ggmlID id: Int) {
        guard let v = Int32(exactly: id), let t = QuantType(rawValue: v) else { return nil }
        self = t
    }

    /// Elements per block: 32, 256 for the K-quants, 1 for F32/F16/BF16.
    public var blockElements: Int { lk_q_block_elems(rawValue) }
    /// Bytes per block.
    public var blockBytes: Int { lk_q_block_bytes(rawValue) }
    /// Bytes of a row of `elements` values; nil when `elements` is not a multiple of `blockElements`.
    public func rowBytes(_ elements: Int) -> Int? {
        guard elements >= 0, elements % blockElements == 0 else { return nil }
        return elements / blockElements * blockBytes
    }
    /// True for the block-quantized types (everything but F32, F16, BF16).
    public var isQuantized: Bool { blockElements > 1 }

    /// `n` values (a multiple of `blockElements`) from `src` blocks into `dst` (bit-exact with gguf-py).
    public func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count n: Int) {
        precondition(n % blockElements == 0, "\(name): \(n) values are not whole blocks")
        lk_q_dequantize(rawValue, src, dst, n)
    }

    /// `n` values (a multiple of `blockElements`) into `dst` blocks, as llama-quantize writes them without an
    /// importance matrix. Returns the bytes written.
    @discardableResult
    public func quantize(_ src: UnsafePointer<Float>, into dst: UnsafeMutableRawPointer, count n: Int) -> Int {
        precondition(n % blockElements == 0, "\(name): \(n) values are not whole blocks")
        return lk_q_quantize(rawValue, src, dst, n)
    }
}

/// A weight matrix W [rows N, cols K] (HF `[out, in]`) stored as rows of quantized blocks, and the product
/// `y = x · Wᵀ` computed straight over the blocks.
///
/// The blocks either live in memory this object owns (`init(quantizing:)`) or in memory someone else keeps alive
/// (a memory-mapped GGUF file: `init(blocks:owner:)` holds `owner`). Immutable after init; the product may run
/// from any thread.
///
/// Batch invariance: on one instruction-set path, a row's result depends only on that row of x and W, not on how
/// many rows share the call or how the outputs are split across threads (CKernels/include/quant.h).
public final class QuantizedMatrix: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; `storage`/`owner` only keep the blocks alive.
    public let type: QuantType
    /// N, output features.
    public let rows: Int
    /// K, input features.
    public let cols: Int
    /// The first block of row 0; row n starts `rowBytes * n` bytes later.
    public let blocks: UnsafeRawPointer
    /// Bytes per row.
    public let rowBytes: Int
    private let storage: AlignedBuffer<UInt8>?
    private let owner: AnyObject?

    /// Bytes of weights (what one full product streams).
    public var byteCount: Int { rowBytes * rows }

    /// Wraps blocks that `owner` keeps alive (`cols` must be a multiple of the type's block size).
    public init(type: QuantType, rows: Int, cols: Int, blocks: UnsafeRawPointer, owner: AnyObject?) {
        precondition(rows >= 0 && cols >= 0)
        guard let rb = type.rowBytes(cols) else { preconditionFailure("\(type.name): \(cols) columns are not whole blocks") }
        self.type = type
        self.rows = rows
        self.cols = cols
        self.blocks = blocks
        rowBytes = rb
        storage = nil
        self.owner = owner
    }

    /// Quantizes row-major f32 `w` [rows, cols] to `type` (rows split across the kernel threads).
    public init(quantizing w: UnsafePointer<Float>, rows: Int, cols: Int, type: QuantType) {
        guard let rb = type.rowBytes(cols) else { preconditionFailure("\(type.name): \(cols) columns are not whole blocks") }
        let buffer = AlignedBuffer<UInt8>(count: max(1, rb * rows), zeroed: false)
        let src = SharedConstPointer(w), dst = SharedPointer(buffer.pointer)
        Parallel.forChunks(rows, minimumPerThread: 8) { r in
            for n in r { _ = lk_q_quantize(type.rawValue, src.base + n * cols, dst.base + n * rb, cols) }
        }
        self.type = type
        self.rows = rows
        self.cols = cols
        blocks = UnsafeRawPointer(buffer.pointer)
        rowBytes = rb
        storage = buffer
        owner = nil
    }

    /// Row `n` of W as f32 (`cols` values), e.g. an embedding lookup.
    public func dequantize(row n: Int, into dst: UnsafeMutablePointer<Float>) {
        precondition(n >= 0 && n < rows)
        lk_q_dequantize(type.rawValue, blocks + n * rowBytes, dst, cols)
    }

    /// Bytes of `m` activation rows quantized for this matrix.
    public func activationBytes(rows m: Int) -> Int { lk_q_act_bytes(type.rawValue, cols) * m }

    /// y: [M, ldy] (first `rows` columns written) = x: [M, ldx] (first `cols` used) · Wᵀ. The activations are
    /// quantized once, then the output rows of W are split across the kernel threads.
    public func matmul(x: UnsafePointer<Float>, ldx: Int? = nil, rows M: Int, y: UnsafeMutablePointer<Float>,
                       ldy: Int? = nil) {
        guard M > 0, rows > 0 else { return }
        let ldx = ldx ?? cols, ldy = ldy ?? rows
        let qx = AlignedBuffer<UInt8>(count: activationBytes(rows: M), zeroed: false)
        quantizeActivations(x: x, ldx: ldx, rows: M, into: qx.pointer)
        matmul(quantized: UnsafeRawPointer(qx.pointer), rows: M, y: y, ldy: ldy)
    }

    /// Quantizes activations x: [M, ldx] for this matrix into `qx` (`activationBytes(rows: M)` bytes), so several
    /// matrices with the same type and inputs (q/k/v, gate/up) can share them.
    public func quantizeActivations(x: UnsafePointer<Float>, ldx: Int, rows M: Int, into qx: UnsafeMutablePointer<UInt8>) {
        let t = type.rawValue, K = cols, rb = lk_q_act_bytes(t, K)
        let xs = SharedConstPointer(x), qs = SharedPointer(qx)
        Parallel.forChunks(M, minimumPerThread: max(1, 65536 / max(1, K))) { r in
            lk_q_quantize_act(t, xs.base + r.lowerBound * ldx, ldx, r.count, K, qs.base + r.lowerBound * rb)
        }
    }

    /// The product over activations already quantized for this matrix (`quantizeActivations`).
    public func matmul(quantized qx: UnsafeRawPointer, rows M: Int, y: UnsafeMutablePointer<Float>, ldy: Int) {
        guard M > 0, rows > 0 else { return }
        let t = type.rawValue, K = cols, w = SharedConstPointer(blocks.assumingMemoryBound(to: UInt8.self))
        let q = SharedConstPointer(qx.assumingMemoryBound(to: UInt8.self)), ys = SharedPointer(y)
        // Units of 16 output rows (the kernels' widest tile); ~256K multiply-adds per chunk at least.
        let units = (rows + 15) / 16
        let minUnits = max(1, (1 << 18) / max(1, M * K * 16))
        let N = rows
        Parallel.forChunks(units, minimumPerThread: minUnits) { r in
            lk_q_matmul(t, w.base, K, r.lowerBound * 16, min(N, r.upperBound * 16), q.base, M, ys.base, ldy)
        }
    }

    /// The scalar reference product on the calling thread, for outputs `outputs` (tests compare every path with it).
    public func matmulReference(quantized qx: UnsafeRawPointer, rows M: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                                outputs: Range<Int>? = nil) {
        let r = outputs ?? 0..<rows
        lk_q_matmul_ref(type.rawValue, blocks, cols, r.lowerBound, r.upperBound, qx, M, y, ldy)
    }

    /// The product for outputs `outputs` only, on the calling thread (for callers that split work themselves, and
    /// for the batch-invariance tests).
    public func matmul(quantized qx: UnsafeRawPointer, rows M: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                       outputs: Range<Int>) {
        lk_q_matmul(type.rawValue, blocks, cols, outputs.lowerBound, outputs.upperBound, qx, M, y, ldy)
    }
}
