import Foundation
@testable import GGUF
import Testing
import TestSupport

/// Files written by `GGUFWriter` read back exactly; hand-broken files are refused with errors naming the key or
/// tensor, never a crash.
@Suite struct GGUFReaderTests {
    static func sample() -> GGUFWriter {
        var w = GGUFWriter()
        w.add("general.architecture", .string("llama"))
        w.add("u8", .uint8(200))
        w.add("i8", .int8(-5))
        w.add("u16", .uint16(65000))
        w.add("i16", .int16(-30000))
        w.add("u32", .uint32(4_000_000_000))
        w.add("i32", .int32(-2_000_000_000))
        w.add("u64", .uint64(UInt64.max))
        w.add("i64", .int64(Int64.min))
        w.add("f32", .float32(1.5e-5))
        w.add("f64", .float64(-2.25))
        w.add("flag", .bool(true))
        w.add("text", .string("héllo ▁wörld"))
        w.add("tokens", .array(elementType: 8, [.string("<s>"), .string("a"), .string("")]))
        w.add("scores", .array(elementType: 6, [.float32(0), .float32(-1.5)]))
        w.add("nested", .array(elementType: 9, [.array(elementType: 4, [.uint32(1), .uint32(2)]),
                                                .array(elementType: 4, [])]))
        w.addTensor("a", type: .f32, shape: [3, 2], data: Data((0..<24).map { UInt8($0) }))
        w.addTensor("b", type: .q8_0, shape: [32], data: Data(repeating: 7, count: 34))
        w.addTensor("c", type: .bf16, shape: [5], data: Data(repeating: 1, count: 10))
        return w
    }

    static func parse(_ bytes: Data) throws -> GGUFFile.Parsed {
        try bytes.withUnsafeBytes { try GGUFFile.parse($0) }
    }

