import Foundation
import Safetensors
import Testing
import TestSupport

/// SafetensorsWriter -> SafetensorsFile / TensorStore round trips, and the F16/BF16 rounding rules.
@Suite struct RoundTripTests {
    static let metadata = ["format": "pt", "note": "ünïcode ✓", "empty": ""]

    /// A mix of shapes: matrix, vector, 0-d scalar, and a zero-size tensor (written last).
    static func sampleTensors(seed: UInt64) -> [(name: String, shape: [Int], values: [Float])] {
        var rng = TestRNG(seed: seed)
        return [
            ("w", [3, 4], (0..<12).map { _ in rng.uniform(3) }),
            ("v", [7], [0, -0.0, 1, -1, 65504, 1e-7, 3.14159265]),
            ("scalar", [], [2.5]),
            ("empty", [0, 5], []),
        ]
    }

    @Test(arguments: [DType.f32, .f16, .bf16])
    func roundTrip(dtype: DType) throws {
        let dir = try Fixtures.temporaryDirectory("st-roundtrip")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("t.safetensors")
        let tensors = Self.sampleTensors(seed: 7)
        try SafetensorsWriter.write(to: url, tensors: tensors, dtype: dtype, metadata: Self.metadata)

        let file = try SafetensorsFile(url: url)
        #expect(file.metadata == Self.metadata)
        #expect(Set(file.tensors.keys) == Set(tensors.map(\.name)))
        for t in tensors {
            let info = try #require(file.tensors[t.name])
            #expect(info.dtype == dtype, "\(t.name)")
            #expect(info.shape == t.shape, "\(t.name)")
            #expect(info.dataOffsets.count == t.values.count * dtype.byteSize, "\(t.name)")
            #expect(file.rawBytes(info).count == info.dataOffsets.count)
        }
        // Names come in data order, which is the writer's order.
        #expect(file.names == tensors.map(\.name))

        // Header: length a multiple of 8; file = 8 + header + data exactly.
        let headerLength = try RawFile.headerLength(of: url)
        #expect(headerLength % 8 == 0)
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! NSNumber
        let dataBytes = tensors.reduce(0) { $0 + $1.values.count * dtype.byteSize }
        #expect(size.intValue == 8 + Int(headerLength) + dataBytes)

        // Values through the store, widened to F32.
        let store = try TensorStore(files: [file])
        for t in tensors {
            let (shape, values) = try store.floats(t.name)
            #expect(shape == t.shape)
            let expected = t.values.map { Rounding.rounded($0, dtype) }
            #expect(values.map(\.bitPattern) == expected.map(\.bitPattern), "\(t.name) as \(dtype.rawValue)")
        }
        // And through readFloats into a caller buffer.
        var buf = [Float](repeating: .nan, count: 12)
        try buf.withUnsafeMutableBufferPointer { try store.readFloats("w", expectedShape: [3, 4], into: $0.baseAddress!) }
        #expect(buf == tensors[0].values.map { Rounding.rounded($0, dtype) })
    }

    @Test func f16AndBF16AreWithinHalfAnUlp() throws {
        var rng = TestRNG(seed: 99)
        let values = (0..<1000).map { _ in rng.uniform(100) }
        for dtype in [DType.f16, .bf16] {
            let data = try SafetensorsWriter.encode(values, as: dtype)
            let halfs = data.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
            let back: [Float] = halfs.map {
                dtype == .bf16 ? Float(bitPattern: UInt32($0) << 16) : Float(Float16(bitPattern: $0))
            }
            let mantissaBits: Float = dtype == .bf16 ? 8 : 11
            for (x, y) in zip(values, back) {
                // |x - y| <= half an ulp of the stored format (relative bound).
                #expect(abs(x - y) <= abs(x) * powf(2, -mantissaBits) + 1e-7, "\(dtype.rawValue): \(x) -> \(y)")
            }
        }
    }

