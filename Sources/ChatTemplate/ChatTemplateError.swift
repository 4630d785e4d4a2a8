// The one error type of the ChatTemplate module.

/// Why parsing or rendering a chat template failed, naming the offending construct and the template line.
public struct ChatTemplateError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The broad class of failure.
    public enum Kind: Sendable, Equatable {
        /// The template text is not valid Jinja (unclosed tag, bad expression, ...).
        case syntax
        /// Valid Jinja that this renderer does not implement (a tag, filter, test, method or operation).
        case unsupported
        /// A runtime failure Jinja would also raise (undefined attribute access, type errors, ...).
        case render
        /// The template called `raise_exception(message)`; `message` is the template's text.
        case raised
        /// A resource bound was hit (output size, loop iterations, steps, nesting or recursion depth).
        case limit
    }

    public let kind: Kind
    public let message: String
    /// 1-based line in the template source, when known.
    public let line: Int?

    public init(_ kind: Kind, _ message: String, line: Int?) {
        self.kind = kind
        self.message = message
        self.line = line
    }

    public var description: String {
        switch kind {
        case .raised:
            if let line { return "\(message) (raise_exception at line \(line))" }
            return message
        default:
            if let line { return "\(message) at line \(line)" }
            return message
        }
    }
}

extension ChatTemplateError {
    static func syntax(_ message: String, _ line: Int?) -> ChatTemplateError { .init(.syntax, message, line: line) }
    static func unsupported(_ message: String, _ line: Int?) -> ChatTemplateError { .init(.unsupported, message, line: line) }
    static func render(_ message: String, _ line: Int?) -> ChatTemplateError { .init(.render, message, line: line) }
    static func limit(_ message: String, _ line: Int?) -> ChatTemplateError { .init(.limit, message, line: line) }
}
