import Foundation
import Kernels
import Testing
import TestSupport

/// Every CPU path this machine has (scalar, AVX2, AVX-512) against the scalar one, kernel by kernel. Paths the CPU
/// lacks are reported as skipped on standard error. The GEMM is bit-identical on every path (one FMA chain per
/// output); reductions (dot, the LoRA shrink) agree within rounding.
@Suite struct CPUPathTests {
    /// Runs `body` on `path`, or says on standard error that the CPU lacks it.
    static func onPath<R>(_ path: CPUPath, _ test: String, _ body: () throws -> R) rethrows -> R? {
        let result = try CPUPath.on(path, body)
        if result == nil {
            FileHandle.standardError.write(Data("\(test): CPU path \(path) skipped (this CPU's best is \(CPUPath.best))\n".utf8))
        }
        return result
    }

    @Test func pathsAreReported() {
        #expect(CPUPath.supported.first == .scalar && CPUPath.supported.last == CPUPath.best)
        #expect(CPUPath.current.rawValue <= CPUPath.best.rawValue)
        for path in CPUPath.allCases {
            let ran = CPUPath.on(path) { CPUPath.current }
            if path.rawValue <= CPUPath.best.rawValue { #expect(ran == path) } else { #expect(ran == nil) }
        }
        #expect(CPUPath.summary.hasPrefix(CPUPath.current.description))
    }

    @Test(arguments: CPUPath.allCases, [PackedWeights.Element.f32, .bf16, .f16])
    func gemmIsBitIdenticalToScalar(path: CPUPath, element: PackedWeights.Element) {
        for (i, shape) in MatmulTests.shapes.enumerated() where i % 3 == 0 || shape.M > 33 {
            let (M, K, N) = shape
            var r = TestRandom(seed: UInt64(i) + 500)
            let x = r.floats(M * K), w = r.floats(N * K), y0 = r.floats(M * N)
            let packed = w.withUnsafeBufferPointer {
                PackedWeights(rowMajor: $0.baseAddress!, rows: N, cols: K, element: element)
            }
            for beta: Float in [0, 1] {
                var scalar = y0
                packed.portableProduct(x: x, ldx: K, rows: M, y: &scalar, ldy: N, beta: beta)
                let got = Self.onPath(path, "gemm") { () -> [Float] in
                    var y = y0
                    Matmul.packed(x: x, rows: M, weight: packed, y: &y, beta: beta)
                    return y
                }
                guard let got else { return }
                #expect(got == scalar, "\(path) \(element) M=\(M) K=\(K) N=\(N) beta=\(beta)")
            }
        }
    }

    /// On each path, a row's result is the one it gets alone, whatever shares the call.
    @Test(arguments: CPUPath.allCases)
    func gemmRowsAreBatchInvariant(path: CPUPath) {
        let K = 520, N = 70, maxRows = 160
        var r = TestRandom(seed: 77)
        let x = r.floats(maxRows * K), w = r.floats(N * K)
        let packed = w.withUnsafeBufferPointer {
            PackedWeights(rowMajor: $0.baseAddress!, rows: N, cols: K, element: .bf16)
        }
        _ = Self.onPath(path, "batch invariance") {
            var alone = [Float](repeating: 0, count: maxRows * N)
            x.withUnsafeBufferPointer { xs in
                alone.withUnsafeMutableBufferPointer { ys in
                    for m in 0..<maxRows {
                        Matmul.packed(x: xs.baseAddress! + m * K, rows: 1, weight: packed, y: ys.baseAddress! + m * N)
                    }
                }
            }
            for M in [2, 5, 16, 33, 145, 160] {
                var all = [Float](repeating: 0, count: M * N)
                Matmul.packed(x: x, rows: M, weight: packed, y: &all)
                #expect(all == Array(alone[0..<(M * N)]), "\(path): a row changed with \(M) rows in the call")
            }
        }
    }

    @Test(arguments: CPUPath.allCases)
    func vectorKernelsMatchScalar(path: CPUPath) {
        var r = TestRandom(seed: 9)
        for n in [1, 7, 15, 16, 17, 33, 64, 100, 257] {
            let a = r.floats(n).map { $0 * 8 }, b = r.floats(n)
            func run(_ p: CPUPath) -> (dot: Float, exp: [Float], silu: [Float], norm: [Float], add: [Float], axpy: [Float])? {
                Self.onPath(p, "vector kernels") {
                    var e = [Float](repeating: 0, count: n), s = a, norm = e, sum = a, ax = a
                    Vector.exp(a, &e, n)
                    Vector.siluMul(&s, b, n)
                    Vector.rmsNorm(a, weight: b, eps: 1e-5, out: &norm, n)
                    Vector.add(&sum, b, n)
                    Vector.axpy(&ax, 0.5, b, n)
                    return (Vector.dot(a, b, n), e, s, norm, sum, ax)
                }
            }
            guard let want = run(.scalar), let got = run(path) else { return }
            let scale = a.reduce(0) { $0 + abs($1) }
            #expect(abs(got.dot - want.dot) <= 1e-6 * scale, "\(path) dot n=\(n)")
            for i in 0..<n {
                #expect(abs(got.exp[i] - want.exp[i]) <= 4e-7 * want.exp[i], "\(path) exp n=\(n)")
                #expect(abs(got.silu[i] - want.silu[i]) <= 1e-6 * (1 + abs(want.silu[i])), "\(path) silu n=\(n)")
                #expect(abs(got.norm[i] - want.norm[i]) <= 1e-5, "\(path) rms norm n=\(n)")
            }
            #expect(got.add == want.add && got.axpy == want.axpy, "\(path) add/axpy n=\(n)")
        }
    }

    /// RoPE: two rounded products and one rounded add per output on every path, so bit-identical.
    @Test(arguments: CPUPath.allCases)
    func ropeIsBitIdenticalToScalar(path: CPUPath) {
        var r = TestRandom(seed: 13)
        for hd in [2, 16, 64, 80, 128] {
            let heads = 3, x = r.floats(heads * hd), c = r.floats(hd / 2), s = r.floats(hd / 2)
            func run(_ p: CPUPath) -> [Float]? {
                Self.onPath(p, "rope") { () -> [Float] in
                    var v = x
                    v.withUnsafeMutableBufferPointer { Vector.rope($0.baseAddress!, heads: heads, headDim: hd, cos: c, sin: s) }
                    return v
                }
            }
            guard let want = run(.scalar), let got = run(path) else { return }
            #expect(got == want, "\(path) rope hd=\(hd)")
            let half = hd / 2
            #expect(abs(want[0] - (x[0] * c[0] - x[half] * s[0])) <= 1e-6)
        }
    }

    /// The LoRA row: the expand is the same FMAs in the same order on every path; the shrink's dot products agree
    /// within rounding.
    @Test(arguments: CPUPath.allCases, [WeightElement.f32, .bf16, .f16])
    func loraRowMatchesScalar(path: CPUPath, element: WeightElement) {
        for (inputs, rank, outputs) in LowRankTests.shapes {
            var r = TestRandom(seed: UInt64(inputs * 31 + rank))
            let x = r.floats(inputs), a = r.floats(rank * inputs), bt = r.floats(rank * outputs), y0 = r.floats(outputs)
            func stored(_ v: [Float]) -> [UInt8] {
                element == .f32 ? LowRankTests.bytes(v) : LowRankTests.narrowed(v, element).stored
            }
            let aBytes = stored(a), btBytes = stored(bt)
            let want = LowRankTests.run(element, x: x, a: aBytes, bt: btBytes, rank: rank, inputs: inputs,
                                        outputs: outputs, scale: 0.5, y0: y0, portable: true)
            guard let got = Self.onPath(path, "lora row", {
                LowRankTests.run(element, x: x, a: aBytes, bt: btBytes, rank: rank, inputs: inputs, outputs: outputs,
                                 scale: 0.5, y0: y0)
            }) else { return }
            let err = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            #expect(err <= 1e-5 * Float(inputs).squareRoot() * Float(rank), "\(path) \(element) \(inputs)x\(rank)x\(outputs): \(err)")
        }
    }

    /// The bandwidth probe's sum is right on every path (it must read every element).
    @Test(arguments: CPUPath.allCases)
    func readSumReadsEverything(path: CPUPath) {
        for n in [0, 1, 127, 128, 129, 1000, 4099] {
            let v = [Float](repeating: 1, count: n)
            guard let s = Self.onPath(path, "read sum", { ReadBandwidth.sum(v) }) else { return }
            #expect(s == Float(n), "\(path) n=\(n)")
        }
    }
}
