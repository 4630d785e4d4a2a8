import CKernels
import Foundation
import Kernels
import Testing
import TestSupport

/// Products over quantized weights: the scalar reference against exact arithmetic on the dequantized weights (within
/// the activations' quantization error), every instruction-set path the host has against the reference, and batch
/// invariance (a row's result is the same bits whatever M, its place in the batch, or the output split).
@Suite struct QuantMatmulTests {
    /// Paths this host can run. Each is called by name (lk_q_*_on), never by switching the process's path, which
    /// other suites running at the same time depend on.
    static var paths: [Int32] { (0...lk_isa_best()).map { Int32($0) } }

    struct Case {
        let type: QuantType
        let N: Int, K: Int, M: Int
        let x: [Float]          // [M, K]
        let matrix: QuantizedMatrix
        let dequantized: [Float] // [N, K]
    }

    static func makeCase(_ type: QuantType, N: Int, K: Int, M: Int, seed: UInt64) -> Case {
        var r = TestRandom(seed: seed)
        // Rows of different scales and an offset, as in real weights; activations with a few large channels.
        var w = r.floats(N * K)
        for n in 0..<N { let s = Float(n % 7 + 1) * 0.03; for k in 0..<K { w[n * K + k] = w[n * K + k] * s + 0.002 } }
        var x = r.floats(M * K)
        for i in stride(from: 0, to: x.count, by: 97) { x[i] *= 20 }
        let m = QuantizedMatrix(quantizing: w, rows: N, cols: K, type: type)
        var deq = [Float](repeating: 0, count: N * K)
        for n in 0..<N { deq.withUnsafeMutableBufferPointer { m.dequantize(row: n, into: $0.baseAddress! + n * K) } }
        return Case(type: type, N: N, K: K, M: M, x: x, matrix: m, dequantized: deq)
    }

    static func quantizedActivations(_ c: Case, path isa: Int32) -> [UInt8] {
        var qx = [UInt8](repeating: 0, count: c.matrix.activationBytes(rows: c.M))
        precondition(lk_q_quantize_act_on(isa, c.type.rawValue, c.x, c.K, c.M, c.K, &qx) == 1)
        return qx
    }

    static func reference(_ c: Case, _ qx: [UInt8]) -> [Float] {
        var y = [Float](repeating: .nan, count: c.M * c.N)
        c.matrix.matmulReference(quantized: qx, rows: c.M, y: &y, ldy: c.N)
        return y
    }

    /// Outputs `outputs` of rows [m0, m0 + rows) of the activations, on path `isa`, into y [M, N].
    static func product(_ c: Case, _ qx: [UInt8], path isa: Int32, rows: Range<Int>? = nil, outputs: Range<Int>? = nil,
                        into y: inout [Float]) {
        let r = rows ?? 0..<c.M, o = outputs ?? 0..<c.N
        let rb = c.matrix.activationBytes(rows: 1)
        qx.withUnsafeBytes { q in
            y.withUnsafeMutableBufferPointer { yp in
                precondition(lk_q_matmul_on(isa, c.type.rawValue, c.matrix.blocks, c.K, o.lowerBound, o.upperBound,
                                            q.baseAddress! + r.lowerBound * rb, r.count,
                                            yp.baseAddress! + r.lowerBound * c.N, c.N) == 1)
            }
        }
    }

    static func product(_ c: Case, _ qx: [UInt8], path isa: Int32) -> [Float] {
        var y = [Float](repeating: .nan, count: c.M * c.N)
        product(c, qx, path: isa, into: &y)
        return y
    }

    /// [M, N]: sum_k |W[n, k] x[m, k]| (the scale of the float rounding of each output).
    static func magnitudes(_ c: Case) -> [Double] {
        var out = [Double](repeating: 0, count: c.M * c.N)
        c.dequantized.withUnsafeBufferPointer { w in
            c.x.withUnsafeBufferPointer { x in
                for m in 0..<c.M {
                    for n in 0..<c.N {
                        var s = 0.0
                        for k in 0..<c.K { s += abs(Double(w[n * c.K + k]) * Double(x[m * c.K + k])) }
                        out[m * c.N + n] = s
                    }
                }
            }
        }
        return out
    }

    static let types = QuantType.allCases
    // M = 1 (GEMV), a few rows, and past one row block of the GEMM (64 weight rows x 64 activation rows).
    static let shapes: [(N: Int, K: Int, M: Int)] = [(N: 37, K: 512, M: 1), (N: 19, K: 768, M: 5), (N: 40, K: 256, M: 17),
                                                     (N: 70, K: 256, M: 67)]

