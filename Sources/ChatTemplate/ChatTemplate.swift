// Public face of the module: parse a Hugging Face chat template once, render it per request.

import Foundation

/// A parsed `chat_template` from tokenizer_config.json. Immutable and safe to share across threads;
/// each `render` builds its own state, bounded by `ChatTemplateLimits`.
public struct ChatTemplate: Sendable {
    /// The template text as given.
    public let source: String
    private let body: [Stmt]

    /// Parses once; throws `ChatTemplateError` (`.syntax`, `.unsupported` naming the construct, `.limit` for
    /// nesting deeper than `maxNesting`) with the template line.
    public init(source: String, maxNesting: Int = 64) throws {
        self.source = source
        var parser = Parser(tokens: try Lexer.tokenize(source), maxNesting: maxNesting)
        body = try parser.parseTemplate()
    }

    /// Renders with the given variables (`messages`, `add_generation_prompt`, `bos_token`, `eos_token`, `tools`, ...),
    /// as transformers' `apply_chat_template` does. Throws `ChatTemplateError`.
    public func render(_ context: [String: JinjaValue]) throws -> String {
        try render(context, limits: ChatTemplateLimits())
    }

    /// Renders under explicit resource bounds; exceeding one throws `ChatTemplateError` of kind `.limit`.
    public func render(_ context: [String: JinjaValue], limits: ChatTemplateLimits) throws -> String {
        try render(context, limits: limits, now: Date())
    }

    /// Renders with a fixed clock for `strftime_now`.
    func render(_ context: [String: JinjaValue], limits: ChatTemplateLimits, now: Date) throws -> String {
        var variables: [String: Value] = [:]
        for (name, value) in context {
            variables[name] = try Value(value, maxDepth: limits.maxDepth)
        }
        return try Renderer(context: variables, limits: limits, now: now).render(body)
    }

    /// `[{"role": ..., "content": ...}, ...]` for the `messages` variable.
    public static func messages(_ list: [(role: String, content: String)]) -> JinjaValue {
        .list(list.map { .dict(["role": .string($0.role), "content": .string($0.content)]) })
    }

    /// The `messages` variable from messages with extra keys (`tool_calls`, `name`, ...).
    public static func messages(_ list: [ChatMessage]) -> JinjaValue {
        .list(list.map(\.jinjaValue))
    }
}

/// Bounds on one render, so hostile templates end with `.limit` instead of hanging or exhausting memory.
public struct ChatTemplateLimits: Sendable, Equatable {
    /// Bytes of rendered output; also the largest string (or `tojson` text) built on the way.
    public var maxOutputBytes: Int
    /// For-loop iterations of the whole render together; also the largest `range()` or list built.
    public var maxLoopIterations: Int
    /// Statement and expression evaluations, plus one step per 64 bytes of text built.
    public var maxSteps: Int
    /// Nesting of evaluation (expressions, blocks, macro calls, so recursion) and of data (lists in lists, ...).
    /// Each level costs under 4 KB of stack in a debug build (1024 levels were measured to fit an 8 MB stack).
    public var maxDepth: Int

    public init(maxOutputBytes: Int = 1 << 20, maxLoopIterations: Int = 100_000, maxSteps: Int = 1_000_000,
                maxDepth: Int = 256)
    {
        self.maxOutputBytes = maxOutputBytes
        self.maxLoopIterations = maxLoopIterations
        self.maxSteps = maxSteps
        self.maxDepth = maxDepth
    }
}

extension Value {
    /// Converts caller data, refusing nesting deeper than `maxDepth`.
    init(_ v: JinjaValue, maxDepth: Int, level: Int = 0) throws {
        guard level <= maxDepth else {
            throw ChatTemplateError.limit("context data nested deeper than \(maxDepth) levels", nil)
        }
        switch v {
        case .undefined: self = .undefined("a context value is undefined")
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .list(let items): self = .list(try items.map { try Value($0, maxDepth: maxDepth, level: level + 1) })
        case .dict(let d):
            var out = ValueDict()
            for (k, item) in d { out.set(k, try Value(item, maxDepth: maxDepth, level: level + 1)) }
            self = .dict(out)
        }
    }
}