    /// Hand-picked F32 bit patterns and their BF16 encodings under round-to-nearest-even.
    static let bf16Cases: [(bits: UInt32, expected: UInt16)] = [
        (0x3F80_0000, 0x3F80),   // 1.0 exact
        (0x3F80_7FFF, 0x3F80),   // just below the halfway point: down
        (0x3F80_8000, 0x3F80),   // exact tie, lower is even: stays
        (0x3F80_8001, 0x3F81),   // just above the tie: up
        (0x3F81_8000, 0x3F82),   // exact tie, lower is odd: up to even
        (0xBF81_8000, 0xBF82),   // same, negative
        (0x8000_0000, 0x8000),   // -0
        (0x7F80_0000, 0x7F80),   // +inf
        (0xFF80_0000, 0xFF80),   // -inf
        (0x7F7F_FFFF, 0x7F80),   // largest finite float rounds to inf
        (0x0000_0001, 0x0000),   // smallest subnormal rounds to 0
        (0x007F_8000, 0x0080),   // subnormal tie, odd lower (0x007F): up to the smallest normal
        (0x7FC0_0000, 0x7FC0),   // quiet NaN
    ]

    @Test func bf16RoundsToNearestEven() throws {
        let values = Self.bf16Cases.map { Float(bitPattern: $0.bits) }
        let data = try SafetensorsWriter.encode(values, as: .bf16)
        let halfs = data.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
        for (c, h) in zip(Self.bf16Cases, halfs) {
            #expect(h == c.expected, "0x\(String(c.bits, radix: 16)) -> 0x\(String(h, radix: 16)), want 0x\(String(c.expected, radix: 16))")
            #expect(h == Rounding.bf16Bits(Float(bitPattern: c.bits)))
        }
        // A signalling NaN must stay NaN (its payload lives in the low bits that are dropped).
        let snan = try SafetensorsWriter.encode([Float(bitPattern: 0x7F80_0001)], as: .bf16)
        let snanBits = snan.withUnsafeBytes { $0.load(as: UInt16.self) }
        #expect(Float(bitPattern: UInt32(snanBits) << 16).isNaN)

        // Through a file and back.
        let dir = try Fixtures.temporaryDirectory("st-bf16")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("b.safetensors")
        try SafetensorsWriter.write(to: url, tensors: [("x", [values.count], values)], dtype: .bf16)
        let store = try TensorStore(files: [SafetensorsFile(url: url)])
        let back = try store.floats("x").values
        for (c, y) in zip(Self.bf16Cases, back) {
            #expect(y.bitPattern == UInt32(c.expected) << 16 || (y.isNaN && c.expected & 0x7FFF > 0x7F80))
        }
    }

    /// F16 ties, overflow and subnormals (round-to-nearest-even).
    @Test func f16RoundsToNearestEven() throws {
        let cases: [(Float, UInt16)] = [
            (1, 0x3C00),
            (1 + powf(2, -11), 0x3C00),         // tie, even lower
            (1 + 3 * powf(2, -11), 0x3C02),     // tie, odd lower: up
            (65504, 0x7BFF),                    // largest finite half
            (65520, 0x7C00),                    // halfway to the next binade: inf
            (-70000, 0xFC00),
            (powf(2, -24), 0x0001),             // smallest subnormal
            (powf(2, -25), 0x0000),             // tie with 0: even
            (3 * powf(2, -25), 0x0002),         // 1.5 ulp: tie, up to even
            (-0.0, 0x8000),
        ]
        // Long enough to use any 8-wide vector path as well as the scalar tail.
        let values = cases.map(\.0) + cases.map(\.0)
        let data = try SafetensorsWriter.encode(values, as: .f16)
        let halfs = data.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
        for (i, h) in halfs.enumerated() {
            let (x, want) = cases[i % cases.count]
            #expect(h == want, "\(x) -> 0x\(String(h, radix: 16)), want 0x\(String(want, radix: 16))")
        }
    }

