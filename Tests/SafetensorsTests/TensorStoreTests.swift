import Foundation
import Safetensors
import Testing
import TestSupport

/// Model directories: single file, sharded index, and the ways an index or a read can be wrong.
@Suite struct TensorStoreTests {
    static let shard1 = "model-00001-of-00002.safetensors"
    static let shard2 = "model-00002-of-00002.safetensors"

    /// Writes two shards: a, b in shard 1; c, d in shard 2 (d BF16).
    static func writeShards(in dir: URL) throws {
        try SafetensorsWriter.write(to: dir.appendingPathComponent(shard1),
                                    tensors: [("a", [2, 3], [1, 2, 3, 4, 5, 6]), ("b", [2], [7, 8])])
        // Shard 2 mixes dtypes: c F32, d BF16 (through the Entry API).
        let c = try SafetensorsWriter.encode([-1, -2], as: .f32), d = try SafetensorsWriter.encode([0.5, 1.5, -3], as: .bf16)
        try SafetensorsWriter.write(to: dir.appendingPathComponent(shard2),
                                    entries: [.init(name: "c", dtype: .f32, shape: [1, 2]), .init(name: "d", dtype: .bf16, shape: [3])],
                                    produce: { $0 == 0 ? c : d })
    }

    static func writeIndex(_ weightMap: [String: Any], in dir: URL, extra: [String: Any] = ["metadata": ["total_size": 42]]) throws {
        var root = extra
        root["weight_map"] = weightMap
        let data = try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])
        try data.write(to: dir.appendingPathComponent("model.safetensors.index.json"))
    }

    static let goodMap: [String: String] = ["a": shard1, "b": shard1, "c": shard2, "d": shard2]

    @Test func shardedModelReads() throws {
        let dir = try Fixtures.temporaryDirectory("ts-sharded")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShards(in: dir)
        try Self.writeIndex(Self.goodMap, in: dir)
        let store = try TensorStore.open(directory: dir)
        #expect(store.files.count == 2)
        #expect(Set(store.names) == ["a", "b", "c", "d"])
        #expect(store.contains("c") && !store.contains("e"))
        #expect(store.info("a")?.shape == [2, 3])
        #expect(store.info("d")?.dtype == .bf16)
        #expect(try store.floats("a").values == [1, 2, 3, 4, 5, 6])
        #expect(try store.floats("b").values == [7, 8])
        #expect(try store.floats("c").values == [-1, -2])
        #expect(try store.floats("d").values == [0.5, 1.5, -3])
    }

    /// An index wins over a stray model.safetensors next to it.
    @Test func indexTakesPrecedenceOverSingleFile() throws {
        let dir = try Fixtures.temporaryDirectory("ts-precedence")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShards(in: dir)
        try Self.writeIndex(Self.goodMap, in: dir)
        try SafetensorsWriter.write(to: dir.appendingPathComponent("model.safetensors"), tensors: [("z", [1], [9])])
        let store = try TensorStore.open(directory: dir)
        #expect(!store.contains("z") && store.contains("a"))
    }

    @Test func singleFileModelReads() throws {
        let dir = try Fixtures.temporaryDirectory("ts-single")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SafetensorsWriter.write(to: dir.appendingPathComponent("model.safetensors"),
                                    tensors: [("x", [2, 2], [1, 2, 3, 4])], dtype: .f16)
        let store = try TensorStore.open(directory: dir)
        #expect(store.files.count == 1)
        #expect(try store.floats("x") == ([2, 2], [1, 2, 3, 4]))
    }

    @Test(arguments: ["../evil.safetensors", "sub/x.safetensors", "/etc/passwd", "..", ".", ""])
    func shardOutsideDirectoryIsRefused(shard: String) throws {
        let dir = try Fixtures.temporaryDirectory("ts-escape")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShards(in: dir)
        var map: [String: Any] = Self.goodMap
        map["b"] = shard
        try Self.writeIndex(map, in: dir)
        expectSafetensorsError(["\"\(shard)\"", "outside the model directory"]) { _ = try TensorStore.open(directory: dir) }
    }

    @Test func shardNameMustBeAString() throws {
        let dir = try Fixtures.temporaryDirectory("ts-shardtype")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShards(in: dir)
        var map: [String: Any] = Self.goodMap
        map["b"] = 3
        try Self.writeIndex(map, in: dir)
        expectSafetensorsError(["\"b\"", "not a string"]) { _ = try TensorStore.open(directory: dir) }
    }

    @Test func indexNamingAnAbsentTensorIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory("ts-ghost")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShards(in: dir)
        var map: [String: Any] = Self.goodMap
        map["ghost"] = Self.shard2
        try Self.writeIndex(map, in: dir)
        expectSafetensorsError(["\"ghost\"", Self.shard2, "does not hold it"]) { _ = try TensorStore.open(directory: dir) }
    }

    /// The index says "a" lives in shard 2, but shard 2 lacks it (it is in shard 1): the index is wrong.
    @Test func indexNamingTheWrongShardIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory("ts-wrongshard")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShards(in: dir)
        var map: [String: Any] = Self.goodMap
        map["a"] = Self.shard2
        try Self.writeIndex(map, in: dir)
        expectSafetensorsError(["\"a\"", Self.shard2, "does not hold it"]) { _ = try TensorStore.open(directory: dir) }
    }

    @Test func tensorInTwoShardsIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory("ts-dup")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SafetensorsWriter.write(to: dir.appendingPathComponent(Self.shard1), tensors: [("a", [1], [1]), ("b", [1], [2])])
        try SafetensorsWriter.write(to: dir.appendingPathComponent(Self.shard2), tensors: [("b", [1], [3])])
        try Self.writeIndex(["a": Self.shard1, "b": Self.shard2], in: dir)
        expectSafetensorsError(["\"b\"", "more than one shard"]) { _ = try TensorStore.open(directory: dir) }
    }

    @Test func indexWithoutWeightMapIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory("ts-nomap")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShards(in: dir)
        try Data("{\"metadata\": {}}".utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        expectSafetensorsError(["no weight_map"]) { _ = try TensorStore.open(directory: dir) }
        try Data("not json".utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        expectSafetensorsError(["no weight_map"]) { _ = try TensorStore.open(directory: dir) }
    }

    @Test func missingShardFileIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory("ts-noshard")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShards(in: dir)
        var map: [String: Any] = Self.goodMap
        map["e"] = "model-00003-of-00003.safetensors"
        try Self.writeIndex(map, in: dir)
        expectSafetensorsError(["cannot open", "model-00003-of-00003.safetensors"]) { _ = try TensorStore.open(directory: dir) }
    }

    @Test func wrongExpectedShapeIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory("ts-shape")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShards(in: dir)
        try Self.writeIndex(Self.goodMap, in: dir)
        let store = try TensorStore.open(directory: dir)
        var buf = [Float](repeating: 0, count: 6)
        expectSafetensorsError(["\"a\"", "has shape [2, 3]", "expected [3, 2]"]) {
            try buf.withUnsafeMutableBufferPointer { try store.readFloats("a", expectedShape: [3, 2], into: $0.baseAddress!) }
        }
        expectSafetensorsError(["\"a\"", "has shape"]) {
            try buf.withUnsafeMutableBufferPointer { try store.readFloats("a", expectedShape: [6], into: $0.baseAddress!) }
        }
        expectSafetensorsError(["\"nope\"", "is missing"]) {
            try buf.withUnsafeMutableBufferPointer { try store.readFloats("nope", expectedShape: [1], into: $0.baseAddress!) }
        }
        expectSafetensorsError(["\"nope\"", "is missing"]) { _ = try store.floats("nope") }
        #expect(buf == [0, 0, 0, 0, 0, 0], "a refused read must not write")
    }

    @Test(arguments: [DType.i32, .i64, .u8, .f64, .bool, .f8e4m3])
    func nonWeightDTypeIsRefused(dtype: DType) throws {
        let dir = try Fixtures.temporaryDirectory("ts-int")
        defer { try? FileManager.default.removeItem(at: dir) }
        let entry = SafetensorsWriter.Entry(name: "ids", dtype: dtype, shape: [4])
        try SafetensorsWriter.write(to: dir.appendingPathComponent("model.safetensors"), entries: [entry]) { _ in
            Data(repeating: 1, count: entry.byteCount)
        }
        let store = try TensorStore.open(directory: dir)
        #expect(store.info("ids")?.dtype == dtype)
        #expect(!dtype.isWeightFloat)
        expectSafetensorsError(["\"ids\"", "dtype \(dtype.rawValue)", "F32, F16 or BF16"]) { _ = try store.floats("ids") }
    }

    @Test func directoryWithoutWeightsIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory("ts-empty")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("{}".utf8).write(to: dir.appendingPathComponent("config.json"))
        expectSafetensorsError(["neither model.safetensors nor model.safetensors.index.json", dir.path]) {
            _ = try TensorStore.open(directory: dir)
        }
    }

    @Test func storeOverSeveralFilesRefusesDuplicates() throws {
        let dir = try Fixtures.temporaryDirectory("ts-files")
        defer { try? FileManager.default.removeItem(at: dir) }
        let u1 = dir.appendingPathComponent("1.safetensors"), u2 = dir.appendingPathComponent("2.safetensors")
        try SafetensorsWriter.write(to: u1, tensors: [("x", [1], [1])])
        try SafetensorsWriter.write(to: u2, tensors: [("x", [1], [2])])
        expectSafetensorsError(["\"x\"", "more than one shard"]) {
            _ = try TensorStore(files: [SafetensorsFile(url: u1), SafetensorsFile(url: u2)])
        }
    }
}
