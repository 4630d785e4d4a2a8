import Foundation

// Temporary until the tokenizer lands in this tree: ids only.
struct TextCodec {
    init(directory: URL) throws {}
    func encode(_ text: String) throws -> [Int] { throw CommandError("tokenizer not yet supported") }
    func decode(_ ids: [Int]) -> String? { nil }
    func streaming() -> PendingDecoder? { nil }
}
struct PendingDecoder {
    mutating func append(_ id: Int) -> String { "" }
    func finish() -> String { "" }
}