    @Test func encodeRefusesNonFloatTypes() {
        expectSafetensorsError(["cannot write float values as I32"]) {
            _ = try SafetensorsWriter.encode([1, 2], as: .i32)
        }
    }

    /// A producer that returns the wrong byte count fails the write and leaves nothing behind.
    @Test func writerChecksProducedBytes() throws {
        let dir = try Fixtures.temporaryDirectory("st-writer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bad.safetensors")
        expectSafetensorsError(["\"x\"", "produced 3 bytes, expected 8"]) {
            try SafetensorsWriter.write(to: url, entries: [.init(name: "x", dtype: .f32, shape: [2])]) { _ in
                Data([1, 2, 3])
            }
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(left.isEmpty, "left behind: \(left)")
    }

    /// Other dtypes are written through the Entry API, read back with their dtype and size.
    @Test func entryAPIWritesAnyDType() throws {
        let dir = try Fixtures.temporaryDirectory("st-entries")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("e.safetensors")
        let entries: [SafetensorsWriter.Entry] = [
            .init(name: "ids", dtype: .i64, shape: [3]),
            .init(name: "mask", dtype: .bool, shape: [5]),
            .init(name: "h", dtype: .u16, shape: [1, 1]),
        ]
        try SafetensorsWriter.write(to: url, entries: entries) { i in Data(repeating: UInt8(i + 1), count: entries[i].byteCount) }
        let file = try SafetensorsFile(url: url)
        #expect(file.tensors["ids"]?.dtype == .i64 && file.tensors["ids"]?.dataOffsets == 0..<24)
        #expect(file.tensors["mask"]?.dataOffsets == 24..<29)
        #expect(file.tensors["h"]?.dataOffsets == 29..<31)
        #expect(Array(file.rawBytes(file.tensors["mask"]!)) == [2, 2, 2, 2, 2])
        #expect(file.metadata.isEmpty)
    }

    /// A zero-size tensor in the middle shares its offset with the next tensor's start: that is not an overlap
    /// (the reference implementation orders by (start, end) and accepts it). Several names make the outcome
    /// independent of dictionary order.
    @Test(arguments: 0..<3)
    func zeroSizeTensorSharingAnOffsetIsNotAnOverlap(round: Int) throws {
        let dir = try Fixtures.temporaryDirectory("st-zero")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("z.safetensors")
        var tensors: [(name: String, shape: [Int], values: [Float])] = [("first\(round)", [2], [1, 2])]
        for i in 0..<12 { tensors.append(("empty\(round)_\(i)", [0], [])) }
        tensors.append(("last\(round)", [3], [3, 4, 5]))
        try SafetensorsWriter.write(to: url, tensors: tensors)
        let file = try SafetensorsFile(url: url)
        let store = try TensorStore(files: [file])
        #expect(try store.floats("last\(round)").values == [3, 4, 5])
        #expect(try store.floats("empty\(round)_0").values.isEmpty)
    }

    /// Hand-built file whose header length is odd, so the data section is not 2- or 4-byte aligned.
    @Test(arguments: [DType.f32, .f16, .bf16])
    func unalignedDataSectionReads(dtype: DType) throws {
        let dir = try Fixtures.temporaryDirectory("st-unaligned")
        defer { try? FileManager.default.removeItem(at: dir) }
        let values: [Float] = [1, -2, 0.5, 3.75, -0.125, 6, 7, 8, 9, 10]
        let payload = Array(try SafetensorsWriter.encode(values, as: dtype))
        var header = "{\"t\":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[2,5],\"data_offsets\":[0,\(payload.count)]}}"
        if header.utf8.count % 2 == 0 { header += " " }
        let url = try RawFile.write(RawFile.bytes(header: header, data: payload), to: dir.appendingPathComponent("u.safetensors"))
        let store = try TensorStore(files: [SafetensorsFile(url: url)])
        #expect(try store.floats("t").values == values)
    }
}
