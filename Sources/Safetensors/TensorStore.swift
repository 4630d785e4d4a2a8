import Foundation
import Kernels

/// All tensors of a model directory: `model.safetensors`, or the shards named by `model.safetensors.index.json`.
/// Reads tensors as F32 whatever their stored float type.
public final class TensorStore: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; the files it holds are read-only mappings.
    public let files: [SafetensorsFile]
    let location: [String: (file: Int, info: TensorInfo)]

    public var names: [String] { Array(location.keys) }

    public init(files: [SafetensorsFile]) throws {
        self.files = files
        var location: [String: (Int, TensorInfo)] = [:]
        for (i, file) in files.enumerated() {
            for (name, info) in file.tensors {
                if location[name] != nil {
                    throw SafetensorsError("tensor \"\(name)\" appears in more than one shard")
                }
                location[name] = (i, info)
            }
        }
        self.location = location
    }

    /// Opens a model directory's weights. Shard names in the index must be plain file names inside the directory.
    public static func open(directory: URL) throws -> TensorStore {
        let fm = FileManager.default
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if fm.fileExists(atPath: index.path) {
            let data = try Data(contentsOf: index)
            guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = json["weight_map"] as? [String: Any] else {
                throw SafetensorsError("model.safetensors.index.json has no weight_map object")
            }
            var shards: [String] = []
            for (tensor, value) in map {
                guard let shard = value as? String else {
                    throw SafetensorsError("model.safetensors.index.json: shard for \"\(tensor)\" is not a string")
                }
                guard !shard.isEmpty, !shard.contains("/"), shard != "..", shard != "." else {
                    throw SafetensorsError("model.safetensors.index.json names shard \"\(shard)\" outside the model directory")
                }
                if !shards.contains(shard) { shards.append(shard) }
            }
            shards.sort()
            let files = try shards.map { try SafetensorsFile(url: directory.appendingPathComponent($0)) }
            let store = try TensorStore(files: files)
            for (tensor, value) in map {
                guard let shard = value as? String, let fileIndex = shards.firstIndex(of: shard),
                      store.location[tensor]?.file == fileIndex else {
                    throw SafetensorsError("model.safetensors.index.json maps \"\(tensor)\" to \(value), which does not hold it")
                }
            }
            return store
        }
        let single = directory.appendingPathComponent("model.safetensors")
        guard fm.fileExists(atPath: single.path) else {
            throw SafetensorsError("\(directory.path) has neither model.safetensors nor model.safetensors.index.json")
        }
        return try TensorStore(files: [SafetensorsFile(url: single)])
    }

    public func info(_ name: String) -> TensorInfo? { location[name]?.info }
    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// Copies tensor `name` into `destination` as F32 (widening F16/BF16). The tensor must have `expectedShape`.
    public func readFloats(_ name: String, expectedShape: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        guard let (fileIndex, info) = location[name] else {
            throw SafetensorsError("tensor \"\(name)\" is missing")
        }
        guard info.shape == expectedShape else {
            throw SafetensorsError("tensor \"\(name)\" has shape \(info.shape), expected \(expectedShape)")
        }
        let bytes = files[fileIndex].rawBytes(info)
        try Self.widen(bytes, dtype: info.dtype, count: info.elementCount, into: destination, name: name)
    }

    /// Reads a whole tensor as F32 into a new array.
    public func floats(_ name: String) throws -> (shape: [Int], values: [Float]) {
        guard let info = info(name) else { throw SafetensorsError("tensor \"\(name)\" is missing") }
        var values = [Float](repeating: 0, count: info.elementCount)
        try values.withUnsafeMutableBufferPointer { buf in
            try readFloats(name, expectedShape: info.shape, into: buf.baseAddress!)
        }
        return (info.shape, values)
    }

    public static func widen(_ bytes: UnsafeRawBufferPointer, dtype: DType, count: Int,
                      into destination: UnsafeMutablePointer<Float>, name: String) throws {
        guard count > 0 else { return }
        switch dtype {
        case .f32:
            memcpy(destination, bytes.baseAddress!, count * 4)
        case .bf16, .f16:
            // Data sections are not guaranteed 2-byte aligned relative to the mapping: copy through a bound view
            // only when aligned, else element by element.
            let raw = bytes.baseAddress!
            if Int(bitPattern: raw) % 2 == 0 {
                let halfs = raw.assumingMemoryBound(to: UInt16.self)
                if dtype == .bf16 { Convert.bf16ToF32(halfs, destination, count) }
                else { Convert.f16ToF32(halfs, destination, count) }
            } else {
                var tmp = [UInt16](repeating: 0, count: count)
                _ = tmp.withUnsafeMutableBytes { memcpy($0.baseAddress!, raw, count * 2) }
                tmp.withUnsafeBufferPointer { t in
                    if dtype == .bf16 { Convert.bf16ToF32(t.baseAddress!, destination, count) }
                    else { Convert.f16ToF32(t.baseAddress!, destination, count) }
                }
            }
        default:
            throw SafetensorsError("tensor \"\(name)\" has dtype \(dtype.rawValue); lorad reads weights as F32, F16 or BF16")
        }
    }
}
