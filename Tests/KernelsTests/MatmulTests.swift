import Foundation
import Kernels
import Testing
import TestSupport

/// The SIMD kernels against an independent scalar reference (double accumulation) and against their own portable
/// bodies (bit-identical), on random shapes including odd sizes and M = 1...33.
@Suite struct MatmulTests {
    /// y[m, n] = beta * y0[m, n] + sum_k x[m, k] * w[n, k], accumulated in Double.
    static func reference(x: [Float], M: Int, K: Int, w: [Float], N: Int, y0: [Float], beta: Float) -> [Float] {
        var y = [Float](repeating: 0, count: M * N)
        for m in 0..<M {
            for n in 0..<N {
                var acc = 0.0
                for k in 0..<K { acc += Double(x[m * K + k]) * Double(w[n * K + k]) }
                y[m * N + n] = Float(acc + Double(beta) * Double(y0[m * N + n]))
            }
        }
        return y
    }

    /// `w` rounded (to nearest even) to bf16 or f16 and widened back.
    static func rounded(_ w: [Float], to element: PackedWeights.Element) -> [Float] {
        var bits = [UInt16](repeating: 0, count: w.count), back = [Float](repeating: 0, count: w.count)
        if element == .bf16 {
            Convert.f32ToBF16(w, &bits, w.count)
            Convert.bf16ToF32(bits, &back, w.count)
        } else {
            Convert.f32ToF16(w, &bits, w.count)
            Convert.f16ToF32(bits, &back, w.count)
        }
        return back
    }
    static func bf16Rounded(_ w: [Float]) -> [Float] { rounded(w, to: .bf16) }
    static func f16Rounded(_ w: [Float]) -> [Float] { rounded(w, to: .f16) }

    static func maxRelativeError(_ a: [Float], _ b: [Float], scale: Float) -> Float {
        zip(a, b).map { abs($0 - $1) / scale }.max() ?? 0
    }

    static let shapes: [(M: Int, K: Int, N: Int)] = {
        var s: [(M: Int, K: Int, N: Int)] = []
        for m in 1...33 { s.append((M: m, K: 37 + m * 11, N: 16 + m * 3)) }
        s.append((M: 1, K: 1, N: 1))
        s.append((M: 2, K: 300, N: 17))
        s.append((M: 7, K: 513, N: 65))
        s.append((M: 5, K: 1024, N: 48))
        // Past one M-block of 144 rows (the tail block is planned on its own).
        s.append((M: 150, K: 300, N: 40))
        s.append((M: 146, K: 257, N: 53))
        return s
    }()

    @Test(arguments: 0..<shapes.count)
    func f32MatchesReference(shapeIndex: Int) {
        let (M, K, N) = Self.shapes[shapeIndex]
        var r = TestRandom(seed: UInt64(shapeIndex) + 1)
        let x = r.floats(M * K), w = r.floats(N * K), y0 = r.floats(M * N)
        for beta: Float in [0, 1] {
            let expected = Self.reference(x: x, M: M, K: K, w: w, N: N, y0: y0, beta: beta)
            var y = y0
            Matmul.f32(x: x, rows: M, inner: K, weight: w, outputs: N, y: &y, beta: beta)
            let err = Self.maxRelativeError(y, expected, scale: Float(K).squareRoot())
            #expect(err < 1e-5, "M=\(M) K=\(K) N=\(N) beta=\(beta): error \(err)")

            var portable = y0
            Matmul.portableF32(x: x, ldx: K, rows: M, inner: K, weight: w, outputs: N, y: &portable, ldy: N,
                               beta: beta)
            #expect(portable == y, "M=\(M) K=\(K) N=\(N): SIMD and portable bodies differ")
        }
    }

