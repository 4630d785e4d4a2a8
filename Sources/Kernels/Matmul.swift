import CKernels
import Foundation

/// Dense projections `y = beta · y + x · Wᵀ` with HF's `[out, in]` weights, through our own kernel for every row
/// count (decode, batched decode, prefill).
///
/// Batch invariance. Every output is computed with one arithmetic, whatever the number of rows, the row's place in
/// the batch, the thread count or split, and the tile that computes it:
///
///     acc = +0;  for k in 0 ..< K (ascending):  acc = fma(x[m, k], w[n, k], acc)
///     y[m, n] = beta == 0 ? acc : fma(beta, y[m, n], acc)
///
/// so a sequence's greedy output never depends on what shares its step. (The kernels vectorise along n, 16
/// outputs per panel, broadcasting x: no horizontal sums. K-blocking parks acc in memory, which is exact.)
/// OpenBLAS sgemm is not used for projections: its blocking changes a row's rounding with the batch's row count;
/// `lorad bench matmul` compares the two.
///
/// `Matmul.f32` (row-major weights) and `Matmul.packed` (weights packed once, f32, bf16 or f16) share that
/// arithmetic: on the same f32 weights they give bit-identical results; `packed` is the fast path (no per-call
/// packing).
public enum Matmul {
    /// y: [M, ldy] (first N columns written) = beta * y + x: [M, ldx] (first K used) · w: [N, K]ᵀ
    public static func f32(x: UnsafePointer<Float>, ldx: Int? = nil, rows M: Int, inner K: Int,
                           weight w: UnsafePointer<Float>, outputs N: Int,
                           y: UnsafeMutablePointer<Float>, ldy: Int? = nil, beta: Float = 0) {
        let ldx = ldx ?? K, ldy = ldy ?? N
        guard M > 0, N > 0 else { return }
        let xs = SharedConstPointer(x), ws = SharedConstPointer(w), ys = SharedPointer(y)
        split(rows: M, inner: K, outputs: N) { p0, p1 in
            lk_gemm_rowmajor_f32(xs.base, ldx, M, K, ws.base, N, p0, p1, ys.base, ldy, beta)
        }
    }

    /// y: [M, ldy] (first `weight.outputs` columns written) = beta * y + x: [M, ldx] (first `weight.inputs` used) · Wᵀ
    public static func packed(x: UnsafePointer<Float>, ldx: Int? = nil, rows M: Int, weight: PackedWeights,
                              y: UnsafeMutablePointer<Float>, ldy: Int? = nil, beta: Float = 0) {
        let K = weight.inputs, N = weight.outputs
        let ldx = ldx ?? K, ldy = ldy ?? N
        guard M > 0, N > 0 else { return }
        let xs = SharedConstPointer(x), ys = SharedPointer(y)
        split(rows: M, inner: K, outputs: N) { p0, p1 in
            weight.run(xs.base, ldx, M, ys.base, ldy, beta, p0, p1)
        }
    }

    /// Output panels (16 columns each) of an N-column product.
    @inline(__always)
    public static func panels(outputs N: Int) -> Int { (N + 15) / 16 }

    /// `packed` restricted to the output panels `panels` (columns 16·lowerBound ..< min(N, 16·upperBound)), on the
    /// calling thread: for callers that split the work themselves (and for the invariance tests).
    public static func packed(x: UnsafePointer<Float>, ldx: Int? = nil, rows M: Int, weight: PackedWeights,
                              y: UnsafeMutablePointer<Float>, ldy: Int? = nil, beta: Float = 0, panels: Range<Int>) {
        let ldx = ldx ?? weight.inputs, ldy = ldy ?? weight.outputs
        guard M > 0, !panels.isEmpty else { return }
        weight.run(x, ldx, M, y, ldy, beta, panels.lowerBound, panels.upperBound)
    }

    /// `f32` restricted to the output panels `panels`, on the calling thread.
    public static func f32(x: UnsafePointer<Float>, ldx: Int? = nil, rows M: Int, inner K: Int,
                           weight w: UnsafePointer<Float>, outputs N: Int,
                           y: UnsafeMutablePointer<Float>, ldy: Int? = nil, beta: Float = 0, panels: Range<Int>) {
        guard M > 0, !panels.isEmpty else { return }
        lk_gemm_rowmajor_f32(x, ldx ?? K, M, K, w, N, panels.lowerBound, panels.upperBound, y, ldy ?? N, beta)
    }

    /// Splits the output panels across the kernel threads once a chunk has enough work to pay for the dispatch.
    @inline(__always)
    static func split(rows M: Int, inner K: Int, outputs N: Int, _ body: @Sendable (Int, Int) -> Void) {
        let panels = (N + 15) / 16
        // ~128K multiply-adds per chunk at least (a few µs), against ~1 µs to dispatch.
        let minPanels = max(1, (1 << 17) / max(1, M * K * 16))
        Parallel.forChunks(panels, minimumPerThread: minPanels) { r in body(r.lowerBound, r.upperBound) }
    }
}

