// The parsed template: immutable expression and statement trees, shared by every render.

/// A literal written in the template.
enum Constant: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
}

struct Expr: Sendable {
    indirect enum Kind: Sendable {
        case constant(Constant)
        case name(String)
        case list([Expr])
        case tuple([Expr])
        case dict([(key: Expr, value: Expr)])
        case getattr(Expr, String)
        case getitem(Expr, Expr)
        case slice(Expr, start: Expr?, stop: Expr?, step: Expr?)
        case call(Expr, CallArgs)
        case filter(Expr?, name: String, CallArgs)  // the value is nil inside `{% filter %}` / `{% set x | f %}`
        case test(Expr, name: String, CallArgs, negated: Bool)
        case not(Expr)
        case negate(Expr)
        case plus(Expr)
        case binary(BinaryOp, Expr, Expr)
        case and(Expr, Expr)
        case or(Expr, Expr)
        case compare(Expr, [(op: CompareOp, rhs: Expr)])
        case conditional(test: Expr, then: Expr, otherwise: Expr?)
    }

    let kind: Kind
    let line: Int
    /// Height of this tree, bounded at parse time so evaluation recursion is bounded.
    let depth: Int
}

struct CallArgs: Sendable {
    var positional: [Expr] = []
    var keyword: [(name: String, value: Expr)] = []

    var maxDepth: Int { max(positional.map(\.depth).max() ?? 0, keyword.map(\.value.depth).max() ?? 0) }
}

enum BinaryOp: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
    case concat = "~"
}

enum CompareOp: String, Sendable {
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=", `in` = "in", notIn = "not in"
}

/// Where `{% for %}` or `{% set %}` stores values.
enum AssignTarget: Sendable {
    case name(String)
    case names([String])
    /// `{% set ns.attr = ... %}`
    case namespaceAttribute(String, String)
}

/// A `{% macro %}` definition; a class so macro values can point at it without copying the body.
final class MacroDefinition: Sendable {
    let name: String
    let parameters: [String]
    /// Defaults for the trailing parameters, aligned to the end of `parameters`.
    let defaults: [Expr]
    let body: [Stmt]
    let line: Int
    /// Whether the body mentions `varargs` / `kwargs`, which lets extra arguments in (as jinja decides).
    let acceptsVarargs: Bool
    let acceptsKwargs: Bool

    init(name: String, parameters: [String], defaults: [Expr], body: [Stmt], line: Int, acceptsVarargs: Bool,
         acceptsKwargs: Bool)
    {
        self.name = name
        self.parameters = parameters
        self.defaults = defaults
        self.body = body
        self.line = line
        self.acceptsVarargs = acceptsVarargs
        self.acceptsKwargs = acceptsKwargs
    }
}

struct ForLoop: Sendable {
    let target: AssignTarget
    let iterable: Expr
    let condition: Expr?
    let body: [Stmt]
    let otherwise: [Stmt]
}

struct Stmt: Sendable {
    indirect enum Kind: Sendable {
        case text(String)
        case output(Expr)
        case `if`([(test: Expr, body: [Stmt])], otherwise: [Stmt])
        case `for`(ForLoop)
        case set(AssignTarget, Expr)
        /// `{% set x %}...{% endset %}`, with optional filters applied to the captured text.
        case setBlock(AssignTarget, filter: Expr?, body: [Stmt])
        case macro(MacroDefinition)
        /// `{% filter f %}...{% endfilter %}`
        case filterBlock(Expr, body: [Stmt])
        case `break`
        case `continue`
    }

    let kind: Kind
    let line: Int
}