    @Test(arguments: 0..<shapes.count)
    func packedMatchesRowMajorAndReference(shapeIndex: Int) {
        let (M, K, N) = Self.shapes[shapeIndex]
        var r = TestRandom(seed: UInt64(shapeIndex) + 101)
        let x = r.floats(M * K), w = r.floats(N * K)
        let zeros = [Float](repeating: 0, count: M * N)

        var rowMajor = zeros
        Matmul.f32(x: x, rows: M, inner: K, weight: w, outputs: N, y: &rowMajor)
        let packedF32 = w.withUnsafeBufferPointer { PackedWeights(rowMajor: $0.baseAddress!, rows: N, cols: K) }
        var yPacked = zeros
        Matmul.packed(x: x, rows: M, weight: packedF32, y: &yPacked)
        #expect(yPacked == rowMajor, "packed f32 must be bit-identical to row-major f32")

        // bf16: the product over bf16-rounded weights, in f32 arithmetic.
        let packedBF16 = w.withUnsafeBufferPointer {
            PackedWeights(rowMajor: $0.baseAddress!, rows: N, cols: K, element: .bf16)
        }
        #expect(packedBF16.byteCount * 2 == packedF32.byteCount, "bf16 weights are half the bytes")
        var yBF16 = zeros
        Matmul.packed(x: x, rows: M, weight: packedBF16, y: &yBF16)
        let expected = Self.reference(x: x, M: M, K: K, w: Self.bf16Rounded(w), N: N, y0: zeros, beta: 0)
        let err = Self.maxRelativeError(yBF16, expected, scale: Float(K).squareRoot())
        #expect(err < 1e-5, "bf16 M=\(M) K=\(K) N=\(N): error \(err)")
        var portable = zeros
        packedBF16.portableProduct(x: x, ldx: K, rows: M, y: &portable, ldy: N, beta: 0)
        #expect(portable == yBF16, "bf16 SIMD and portable bodies differ")

        // f16: exactly the f32 product over the f16-rounded weights (both widen exactly, then the same FMAs).
        let packedF16 = w.withUnsafeBufferPointer {
            PackedWeights(rowMajor: $0.baseAddress!, rows: N, cols: K, element: .f16)
        }
        #expect(packedF16.byteCount * 2 == packedF32.byteCount, "f16 weights are half the bytes")
        var yF16 = zeros
        Matmul.packed(x: x, rows: M, weight: packedF16, y: &yF16)
        var yRounded = zeros
        Matmul.f32(x: x, rows: M, inner: K, weight: Self.f16Rounded(w), outputs: N, y: &yRounded)
        #expect(yF16 == yRounded, "f16 M=\(M) K=\(K) N=\(N): differs from f32 over the rounded weights")
        var portableF16 = zeros
        packedF16.portableProduct(x: x, ldx: K, rows: M, y: &portableF16, ldy: N, beta: 0)
        #expect(portableF16 == yF16, "f16 SIMD and portable bodies differ")
    }

    /// Packing from 16-bit row-major weights (as safetensors stores them) equals packing their f32 values, and the
    /// `.f32` widening of either gives the f32 product over the same values.
    @Test func halfRowMajorPackingMatches() {
        let M = 9, K = 300, N = 37
        var r = TestRandom(seed: 21)
        let x = r.floats(M * K), w = r.floats(N * K)
        var bf16 = [UInt16](repeating: 0, count: N * K), f16 = bf16
        Convert.f32ToBF16(w, &bf16, N * K)
        Convert.f32ToF16(w, &f16, N * K)
        func product(_ p: PackedWeights) -> [Float] {
            var y = [Float](repeating: 0, count: M * N)
            Matmul.packed(x: x, rows: M, weight: p, y: &y)
            return y
        }
        func packed(_ values: [Float], _ e: PackedWeights.Element) -> PackedWeights {
            values.withUnsafeBufferPointer { PackedWeights(rowMajor: $0.baseAddress!, rows: N, cols: K, element: e) }
        }
        let bf16Values = Self.bf16Rounded(w), f16Values = Self.f16Rounded(w)
        let fromBF16 = bf16.withUnsafeBufferPointer { PackedWeights(bf16RowMajor: $0.baseAddress!, rows: N, cols: K) }
        let fromF16 = f16.withUnsafeBufferPointer { PackedWeights(f16RowMajor: $0.baseAddress!, rows: N, cols: K) }
        let bf16Wide = bf16.withUnsafeBufferPointer {
            PackedWeights(bf16RowMajor: $0.baseAddress!, rows: N, cols: K, element: .f32)
        }
        let f16Wide = f16.withUnsafeBufferPointer {
            PackedWeights(f16RowMajor: $0.baseAddress!, rows: N, cols: K, element: .f32)
        }
        #expect(fromBF16.element == .bf16 && fromF16.element == .f16 && bf16Wide.element == .f32)
        #expect(product(fromBF16) == product(packed(w, .bf16)))
        #expect(product(fromF16) == product(packed(w, .f16)))
        #expect(product(fromBF16) == product(packed(bf16Values, .f32)))
        #expect(product(bf16Wide) == product(packed(bf16Values, .f32)))
        #expect(product(fromF16) == product(packed(f16Values, .f32)))
        #expect(product(f16Wide) == product(packed(f16Values, .f32)))
    }

