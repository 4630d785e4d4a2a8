import CKernels
import Foundation
import COpenBLAS

/// Dense projections `y = x · Wᵀ` with HF's `[out, in]` weights. Small row counts (decode, lookahead) run our own
/// kernel, which streams each weight row once for all rows and splits output columns across threads; large row
/// counts (prefill) go to OpenBLAS sgemm, which wins there.
public enum Matmul {
    /// Row counts up to this use the streaming kernel.
    public static let smallRowLimit = 16

    /// y: [M, ldy] (first N columns written) = beta * y + x: [M, ldx] (first K used) · w: [N, K]ᵀ
    public static func f32(x: UnsafePointer<Float>, ldx: Int? = nil, rows M: Int, inner K: Int,
                           weight w: UnsafePointer<Float>, outputs N: Int,
                           y: UnsafeMutablePointer<Float>, ldy: Int? = nil, beta: Float = 0) {
        let ldx = ldx ?? K, ldy = ldy ?? N
        guard M > 0, N > 0 else { return }
        if M <= smallRowLimit {
            let xs = SharedConstPointer(x), ws = SharedConstPointer(w), ys = SharedPointer(y)
            // Split by output columns in multiples of 4 (the kernel's block) once the matrix is worth a thread.
            let blocks = (N + 3) / 4
            let minBlocks = max(1, (1 << 15) / max(1, K))
            Parallel.forChunks(blocks, minimumPerThread: minBlocks) { r in
                let n0 = r.lowerBound * 4, n1 = min(N, r.upperBound * 4)
                lk_matmul_f32(xs.base, ldx, M, K, ws.base, n0, n1, ys.base, ldy, beta)
            }
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(M), Int32(N), Int32(K),
                        1, x, Int32(ldx), w, Int32(K), beta, y, Int32(ldy))
        }
    }
}

/// Small vector helpers over raw pointers (SIMD bodies in CKernels).
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
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float,
                               out: UnsafeMutablePointer<Float>, _ n: Int) {
        let ss = lk_dot(x, x, n)
        let scale = 1 / (ss / Float(n) + eps).squareRoot()
        for i in 0..<n { out[i] = weight[i] * (x[i] * scale) }
    }

    /// a[i] = silu(a[i]) * b[i]   (SwiGLU)
    public static func siluMul(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let g = a[i]
            a[i] = g / (1 + expf(-g)) * b[i]
        }
    }

    /// y[i] += x[i]
    public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] += x[i] }
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
}
