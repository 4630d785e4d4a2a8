import Foundation
import Kernels
import Testing
import TestSupport

/// The LoRA row kernel (SGMV's body) against a Double reference, narrow weights against the same values widened
/// (bit for bit), and the column blocking and rank cut (a pair split into pieces) not changing a bit.
@Suite struct LowRankTests {
    /// Shapes (inputs, rank, outputs) with odd sizes around the 8- and 32-lane blocks.
    static let shapes = [(64, 4, 256), (2048, 16, 2048), (37, 3, 45), (5, 1, 7), (33, 16, 71), (256, 64, 31)]

    /// y0 + scale · (x · Aᵀ) · Bᵀ in Double. bt is Bᵀ: [rank, outputs].
    static func reference(x: [Float], a: [Float], bt: [Float], rank: Int, inputs: Int, outputs: Int,
                          scale: Float, y0: [Float]) -> [Float] {
        let t = (0..<rank).map { j in Double(scale) * (0..<inputs).reduce(0.0) { $0 + Double(x[$1]) * Double(a[j * inputs + $1]) } }
        return (0..<outputs).map { c in Float(Double(y0[c]) + (0..<rank).reduce(0.0) { $0 + t[$1] * Double(bt[$1 * outputs + c]) }) }
    }

    /// Runs the kernel over `rank` rows of `element` weights given as raw bytes.
    static func run(_ element: WeightElement, x: [Float], a: [UInt8], bt: [UInt8], rank: Int, inputs: Int,
                    outputs: Int, scale: Float, y0: [Float], portable: Bool = false) -> [Float] {
        var y = y0
        var t = [Float](repeating: 0, count: max(rank, 1))
        a.withUnsafeBytes { ap in
            bt.withUnsafeBytes { bp in
                if portable {
                    LowRank.applyPortable(element, x: x, inputs: inputs, a: ap.baseAddress!, bt: bp.baseAddress!,
                                          rank: rank, outputs: outputs, scale: scale, scratch: &t, y: &y)
                } else {
                    LowRank.apply(element, x: x, inputs: inputs, a: ap.baseAddress!, bt: bp.baseAddress!,
                                  rank: rank, outputs: outputs, scale: scale, scratch: &t, y: &y)
                }
            }
        }
        return y
    }

    static func bytes(_ values: [Float]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    /// The values narrowed to `element` (as stored) and the same values widened back to f32.
    static func narrowed(_ values: [Float], _ element: WeightElement) -> (stored: [UInt8], widened: [Float]) {
        let widened = MatmulTests.rounded(values, to: element)
        var bits = [UInt16](repeating: 0, count: values.count)
        if element == .bf16 { Convert.f32ToBF16(widened, &bits, values.count) } else { Convert.f32ToF16(widened, &bits, values.count) }
        return (bits.withUnsafeBytes { Array($0) }, widened)
    }

    @Test(arguments: 0..<shapes.count)
    func matchesTheReference(shapeIndex: Int) {
        let (inputs, rank, outputs) = Self.shapes[shapeIndex]
        var r = TestRandom(seed: UInt64(shapeIndex) + 301)
        let x = r.floats(inputs), a = r.floats(rank * inputs), bt = r.floats(rank * outputs), y0 = r.floats(outputs)
        let want = Self.reference(x: x, a: a, bt: bt, rank: rank, inputs: inputs, outputs: outputs, scale: 0.5, y0: y0)
        // Each t_j sums `inputs` products of magnitude < 1, each y sums `rank` of those.
        let tolerance = 1e-5 * Float(rank) * Float(inputs).squareRoot()
        for portable in [false, true] {
            let got = Self.run(.f32, x: x, a: Self.bytes(a), bt: Self.bytes(bt), rank: rank, inputs: inputs,
                               outputs: outputs, scale: 0.5, y0: y0, portable: portable)
            let err = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            #expect(err < tolerance, "\(inputs)x\(rank)x\(outputs) portable \(portable): error \(err)")
        }
    }

    @Test(arguments: [WeightElement.bf16, .f16], 0..<shapes.count)
    func narrowWeightsGiveTheirWidenedValuesExactly(element: WeightElement, shapeIndex: Int) {
        let (inputs, rank, outputs) = Self.shapes[shapeIndex]
        var r = TestRandom(seed: UInt64(shapeIndex) + 401)
        let x = r.floats(inputs), y0 = r.floats(outputs)
        let a = Self.narrowed(r.floats(rank * inputs), element), bt = Self.narrowed(r.floats(rank * outputs), element)
        for portable in [false, true] {
            let narrow = Self.run(element, x: x, a: a.stored, bt: bt.stored, rank: rank, inputs: inputs,
                                  outputs: outputs, scale: 2, y0: y0, portable: portable)
            let wide = Self.run(.f32, x: x, a: Self.bytes(a.widened), bt: Self.bytes(bt.widened), rank: rank,
                                inputs: inputs, outputs: outputs, scale: 2, y0: y0, portable: portable)
            #expect(narrow == wide, "\(element) \(inputs)x\(rank)x\(outputs) portable \(portable)")
        }
    }

    /// A pair cut into pieces along its rank rows (as pool pages cut it) gives exactly the uncut result.
    @Test(arguments: 0..<shapes.count)
    func cuttingTheRankRowsChangesNothing(shapeIndex: Int) {
        let (inputs, rank, outputs) = Self.shapes[shapeIndex]
        var r = TestRandom(seed: UInt64(shapeIndex) + 501)
        let x = r.floats(inputs), a = r.floats(rank * inputs), bt = r.floats(rank * outputs), y0 = r.floats(outputs)
        let whole = Self.run(.f32, x: x, a: Self.bytes(a), bt: Self.bytes(bt), rank: rank, inputs: inputs,
                             outputs: outputs, scale: 0.25, y0: y0)
        var y = y0
        var j0 = 0
        while j0 < rank {
            let k = min(rank - j0, 1 + j0 % 3)
            y = Self.run(.f32, x: x, a: Self.bytes(Array(a[(j0 * inputs)..<((j0 + k) * inputs)])),
                         bt: Self.bytes(Array(bt[(j0 * outputs)..<((j0 + k) * outputs)])), rank: k, inputs: inputs,
                         outputs: outputs, scale: 0.25, y0: y)
            j0 += k
        }
        #expect(y == whole)
    }
}