    /// Every row's result is the one it gets alone (batch invariance), whatever the row count (each count cuts the
    /// rows into different tiles: 1-row, 2-row and 5/6-row slivers, several M-blocks) and wherever the row sits.
    @Test(arguments: [PackedWeights.Element.f32, .bf16, .f16])
    func rowsAreBatchInvariant(element: PackedWeights.Element) {
        let K = 700, N = 91, maxRows = 293
        var r = TestRandom(seed: 7)
        let x = r.floats(maxRows * K), w = r.floats(N * K)
        let packed = w.withUnsafeBufferPointer {
            PackedWeights(rowMajor: $0.baseAddress!, rows: N, cols: K, element: element)
        }
        var alone = [Float](repeating: 0, count: maxRows * N)
        for m in 0..<maxRows {
            x.withUnsafeBufferPointer { xs in
                alone.withUnsafeMutableBufferPointer { ys in
                    Matmul.packed(x: xs.baseAddress! + m * K, rows: 1, weight: packed, y: ys.baseAddress! + m * N)
                }
            }
        }
        for M in Array(2...40) + [143, 144, 145, 150, 293] {
            var all = [Float](repeating: 0, count: M * N)
            Matmul.packed(x: x, rows: M, weight: packed, y: &all)
            #expect(all == Array(alone[0..<(M * N)]), "\(element): a row changed with \(M) rows in the call")
        }
    }

    /// Splitting the output panels between threads at any point gives the same bits as one call.
    @Test(arguments: [PackedWeights.Element.f32, .bf16, .f16])
    func panelSplitsAreInvariant(element: PackedWeights.Element) {
        let K = 300, N = 16 * 9 + 5
        var r = TestRandom(seed: 11)
        let w = r.floats(N * K)
        let packed = w.withUnsafeBufferPointer {
            PackedWeights(rowMajor: $0.baseAddress!, rows: N, cols: K, element: element)
        }
        let panels = Matmul.panels(outputs: N)
        for M in [1, 2, 3, 4, 7, 8, 9, 13, 16] {
            let x = r.floats(M * K)
            var whole = [Float](repeating: 0, count: M * N)
            Matmul.packed(x: x, rows: M, weight: packed, y: &whole, panels: 0..<panels)
            for cut in 1..<panels {
                var split = [Float](repeating: 0, count: M * N)
                Matmul.packed(x: x, rows: M, weight: packed, y: &split, panels: 0..<cut)
                Matmul.packed(x: x, rows: M, weight: packed, y: &split, panels: cut..<panels)
                #expect(split == whole, "\(element) M=\(M): split at panel \(cut) differs")
            }
        }
    }

    @Test func vectorHelpersMatchScalar() {
        var r = TestRandom(seed: 3)
        for n in [1, 7, 8, 15, 16, 33, 100, 257] {
            let a = r.floats(n), b = r.floats(n)
            let dot = Vector.dot(a, b, n)
            let refDot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(Double(dot) - refDot) < 1e-5 * Double(n))

            var e = [Float](repeating: 0, count: n)
            Vector.exp(a, &e, n)
            for i in 0..<n { #expect(abs(e[i] - Foundation.exp(a[i])) <= 1e-6 * Foundation.exp(a[i])) }

            var s = a
            Vector.siluMul(&s, b, n)
            for i in 0..<n {
                let expected = a[i] / (1 + Foundation.exp(-a[i])) * b[i]
                #expect(abs(s[i] - expected) < 1e-6)
            }

            var norm = [Float](repeating: 0, count: n)
            Vector.rmsNorm(a, weight: b, eps: 1e-5, out: &norm, n)
            let ms = a.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n)
            let inv = 1 / (ms + 1e-5).squareRoot()
            for i in 0..<n { #expect(abs(Double(norm[i]) - Double(a[i]) * inv * Double(b[i])) < 1e-5) }
        }
    }

    @Test func halfConversionsRoundTrip() {
        for f: Float in [0, 1, -2.5, 65504, 6.1e-5, 1e-7, .infinity] {
            let h = Convert.f32ToF16Portable(f)
            let back = Convert.f16ToF32Portable(h)
            if f.isInfinite { #expect(back.isInfinite) } else { #expect(abs(back - f) <= abs(f) * 1e-3 + 6e-8) }
            var one: UInt16 = 0
            Convert.f32ToF16([f], &one, 1)
            #expect(one == h, "F16C and portable f32->f16 differ for \(f)")
        }
    }
}
