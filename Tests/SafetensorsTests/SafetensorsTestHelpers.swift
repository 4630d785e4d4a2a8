import Foundation
import Safetensors
import Testing

/// Byte-level helpers for building safetensors files by hand (hostile or otherwise) in tests.
enum RawFile {
    /// 8-byte little-endian header length + header bytes + data bytes. `claimedLength` overrides the length field.
    static func bytes(header: String, data: [UInt8] = [], claimedLength: UInt64? = nil) -> Data {
        let headerBytes = Array(header.utf8)
        var out = Data()
        var length = (claimedLength ?? UInt64(headerBytes.count)).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        out.append(contentsOf: data)
        return out
    }

    @discardableResult
    static func write(_ data: Data, to url: URL) throws -> URL {
        try data.write(to: url)
        return url
    }

    /// The header-length field of a file on disk.
    static func headerLength(of url: URL) throws -> UInt64 {
        let data = try Data(contentsOf: url)
        var length: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &length) { data.prefix(8).copyBytes(to: $0) }
        return UInt64(littleEndian: length)
    }

    static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v -> [UInt8] in
            let b = v.bitPattern.littleEndian
            return withUnsafeBytes(of: b) { Array($0) }
        }
    }

    static func littleEndianBytes(_ values: [UInt16]) -> [UInt8] {
        values.flatMap { v -> [UInt8] in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    }
}

/// Independent float rounding used to predict what F16/BF16 storage gives back.
enum Rounding {
    /// F32 -> BF16 bits, round to nearest even (NaN kept NaN, quiet).
    static func bf16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(bits >> 16) | 0x40 }
        let upper = bits >> 16, lower = bits & 0xFFFF
        var r = upper
        if lower > 0x8000 || (lower == 0x8000 && (upper & 1) == 1) { r += 1 }
        return UInt16(truncatingIfNeeded: r)
    }

    static func bf16(_ x: Float) -> Float { Float(bitPattern: UInt32(bf16Bits(x)) << 16) }

    /// F32 -> F16 -> F32 with Swift's own (round-to-nearest-even) conversion.
    static func f16(_ x: Float) -> Float { Float(Float16(x)) }

    static func rounded(_ x: Float, _ dtype: DType) -> Float {
        switch dtype {
        case .bf16: return bf16(x)
        case .f16: return f16(x)
        default: return x
        }
    }
}

/// A deterministic generator for test data (SplitMix64).
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-scale, scale).
    mutating func uniform(_ scale: Float = 1) -> Float {
        (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

/// Runs `body`, expects a `SafetensorsError`, and checks its text contains every fragment.
func expectSafetensorsError(_ fragments: [String], _ comment: String = "",
                            sourceLocation: SourceLocation = #_sourceLocation,
                            _ body: () throws -> Void) {
    let error = #expect(throws: SafetensorsError.self, "\(comment)", sourceLocation: sourceLocation) { try body() }
    guard let error else { return }
    for f in fragments {
        #expect(error.description.contains(f), "\(comment): \"\(error.description)\" lacks \"\(f)\"",
                sourceLocation: sourceLocation)
    }
}