    @Test func roundTripsEveryValueTypeAndTensor() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.gguf")
        try Self.sample().write(to: url)
        let f = try GGUFFile(url: url)
        #expect(f.version == 3 && f.alignment == 32)
        #expect(try f.string("general.architecture") == "llama")
        #expect(f.value("u8") == .uint8(200) && f.value("i8") == .int8(-5))
        #expect(f.value("u16") == .uint16(65000) && f.value("i16") == .int16(-30000))
        #expect(f.value("u32") == .uint32(4_000_000_000) && f.value("i32") == .int32(-2_000_000_000))
        #expect(f.value("u64") == .uint64(UInt64.max) && f.value("i64") == .int64(Int64.min))
        #expect(f.value("f32") == .float32(1.5e-5) && f.value("f64") == .float64(-2.25))
        #expect(try f.bool("flag") == true && (try f.string("text")) == "héllo ▁wörld")
        #expect(try f.array("tokens")?.compactMap(\.string) == ["<s>", "a", ""])
        #expect(f.value("nested")?.typeName == "array[array]")
        #expect(f.keys.first == "general.architecture" && f.keys.count == 16)
        #expect(f.tensorNames == ["a", "b", "c"])
        let a = try #require(f.tensors["a"])
        #expect(a.shape == [3, 2] && a.columns == 3 && a.rows == 2 && a.byteCount == 24 && a.type == .f32)
        #expect(Array(f.rawBytes(a)) == (0..<24).map { UInt8($0) })
        let b = try #require(f.tensors["b"])
        #expect(b.offset == 32 && b.byteCount == 34 && Array(f.rawBytes(b)) == [UInt8](repeating: 7, count: 34))
        #expect(f.dataStart % 32 == 0)
        // Typed access names the key when the type is wrong.
        #expect(throws: GGUFError("metadata \"text\" is string, expected an integer")) { _ = try f.int("text") }
        #expect(throws: GGUFError("metadata \"general.name\" is missing")) { _ = try f.requiredString("general.name") }
    }

    /// Every prefix of a valid file is refused (never a crash, never accepted with tensors outside the bytes).
    @Test func everyTruncationIsRefused() throws {
        let bytes = Self.sample().bytes()
        let full = try Self.parse(bytes)
        #expect(full.tensors.count == 3)
        // The last tensor ends 10 bytes into its aligned slot, so prefixes that keep it are valid.
        let lastEnd = full.dataStart + full.tensors["c"]!.offset + 10
        for n in 0..<lastEnd {
            #expect(throws: GGUFError.self, "prefix \(n)") { _ = try Self.parse(bytes.prefix(n)) }
        }
    }

    /// Header fields at byte offsets of a minimal file: magic, version, counts.
    static func header(version: UInt32 = 3, tensors: UInt64 = 0, keys: UInt64 = 0) -> Data {
        var d = Data("GGUF".utf8)
        for v in [version] { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        for v in [tensors, keys] { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        return d
    }

    static func u32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    static func u64(_ v: UInt64) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    static func str(_ s: String) -> Data { u64(UInt64(s.utf8.count)) + Data(s.utf8) }
    static func tensor(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) -> Data {
        var d = str(name) + u32(UInt32(dims.count))
        for x in dims { d += u64(x) }
        return d + u32(type) + u64(offset)
    }

    static let hostile: [(String, Data, [String])] = [
        ("no magic", Data("GGML".utf8) + Data(count: 20), ["not a GGUF file"]),
        ("version 1", header(version: 1), ["version 1 is not supported"]),
        ("big-endian", header(version: 3 << 24), ["big-endian"]),
        ("metadata count past the file", header(keys: 1 << 40), ["1099511627776 metadata entries"]),
        ("tensor count UInt64.max", header(tensors: UInt64.max), ["tensor count is 18446744073709551615"]),
        ("key length past the file", header(keys: 1) + u64(1 << 50) + Data(count: 8),
         ["metadata key 0", "1125899906842624 bytes long"]),
        ("unknown value type", header(keys: 1) + str("k") + u32(13) + Data(count: 8),
         ["\"k\"", "unknown value type 13"]),
        ("bool 2", header(keys: 1) + str("flag") + u32(7) + Data([2]) + Data(count: 8), ["\"flag\"", "bool value 2"]),
        ("array count past the file", header(keys: 1) + str("tokens") + u32(9) + u32(8) + u64(1 << 40) + Data(count: 8),
         ["\"tokens\"", "claims 1099511627776 elements"]),
        ("array of unknown type", header(keys: 1) + str("arr") + u32(9) + u32(77) + u64(1), ["\"arr\"", "unknown type 77"]),
        ("string value past the file", header(keys: 1) + str("name") + u32(8) + u64(100) + Data("ab".utf8),
         ["\"name\"", "claims 100 bytes"]),
        ("duplicate key", header(keys: 2) + str("k") + u32(0) + Data([1]) + str("k") + u32(0) + Data([2]) + Data(count: 8),
         ["\"k\" appears twice"]),
        ("alignment not a power of two", header(keys: 1) + str("general.alignment") + u32(4) + u32(48) + Data(count: 8),
         ["general.alignment", "48"]),
        ("alignment of the wrong type", header(keys: 1) + str("general.alignment") + u32(5) + u32(64) + Data(count: 8),
         ["general.alignment", "int32, expected uint32"]),
        ("five dimensions", header(tensors: 1) + tensor("w", dims: [1, 1, 1, 1, 1], type: 0, offset: 0) + Data(count: 64),
         ["\"w\"", "5 dimensions"]),
        ("zero dimension", header(tensors: 1) + tensor("w", dims: [4, 0], type: 0, offset: 0) + Data(count: 64),
         ["\"w\"", "dimension 1 of 0"]),
        ("element count overflow", header(tensors: 1) + tensor("w", dims: [1 << 32, 1 << 32], type: 0, offset: 0)
            + Data(count: 64), ["\"w\"", "too many elements"]),
        ("unknown tensor type", header(tensors: 1) + tensor("w", dims: [4], type: 31, offset: 0) + Data(count: 64),
         ["\"w\"", "unknown type id 31"]),
        ("row not whole blocks", header(tensors: 1) + tensor("w", dims: [48, 2], type: 12, offset: 0) + Data(count: 64),
         ["\"w\"", "Q4_K", "48 elements", "block size 256"]),
        ("misaligned offset", header(tensors: 1) + tensor("w", dims: [4], type: 0, offset: 3) + Data(count: 64),
         ["\"w\"", "offset 3", "alignment 32"]),
        ("tensor past the end", header(tensors: 1) + tensor("w", dims: [64, 64], type: 0, offset: 0) + Data(count: 64),
         ["\"w\"", "runs past the end"]),
        ("overlapping tensors", header(tensors: 2) + tensor("a", dims: [16], type: 0, offset: 0)
            + tensor("b", dims: [16], type: 0, offset: 32) + Data(count: 200), ["\"b\" overlaps tensor \"a\""]),
        ("duplicate tensor", header(tensors: 2) + tensor("a", dims: [4], type: 0, offset: 0)
            + tensor("a", dims: [4], type: 0, offset: 32) + Data(count: 200), ["tensor \"a\" appears twice"]),
        ("long tensor name", header(tensors: 1) + tensor(String(repeating: "x", count: 65), dims: [4], type: 0, offset: 0)
            + Data(count: 64), ["65 bytes long"]),
    ]

    @Test(arguments: 0..<hostile.count)
    func hostileFileIsRefusedWithItsReason(_ i: Int) throws {
        let (label, bytes, expected) = Self.hostile[i]
        let error = #expect(throws: GGUFError.self, "\(label)") { _ = try Self.parse(bytes) }
        for part in expected {
            #expect(error?.description.contains(part) == true, "\(label): \(error?.description ?? "") lacks \(part)")
        }
    }

    @Test func fileErrorsNameTheFile() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bad.gguf")
        try (Self.header(tensors: 1) + Self.tensor("w", dims: [4], type: 31, offset: 0)).write(to: url)
        #expect(throws: GGUFError("bad.gguf: tensor \"w\" has unknown type id 31")) { _ = try GGUFFile(url: url) }
        #expect(throws: GGUFError.self) { _ = try GGUFFile(url: dir) }
    }
}
