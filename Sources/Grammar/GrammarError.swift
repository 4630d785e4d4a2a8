/// A grammar, regex or JSON Schema that cannot be compiled, or a matcher that cannot go on; `description` names the
/// offending rule, keyword or position.
public struct GrammarError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
