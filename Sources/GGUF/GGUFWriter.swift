import Foundation

/// Writes a GGUF version 3 file: metadata in the order added, then tensor infos, then the tensors' data, each
/// aligned to `alignment` (32, the format's default). Used by `lorad quantize` and by tests.
public struct GGUFWriter {
    public let alignment: Int
    private var header = Data()
    private var metadataCount = 0
    private var tensors: [(name: String, type: GGMLType, shape: [Int], data: Data)] = []

    public init(alignment: Int = 32) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0)
        self.alignment = alignment
    }

    public mutating func add(_ key: String, _ value: GGUFValue) {
        Self.appendString(&header, key)
        Self.appendType(&header, value)
        Self.appendValue(&header, value)
        metadataCount += 1
    }

    /// A tensor in ggml order (`shape[0]` innermost); `data` must hold exactly its bytes.
    public mutating func addTensor(_ name: String, type: GGMLType, shape: [Int], data: Data) {
        precondition(type.rowBytes(shape[0]).map { $0 * shape.dropFirst().reduce(1, *) } == data.count,
                     "tensor \(name): \(data.count) bytes for shape \(shape) of \(type)")
        tensors.append((name, type, shape, data))
    }

    /// The whole file.
    public func bytes() -> Data {
        var out = Data()
        Self.append(&out, UInt32(0x4655_4747))
        Self.append(&out, UInt32(3))
        Self.append(&out, UInt64(tensors.count))
        Self.append(&out, UInt64(metadataCount))
        out.append(header)
        var offset = 0
        for t in tensors {
            Self.appendString(&out, t.name)
            Self.append(&out, UInt32(t.shape.count))
            for d in t.shape { Self.append(&out, UInt64(d)) }
            Self.append(&out, t.type.id)
            Self.append(&out, UInt64(offset))
            offset = (offset + t.data.count + alignment - 1) / alignment * alignment
        }
        pad(&out)
        for t in tensors {
            out.append(t.data)
            pad(&out)
        }
        return out
    }

    public func write(to url: URL) throws { try bytes().write(to: url, options: .atomic) }

    private func pad(_ d: inout Data) {
        let r = d.count % alignment
        if r != 0 { d.append(Data(count: alignment - r)) }
    }

    private static func append<T: FixedWidthInteger>(_ d: inout Data, _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) }
    }

    private static func appendString(_ d: inout Data, _ s: String) {
        append(&d, UInt64(s.utf8.count))
        d.append(contentsOf: Array(s.utf8))
    }

    private static func typeId(_ v: GGUFValue) -> UInt32 {
        switch v {
        case .uint8: return 0
        case .int8: return 1
        case .uint16: return 2
        case .int16: return 3
        case .uint32: return 4
        case .int32: return 5
        case .float32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .uint64: return 10
        case .int64: return 11
        case .float64: return 12
        }
    }

    private static func appendType(_ d: inout Data, _ v: GGUFValue) { append(&d, typeId(v)) }

    private static func appendValue(_ d: inout Data, _ v: GGUFValue) {
        switch v {
        case .uint8(let x): append(&d, x)
        case .int8(let x): append(&d, x)
        case .uint16(let x): append(&d, x)
        case .int16(let x): append(&d, x)
        case .uint32(let x): append(&d, x)
        case .int32(let x): append(&d, x)
        case .uint64(let x): append(&d, x)
        case .int64(let x): append(&d, x)
        case .float32(let x): append(&d, x.bitPattern)
        case .float64(let x): append(&d, x.bitPattern)
        case .bool(let b): append(&d, UInt8(b ? 1 : 0))
        case .string(let s): appendString(&d, s)
        case .array(let type, let items):
            append(&d, type)
            append(&d, UInt64(items.count))
            for item in items { appendValue(&d, item) }
        }
    }
}
