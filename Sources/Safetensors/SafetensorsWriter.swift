import Foundation
import Kernels

/// Writes safetensors files. Tensors are produced one at a time in order, so a multi-gigabyte model is never held
/// in memory whole. The header is padded with spaces to a multiple of 8 bytes, as the reference implementation does.
public enum SafetensorsWriter {
    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public init(name: String, dtype: DType, shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
        public var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
    }

    /// Writes `entries` to `url` (via a temporary name and rename); `produce(i)` returns entry i's bytes.
    public static func write(to url: URL, entries: [Entry], metadata: [String: String] = [:],
                             produce: (Int) throws -> Data) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for e in entries {
            header[e.name] = ["dtype": e.dtype.rawValue, "shape": e.shape, "data_offsets": [offset, offset + e.byteCount]]
            offset += e.byteCount
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var length = UInt64(json.count).littleEndian
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        _ = FileManager.default.createFile(atPath: tmp.path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: tmp.path) else {
            throw SafetensorsError("cannot create \(tmp.path)")
        }
        do {
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: json)
            for (i, e) in entries.enumerated() {
                let data = try produce(i)
                guard data.count == e.byteCount else {
                    throw SafetensorsError("tensor \"\(e.name)\" produced \(data.count) bytes, expected \(e.byteCount)")
                }
                try handle.write(contentsOf: data)
            }
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
        if rename(tmp.path, url.path) != 0 {
            try? FileManager.default.removeItem(at: tmp)
            throw SafetensorsError("cannot rename \(tmp.path) to \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Convenience for small tensors held in memory: F32 values stored as `dtype` (F32, F16 or BF16).
    public static func write(to url: URL, tensors: [(name: String, shape: [Int], values: [Float])], dtype: DType = .f32,
                             metadata: [String: String] = [:]) throws {
        let entries = tensors.map { Entry(name: $0.name, dtype: dtype, shape: $0.shape) }
        try write(to: url, entries: entries, metadata: metadata) { i in
            try encode(tensors[i].values, as: dtype)
        }
    }

    /// F32 values as the bytes of `dtype`.
    public static func encode(_ values: [Float], as dtype: DType) throws -> Data {
        switch dtype {
        case .f32:
            return values.withUnsafeBytes { Data($0) }
        case .bf16, .f16:
            var halfs = [UInt16](repeating: 0, count: values.count)
            values.withUnsafeBufferPointer { src in
                halfs.withUnsafeMutableBufferPointer { dst in
                    guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                    if dtype == .bf16 { Convert.f32ToBF16(s, d, values.count) } else { Convert.f32ToF16(s, d, values.count) }
                }
            }
            return halfs.withUnsafeBytes { Data($0) }
        default:
            throw SafetensorsError("cannot write float values as \(dtype.rawValue)")
        }
    }
}
