import Foundation
import Kernels
import Testing
import TestSupport

/// ggml's block formats against the reference implementations, from fixtures made by
/// Tests/Fixtures/quant/make_quant_fixtures.py: dequantization bit-exact with gguf-py (random blocks and ggml's own
/// output), quantization byte-identical to ggml's C reference quantizers (what llama-quantize writes without an
/// importance matrix).
@Suite struct QuantFormatTests {
    static let directory = Fixtures.directory.appendingPathComponent("quant")

    static func load(_ type: QuantType, _ suffix: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent("\(type.name).\(suffix)"))
    }

    static func floats(_ data: Data) -> [Float] {
        data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func dequantize(_ type: QuantType, _ blocks: Data) -> [Float] {
        let n = blocks.count / type.blockBytes * type.blockElements
        var out = [Float](repeating: .nan, count: n)
        blocks.withUnsafeBytes { b in type.dequantize(b.baseAddress!, into: &out, count: n) }
        return out
    }

    /// Index and bit patterns of the first difference, nil when `a` and `b` are bit-identical.
    static func firstBitDifference(_ a: [Float], _ b: [Float]) -> String? {
        guard a.count == b.count else { return "\(a.count) values against \(b.count)" }
        for i in a.indices where a[i].bitPattern != b[i].bitPattern {
            return "value \(i): \(a[i]) (0x\(String(a[i].bitPattern, radix: 16))) against \(b[i]) " +
                "(0x\(String(b[i].bitPattern, radix: 16)))"
        }
        return nil
    }

    @Test func geometryIsGgmls() {
        let expected: [QuantType: (Int, Int)] = [
            .f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .q4_0: (32, 18), .q4_1: (32, 20), .q5_0: (32, 22),
            .q5_1: (32, 24), .q8_0: (32, 34), .q4_K: (256, 144), .q5_K: (256, 176), .q6_K: (256, 210),
        ]
        for t in QuantType.allCases {
            #expect(t.blockElements == expected[t]!.0 && t.blockBytes == expected[t]!.1, "\(t.name)")
            #expect(QuantType(name: t.name.lowercased()) == t)
        }
        #expect(QuantType(ggmlID: 10) == nil, "Q2_K is not supported")
        #expect(QuantType.q4_K.rowBytes(2048) == 8 * 144)
        #expect(QuantType.q4_K.rowBytes(2000) == nil)
    }

    @Test(arguments: QuantType.allCases)
    func dequantizeRandomBlocksMatchesGgufPy(type: QuantType) throws {
        let blocks = try Self.load(type, "random.q"), expected = Self.floats(try Self.load(type, "random.f32"))
        let got = Self.dequantize(type, blocks)
        #expect(Self.firstBitDifference(got, expected) == nil, "\(type.name): \(Self.firstBitDifference(got, expected) ?? "")")
    }

    @Test(arguments: QuantType.allCases)
    func quantizeMatchesGgmlAndDequantizesLikeGgufPy(type: QuantType) throws {
        let input = Self.floats(try Self.load(type, "input.f32"))
        let expected = try Self.load(type, "ggml.q")
        var out = Data(count: expected.count)
        let written = out.withUnsafeMutableBytes { type.quantize(input, into: $0.baseAddress!, count: input.count) }
        #expect(written == expected.count)
        if out != expected {
            let i = zip(out, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1
            Issue.record("\(type.name): byte \(i) of \(expected.count) differs from ggml (block \(i / type.blockBytes))")
        }
        let deq = Self.dequantize(type, expected)
        let ref = Self.floats(try Self.load(type, "ggml.f32"))
        #expect(Self.firstBitDifference(deq, ref) == nil, "\(type.name): \(Self.firstBitDifference(deq, ref) ?? "")")
    }

    @Test func quantizedMatrixRowsRoundTrip() throws {
        // QuantizedMatrix(quantizing:) writes what the type's quantizer writes, row by row.
        let type = QuantType.q4_K, rows = 5, cols = 512
        var r = TestRandom(seed: 7)
        let w = r.floats(rows * cols)
        let m = QuantizedMatrix(quantizing: w, rows: rows, cols: cols, type: type)
        #expect(m.rowBytes == 2 * 144 && m.byteCount == rows * 2 * 144)
        for n in 0..<rows {
            var blocks = [UInt8](repeating: 0, count: m.rowBytes)
            _ = w.withUnsafeBufferPointer { type.quantize($0.baseAddress! + n * cols, into: &blocks, count: cols) }
            #expect(memcmp(blocks, m.blocks + n * m.rowBytes, m.rowBytes) == 0, "row \(n)")
            var row = [Float](repeating: 0, count: cols), direct = [Float](repeating: 0, count: cols)
            m.dequantize(row: n, into: &row)
            blocks.withUnsafeBytes { type.dequantize($0.baseAddress!, into: &direct, count: cols) }
            #expect(row == direct)
        }
    }
}