/// Projection weights packed once (at load) into the kernel's panel layout, as f32, bf16 or f16.
///
/// Layout (see CKernels/matmul.c), for W [N, K] with Np = ceil(N / 16) panels of 16 outputs and K-blocks of 256:
///
///     f32:  [ceil(K / 256)][Np][klen][16]        klen = min(256, K - 256 b); columns past N are zero
///     bf16: the same, each k-row of 16 stored as columns (0, 8, 1, 9, ..., 7, 15), so one 32-bit word holds
///           column j in its low half and column j + 8 in its high half (widened with a shift and a mask)
///     f16:  the same, columns in order (widened 8 at a time by F16C)
///
/// Narrow weights are widened exactly in registers and multiplied in f32, so the product over bf16 (or f16) weights
/// is bit-identical to the f32 product over the same values widened. A thread that owns a range of panels reads one
/// contiguous run of memory per K-block.
public final class PackedWeights: @unchecked Sendable {
    // @unchecked Sendable: immutable after init (the storage is written only while packing).
    /// What one packed weight is: f32, or bf16 / IEEE half widened exactly in registers.
    public typealias Element = WeightElement

    /// N, the number of output features (rows of the HF weight).
    public let outputs: Int
    /// K, the number of input features (columns of the HF weight).
    public let inputs: Int
    public let element: Element
    private let storage: AlignedBuffer<UInt8>

    /// Bytes of packed weights (what one full pass over them reads).
    public var byteCount: Int { storage.count }

    private init(rows N: Int, cols K: Int, element: Element) {
        precondition(N > 0 && K >= 0)
        outputs = N
        inputs = K
        self.element = element
        storage = AlignedBuffer<UInt8>(count: max(1, lk_packed_count(N, K) * element.byteSize), zeroed: false)
    }

    /// Packs row-major f32 `w` [rows N, cols K]; `.bf16` and `.f16` round to nearest even.
    public convenience init(rowMajor w: UnsafePointer<Float>, rows N: Int, cols K: Int, element: Element = .f32) {
        self.init(rows: N, cols: K, element: element)
        let src = SharedConstPointer(w)
        switch element {
        case .f32: pack { lk_pack_f32(src.base, N, K, $0.assumingMemoryBound(to: Float.self), $1, $2) }
        case .bf16: pack { lk_pack_bf16_from_f32(src.base, N, K, $0.assumingMemoryBound(to: UInt16.self), $1, $2) }
        case .f16:
            let halves = AlignedBuffer<UInt16>(count: N * K, zeroed: false)
            lk_f32_to_f16(w, halves.pointer, N * K)
            let h = SharedConstPointer(UnsafePointer(halves.pointer))
            pack { lk_pack_f16(h.base, N, K, $0.assumingMemoryBound(to: UInt16.self), $1, $2) }
        }
    }

    /// Packs row-major bf16 `w` [rows N, cols K] (raw bits, as in safetensors) as `.bf16`, or widened (exactly) to
    /// `.f32`.
    public convenience init(bf16RowMajor w: UnsafePointer<UInt16>, rows N: Int, cols K: Int, element: Element = .bf16) {
        precondition(element != .f16, "bf16 weights pack as bf16 or f32")
        self.init(halves: w, bf16: true, rows: N, cols: K, element: element)
    }

    /// Packs row-major IEEE half `w` [rows N, cols K] (raw bits) as `.f16`, or widened (exactly) to `.f32`.
    public convenience init(f16RowMajor w: UnsafePointer<UInt16>, rows N: Int, cols K: Int, element: Element = .f16) {
        precondition(element != .bf16, "f16 weights pack as f16 or f32")
        self.init(halves: w, bf16: false, rows: N, cols: K, element: element)
    }

    private convenience init(halves w: UnsafePointer<UInt16>, bf16: Bool, rows N: Int, cols K: Int, element: Element) {
        self.init(rows: N, cols: K, element: element)
        if element != .f32 {
            let src = SharedConstPointer(w)
            pack { d, p0, p1 in
                let dst = d.assumingMemoryBound(to: UInt16.self)
                if bf16 { lk_pack_bf16(src.base, N, K, dst, p0, p1) } else { lk_pack_f16(src.base, N, K, dst, p0, p1) }
            }
            return
        }
        let wide = AlignedBuffer<Float>(count: N * K, zeroed: false)
        if bf16 { lk_bf16_to_f32(w, wide.pointer, N * K) } else { lk_f16_to_f32(w, wide.pointer, N * K) }
        let ws = SharedConstPointer(UnsafePointer(wide.pointer))
        pack { lk_pack_f32(ws.base, N, K, $0.assumingMemoryBound(to: Float.self), $1, $2) }
    }

