/// An error loading or interpreting a tokenizer; `description` names what was wrong and where.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