    @Test(arguments: types)
    func referenceIsTheProductOfTheDequantizedWeightsWithinActivationRounding(type: QuantType) {
        for (i, s) in Self.shapes.enumerated() {
            let c = Self.makeCase(type, N: s.N, K: s.K, M: s.M, seed: UInt64(i) + 11)
            let y = Self.reference(c, Self.quantizedActivations(c, path: Int32(LK_ISA_SCALAR)))
            // Activations are rounded per block to amax / 127 steps: |error| <= sum_k |w_k| amax(block of k) / 254.
            let block = type.isQuantized ? (type.blockElements == 256 ? 256 : 32) : 1
            let magnitude = Self.magnitudes(c)
            for m in 0..<c.M {
                var amax = [Float](repeating: 0, count: c.K / block)
                for k in 0..<c.K { amax[k / block] = max(amax[k / block], abs(c.x[m * c.K + k])) }
                for n in 0..<c.N {
                    var exact = 0.0, bound = 0.0
                    for k in 0..<c.K {
                        let w = Double(c.dequantized[n * c.K + k])
                        exact += w * Double(c.x[m * c.K + k])
                        if type.isQuantized { bound += abs(w) * Double(amax[k / block]) / 254 }
                    }
                    bound = bound * 1.001 + 1e-5 * magnitude[m * c.N + n]
                    let got = Double(y[m * c.N + n])
                    #expect(abs(got - exact) <= bound, "\(type.name) \(s) m=\(m) n=\(n): \(got) vs \(exact) (bound \(bound))")
                }
            }
        }
    }

    @Test(arguments: types)
    func everyPathMatchesTheReference(type: QuantType) {
        for (i, s) in Self.shapes.enumerated() {
            let c = Self.makeCase(type, N: s.N, K: s.K, M: s.M, seed: UInt64(i) + 21)
            let qxRef = Self.quantizedActivations(c, path: Int32(LK_ISA_SCALAR))
            let ref = Self.reference(c, qxRef)
            let magnitude = Self.magnitudes(c)
            var byPath: [Int32: [Float]] = [:]
            for isa in Self.paths {
                let name = String(cString: lk_isa_name(isa))
                let qx = Self.quantizedActivations(c, path: isa)
                let y = Self.product(c, qx, path: isa)
                #expect(qx == qxRef, "\(type.name) \(name): activations quantized differently from the scalar path")
                // Integer block sums are exact on every path; only the order of the float sums differs.
                var worst = 0.0
                for m in 0..<c.M {
                    for n in 0..<c.N {
                        let err = abs(Double(y[m * c.N + n]) - Double(ref[m * c.N + n])) / max(1e-30, magnitude[m * c.N + n])
                        worst = max(worst, err)
                    }
                }
                #expect(worst <= 2e-6, "\(type.name) \(s) \(name): relative error \(worst) against the reference")
                byPath[isa] = y
            }
            // The AVX2 and AVX-512 bodies share their arithmetic (only the integer instructions differ).
            if let avx2 = byPath[Int32(LK_ISA_AVX2)], let avx512 = byPath[Int32(LK_ISA_AVX512)] {
                #expect(avx2 == avx512, "\(type.name) \(s): the AVX2 and AVX-512 paths differ")
            }
        }
    }

    @Test(arguments: types)
    func rowsAreBatchInvariantOnEveryPath(type: QuantType) {
        let c = Self.makeCase(type, N: 53, K: 512, M: 21, seed: 99)
        for isa in Self.paths {
            let name = String(cString: lk_isa_name(isa))
            let qx = Self.quantizedActivations(c, path: isa)
            let whole = Self.product(c, qx, path: isa)
            // Each row alone (M = 1, the decode path), and rows in groups of 3 with outputs split unevenly.
            for m in 0..<c.M {
                var y = [Float](repeating: .nan, count: c.M * c.N)
                Self.product(c, qx, path: isa, rows: m..<m + 1, into: &y)
                #expect(whole[m * c.N..<(m + 1) * c.N] == y[m * c.N..<(m + 1) * c.N], "\(type.name) \(name): row \(m) alone differs")
            }
            var split = [Float](repeating: .nan, count: c.M * c.N)
            for m0 in stride(from: 0, to: c.M, by: 3) {
                for outputs in [0..<5, 5..<6, 6..<37, 37..<53] {
                    Self.product(c, qx, path: isa, rows: m0..<min(c.M, m0 + 3), outputs: outputs, into: &split)
                }
            }
            #expect(split == whole, "\(type.name) \(name): rows in groups of 3 with split outputs differ")
        }
    }

    @Test func matmulQuantizesActivationsOnce() {
        // The convenience product equals quantize-then-multiply, with a leading dimension wider than K.
        let c = Self.makeCase(.q6_K, N: 24, K: 256, M: 3, seed: 5)
        let ldx = 300
        var x = [Float](repeating: 1e9, count: c.M * ldx)
        for m in 0..<c.M { for k in 0..<c.K { x[m * ldx + k] = c.x[m * c.K + k] } }
        var y = [Float](repeating: .nan, count: c.M * c.N)
        c.matrix.matmul(x: x, ldx: ldx, rows: c.M, y: &y)
        var qx = [UInt8](repeating: 0, count: c.matrix.activationBytes(rows: c.M))
        c.matrix.quantizeActivations(x: c.x, ldx: c.K, rows: c.M, into: &qx)
        var expected = [Float](repeating: .nan, count: c.M * c.N)
        c.matrix.matmul(quantized: qx, rows: c.M, y: &expected, ldy: c.N)
        #expect(y == expected)
    }
}
