/// A tensor element type of ggml (the ids GGUF files store). Every id gguf-py knows has its block shape here, so the
/// reader can size any tensor; which types lorad computes with is decided by the model loader.
public struct GGMLType: Hashable, Sendable, CustomStringConvertible {
    public let id: UInt32
    /// Elements per block (1 for F32/F16/BF16 and the integer types; 32 or 256 for quantized blocks).
    public let blockElements: Int
    /// Bytes per block.
    public let blockBytes: Int
    /// ggml's name: "F32", "Q4_K", ...
    public let name: String

    public var description: String { name }

    public static let f32 = GGMLType(id: 0, 1, 4, "F32")
    public static let f16 = GGMLType(id: 1, 1, 2, "F16")
    public static let q4_0 = GGMLType(id: 2, 32, 18, "Q4_0")
    public static let q4_1 = GGMLType(id: 3, 32, 20, "Q4_1")
    public static let q5_0 = GGMLType(id: 6, 32, 22, "Q5_0")
    public static let q5_1 = GGMLType(id: 7, 32, 24, "Q5_1")
    public static let q8_0 = GGMLType(id: 8, 32, 34, "Q8_0")
    public static let q4_K = GGMLType(id: 12, 256, 144, "Q4_K")
    public static let q5_K = GGMLType(id: 13, 256, 176, "Q5_K")
    public static let q6_K = GGMLType(id: 14, 256, 210, "Q6_K")
    public static let bf16 = GGMLType(id: 30, 1, 2, "BF16")

    private init(id: UInt32, _ blockElements: Int, _ blockBytes: Int, _ name: String) {
        self.id = id
        self.blockElements = blockElements
        self.blockBytes = blockBytes
        self.name = name
    }

    /// Every type gguf-py 0.18 knows (constants.py GGML_QUANT_SIZES), by id.
    public static let known: [UInt32: GGMLType] = {
        let all: [GGMLType] = [
            f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0,
            GGMLType(id: 9, 32, 36, "Q8_1"), GGMLType(id: 10, 256, 84, "Q2_K"), GGMLType(id: 11, 256, 110, "Q3_K"),
            q4_K, q5_K, q6_K,
            GGMLType(id: 15, 256, 292, "Q8_K"), GGMLType(id: 16, 256, 66, "IQ2_XXS"),
            GGMLType(id: 17, 256, 74, "IQ2_XS"), GGMLType(id: 18, 256, 98, "IQ3_XXS"),
            GGMLType(id: 19, 256, 50, "IQ1_S"), GGMLType(id: 20, 32, 18, "IQ4_NL"),
            GGMLType(id: 21, 256, 110, "IQ3_S"), GGMLType(id: 22, 256, 82, "IQ2_S"),
            GGMLType(id: 23, 256, 136, "IQ4_XS"), GGMLType(id: 24, 1, 1, "I8"), GGMLType(id: 25, 1, 2, "I16"),
            GGMLType(id: 26, 1, 4, "I32"), GGMLType(id: 27, 1, 8, "I64"), GGMLType(id: 28, 1, 8, "F64"),
            GGMLType(id: 29, 256, 56, "IQ1_M"), bf16, GGMLType(id: 34, 256, 54, "TQ1_0"),
            GGMLType(id: 35, 256, 66, "TQ2_0"), GGMLType(id: 39, 32, 17, "MXFP4"), GGMLType(id: 40, 64, 36, "NVFP4"),
            GGMLType(id: 41, 128, 18, "Q1_0"), GGMLType(id: 42, 64, 18, "Q2_0"),
        ]
        return Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })
    }()

    /// The type with ggml id `id`, nil when unknown.
    public static func withId(_ id: UInt32) -> GGMLType? { known[id] }

    /// The type named `name` ("Q8_0", case-insensitive), nil when unknown.
    public static func named(_ name: String) -> GGMLType? {
        known.values.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// Bytes of `elements` elements in a row, nil unless `elements` is a whole number of blocks.
    public func rowBytes(_ elements: Int) -> Int? {
        guard elements >= 0, elements % blockElements == 0 else { return nil }
        let (bytes, overflow) = (elements / blockElements).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }
}