    /// Runs `body(storage, p0, p1)` over the output panels, split across the kernel threads.
    private func pack(_ body: @Sendable (UnsafeMutableRawPointer, Int, Int) -> Void) {
        let dst = SharedPointer(storage.pointer)
        Parallel.forChunks((outputs + 15) / 16, minimumPerThread: 16) { r in
            body(UnsafeMutableRawPointer(dst.base), r.lowerBound, r.upperBound)
        }
    }

    /// Output panels [p0, p1) on the calling thread.
    @inline(__always)
    func run(_ x: UnsafePointer<Float>, _ ldx: Int, _ M: Int, _ y: UnsafeMutablePointer<Float>, _ ldy: Int,
             _ beta: Float, _ p0: Int, _ p1: Int) {
        let raw = UnsafeRawPointer(storage.pointer)
        switch element {
        case .f32:
            lk_gemm_packed_f32(x, ldx, M, inputs, raw.assumingMemoryBound(to: Float.self), outputs, p0, p1, y, ldy, beta)
        case .bf16:
            lk_gemm_packed_bf16(x, ldx, M, inputs, raw.assumingMemoryBound(to: UInt16.self), outputs, p0, p1, y, ldy,
                                beta)
        case .f16:
            lk_gemm_packed_f16(x, ldx, M, inputs, raw.assumingMemoryBound(to: UInt16.self), outputs, p0, p1, y, ldy,
                               beta)
        }
    }

    /// The portable (non-SIMD) body of `Matmul.packed`, on the calling thread. For tests: it must be bit-identical.
    public func portableProduct(x: UnsafePointer<Float>, ldx: Int, rows M: Int, y: UnsafeMutablePointer<Float>,
                                ldy: Int, beta: Float) {
        let kind: Int32 = element == .f32 ? 0 : element == .bf16 ? 1 : 3
        lk_gemm_scalar(kind, x, ldx, M, inputs, storage.pointer, outputs, 0, (outputs + 15) / 16, y, ldy, beta)
    }
}

extension Matmul {
    /// The portable (non-SIMD) body of `Matmul.f32`, on the calling thread. For tests: it must be bit-identical.
    public static func portableF32(x: UnsafePointer<Float>, ldx: Int, rows M: Int, inner K: Int,
                                   weight w: UnsafePointer<Float>, outputs N: Int,
                                   y: UnsafeMutablePointer<Float>, ldy: Int, beta: Float) {
        lk_gemm_scalar(2, x, ldx, M, K, w, N, 0, (N + 15) / 16, y, ldy, beta)
    }
}

/// Small vector helpers over raw pointers (SIMD bodies in CKernels). All work on one row, so they cannot break
/// batch invariance.
public enum Vector {
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        lk_dot(a, b, n)
    }

    /// y += alpha * x
    @inline(__always)
    public static func axpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) {
        lk_axpy(y, alpha, x, n)
    }

    /// out = x / sqrt(mean(x²) + eps) * weight (HF LlamaRMSNorm, computed in fp32).
    @inline(__always)
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float,
                               out: UnsafeMutablePointer<Float>, _ n: Int) {
        lk_rms_norm(x, weight, eps, out, n)
    }

    /// a[i] = silu(a[i]) * b[i]   (SwiGLU; vector expf, max relative error ~2.4e-7)
    @inline(__always)
    public static func siluMul(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
        lk_silu_mul(a, b, n)
    }

    /// RoPE (rotate-half) of `heads` head vectors of `headDim` floats, in place; cos, sin: [headDim / 2].
    @inline(__always)
    public static func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, cos c: UnsafePointer<Float>,
                            sin s: UnsafePointer<Float>) {
        lk_rope(x, heads, headDim, c, s)
    }

    /// y[i] += x[i]
    @inline(__always)
    public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        lk_add(y, x, n)
    }

    /// y[i] = exp(x[i])  (vector expf: max relative error ~2.4e-7 vs libm on [-87.3, 88.7]; +inf above, 0 far below)
    @inline(__always)
    public static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        lk_exp(x, y, n)
    }
}

/// Element type conversions for narrow weights.
public enum Convert {
    public static func bf16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        lk_bf16_to_f32(src, dst, n)
    }
    public static func f16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        lk_f16_to_f32(src, dst, n)
    }
    public static func f32ToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
        lk_f32_to_bf16(src, dst, n)
    }
    public static func f32ToF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
        lk_f32_to_f16(src, dst, n)
    }
    /// The portable bodies used on CPUs without F16C (exposed for tests).
    public static func f16ToF32Portable(_ h: UInt16) -> Float { lk_f16_to_f32_one_scalar(h) }
    public static func f32ToF16Portable(_ f: Float) -> UInt16 { lk_f32_to_f16_one_scalar(f) }
}
