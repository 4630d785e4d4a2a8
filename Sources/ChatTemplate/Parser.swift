// Expression grammar of jinja2/parser.py: precedence, filters and tests binding tighter than comparisons,
// adjacent string literals, slices, calls with keyword arguments. Statements are in StatementParser.swift.

struct Parser {
    var tokens: [Token]
    var index = 0
    /// Current recursion depth of the parser, and the bound on it and on tree height.
    var nesting = 0
    let maxNesting: Int
    /// Names read inside the macro bodies being parsed (innermost last), to find `varargs` / `kwargs` use.
    var macroNameScopes: [Set<String>] = []
    var loopDepth = 0
    /// Block tags being parsed (innermost last) with the end tags they wait for, for error messages.
    var openBlocks: [(tag: String, line: Int, end: Set<String>)] = []

    init(tokens: [Token], maxNesting: Int) {
        self.tokens = tokens
        self.maxNesting = maxNesting
    }

    var current: Token { tokens[index] }
    var peek: Token { tokens[min(index + 1, tokens.count - 1)] }

    mutating func advance() -> Token {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func fail(_ message: String, _ token: Token? = nil) -> ChatTemplateError {
        .syntax(message, (token ?? current).line)
    }

    mutating func expectOp(_ op: String) throws {
        guard current.isOp(op) else { throw fail("expected '\(op)', got \(current.described)") }
        _ = advance()
    }

    mutating func skipOp(_ op: String) -> Bool {
        if current.isOp(op) { _ = advance(); return true }
        return false
    }

    mutating func skipName(_ name: String) -> Bool {
        if current.isName(name) { _ = advance(); return true }
        return false
    }

    mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw fail("expected a name, got \(current.described)") }
        _ = advance()
        return n
    }

    /// `name` or `a.b.c` (filter and test names may be dotted).
    mutating func expectDottedName() throws -> String {
        var name = try expectName()
        while skipOp(".") { name += "." + (try expectName()) }
        return name
    }

    mutating func enter() throws {
        nesting += 1
        if nesting > maxNesting {
            throw ChatTemplateError.limit("template nests deeper than \(maxNesting) levels", current.line)
        }
    }

    mutating func leave() { nesting -= 1 }

    /// Builds a node, refusing trees taller than the nesting bound (`a + a + a + ...` is a tall left-deep tree).
    func node(_ kind: Expr.Kind, _ line: Int) throws -> Expr {
        let childDepth: Int
        switch kind {
        case .constant, .name: childDepth = 0
        case .list(let items), .tuple(let items): childDepth = items.map(\.depth).max() ?? 0
        case .dict(let pairs): childDepth = pairs.map { max($0.key.depth, $0.value.depth) }.max() ?? 0
        case .getattr(let e, _), .not(let e), .negate(let e), .plus(let e): childDepth = e.depth
        case .getitem(let a, let b), .binary(_, let a, let b), .and(let a, let b), .or(let a, let b):
            childDepth = max(a.depth, b.depth)
        case .slice(let e, let a, let b, let c): childDepth = max(e.depth, a?.depth ?? 0, b?.depth ?? 0, c?.depth ?? 0)
        case .call(let e, let args): childDepth = max(e.depth, args.maxDepth)
        case .filter(let e, _, let args): childDepth = max(e?.depth ?? 0, args.maxDepth)
        case .test(let e, _, let args, _): childDepth = max(e.depth, args.maxDepth)
        case .compare(let e, let ops): childDepth = max(e.depth, ops.map(\.rhs.depth).max() ?? 0)
        case .conditional(let t, let a, let b): childDepth = max(t.depth, a.depth, b?.depth ?? 0)
        }
        guard childDepth < maxNesting else {
            throw ChatTemplateError.limit("expression nests deeper than \(maxNesting) levels", line)
        }
        return Expr(kind: kind, line: line, depth: childDepth + 1)
    }

    // MARK: expressions

    mutating func parseExpression(conditional: Bool = true) throws -> Expr {
        try enter()
        defer { leave() }
        return conditional ? try parseConditional() : try parseOr()
    }

    private mutating func parseConditional() throws -> Expr {
        var expr = try parseOr()
        while current.isName("if") {
            let line = advance().line
            let test = try parseOr()
            var otherwise: Expr? = nil
            if skipName("else") {
                try enter()
                defer { leave() }
                otherwise = try parseConditional()
            }
            expr = try node(.conditional(test: test, then: expr, otherwise: otherwise), line)
        }
        return expr
    }

    /// One left-associative precedence level: `operand (op operand)*`, where `op` maps a token to the node it builds.
    private mutating func parseChain(_ operand: (inout Parser) throws -> Expr,
                                     _ op: (Token) -> ((Expr, Expr) -> Expr.Kind)?) throws -> Expr
    {
        var left = try operand(&self)
        while let make = op(current) {
            let line = advance().line
            left = try node(make(left, try operand(&self)), line)
        }
        return left
    }

    private mutating func parseOr() throws -> Expr {
        try parseChain({ try $0.parseAnd() }) { $0.isName("or") ? { .or($0, $1) } : nil }
    }

    private mutating func parseAnd() throws -> Expr {
        try parseChain({ try $0.parseNot() }) { $0.isName("and") ? { .and($0, $1) } : nil }
    }

    private mutating func parseNot() throws -> Expr {
        if current.isName("not") {
            let line = advance().line
            try enter()
            defer { leave() }
            return try node(.not(try parseNot()), line)
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        let line = current.line
        let first = try parseMath1()
        var ops: [(op: CompareOp, rhs: Expr)] = []
        while true {
            if case .op(let o) = current.kind, let op = CompareOp(rawValue: o), op != .in, op != .notIn {
                _ = advance()
                ops.append((op, try parseMath1()))
            } else if current.isName("in") {
                _ = advance()
                ops.append((.in, try parseMath1()))
            } else if current.isName("not") && peek.isName("in") {
                _ = advance()
                _ = advance()
                ops.append((.notIn, try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? first : try node(.compare(first, ops), line)
    }

    /// A binary-operator level: the operators of `ops` (by spelling) over `operand`.
    private static func binaryOperator(_ ops: Set<BinaryOp>) -> (Token) -> ((Expr, Expr) -> Expr.Kind)? {
        { token in
            guard case .op(let o) = token.kind, let op = BinaryOp(rawValue: o), ops.contains(op) else { return nil }
            return { .binary(op, $0, $1) }
        }
    }

    // Jinja's precedence, loosest first: + -, then ~, then * / // %, then ** (left-associative, as jinja parses it).
    private mutating func parseMath1() throws -> Expr {
        try parseChain({ try $0.parseConcat() }, Self.binaryOperator([.add, .subtract]))
    }

    private mutating func parseConcat() throws -> Expr {
        try parseChain({ try $0.parseMath2() }, Self.binaryOperator([.concat]))
    }

    private mutating func parseMath2() throws -> Expr {
        try parseChain({ try $0.parsePow() }, Self.binaryOperator([.multiply, .divide, .floorDivide, .modulo]))
    }

    private mutating func parsePow() throws -> Expr {
        try parseChain({ try $0.parseUnary() }, Self.binaryOperator([.power]))
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        var expr: Expr
        if current.isOp("-") || current.isOp("+") {
            let t = advance()
            try enter()
            defer { leave() }
            let operand = try parseUnary(withFilter: false)
            expr = try node(t.isOp("-") ? .negate(operand) : .plus(operand), t.line)
        } else {
            expr = try parsePrimary()
        }
        expr = try parsePostfix(expr)
        if withFilter { expr = try parseFilterExpression(expr) }
        return expr
    }

    mutating func parsePrimary() throws -> Expr {
        let t = current
        switch t.kind {
        case .name(let n):
            _ = advance()
            switch n {
            case "true", "True": return try node(.constant(.bool(true)), t.line)
            case "false", "False": return try node(.constant(.bool(false)), t.line)
            case "none", "None": return try node(.constant(.none), t.line)
            default:
                if !macroNameScopes.isEmpty { macroNameScopes[macroNameScopes.count - 1].insert(n) }
                return try node(.name(n), t.line)
            }
        case .string(var s):
            _ = advance()
            while case .string(let more) = current.kind {
                s += more
                _ = advance()
            }
            return try node(.constant(.string(s)), t.line)
        case .integer(let i):
            _ = advance()
            return try node(.constant(.int(i)), t.line)
        case .float(let d):
            _ = advance()
            return try node(.constant(.double(d)), t.line)
        case .op("("):
            _ = advance()
            let e = try parseTuple(explicitParentheses: true)
            try expectOp(")")
            return e
        case .op("["):
            return try parseList()
        case .op("{"):
            return try parseDict()
        default:
            throw fail("unexpected \(t.described)")
        }
    }

    /// `a`, `a, b`, `(a, b)`: jinja's parse_tuple. Without parentheses an empty tuple is an error.
    mutating func parseTuple(conditional: Bool = true, explicitParentheses: Bool = false,
                             endNames: Set<String> = []) throws -> Expr
    {
        let line = current.line
        var items: [Expr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if isTupleEnd(endNames) { break }
            items.append(try parseExpression(conditional: conditional))
            if current.isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let only = items.first { return only }
            if !explicitParentheses { throw fail("expected an expression, got \(current.described)") }
        }
        return try node(.tuple(items), line)
    }

    private func isTupleEnd(_ endNames: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .op(")"), .eof: return true
        case .name(let n): return endNames.contains(n)
        default: return false
        }
    }

    private mutating func parseList() throws -> Expr {
        let line = advance().line
        var items: [Expr] = []
        while !current.isOp("]") {
            if !items.isEmpty { try expectOp(",") }
            if current.isOp("]") { break }
            items.append(try parseExpression())
        }
        try expectOp("]")
        return try node(.list(items), line)
    }

    private mutating func parseDict() throws -> Expr {
        let line = advance().line
        var pairs: [(key: Expr, value: Expr)] = []
        while !current.isOp("}") {
            if !pairs.isEmpty { try expectOp(",") }
            if current.isOp("}") { break }
            let key = try parseExpression()
            try expectOp(":")
            pairs.append((key, try parseExpression()))
        }
        try expectOp("}")
        return try node(.dict(pairs), line)
    }

    mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var expr = start
        while true {
            if current.isOp(".") || current.isOp("[") {
                expr = try parseSubscript(expr)
            } else if current.isOp("(") {
                expr = try parseCall(expr)
            } else {
                return expr
            }
        }
    }

    private mutating func parseSubscript(_ target: Expr) throws -> Expr {
        let t = advance()
        if t.isOp(".") {
            let attr = advance()
            switch attr.kind {
            case .name(let n): return try node(.getattr(target, n), t.line)
            case .integer(let i): return try node(.getitem(target, try node(.constant(.int(i)), attr.line)), t.line)
            default: throw fail("expected name or number after '.'", attr)
            }
        }
        try enter()
        defer { leave() }
        var args: [Expr] = []
        while !current.isOp("]") {
            if !args.isEmpty { try expectOp(",") }
            args.append(try parseSubscribed(target))
        }
        try expectOp("]")
        guard args.count == 1 else {
            throw ChatTemplateError.unsupported("subscript with a tuple index", t.line)
        }
        return args[0]
    }

    /// One `[...]` argument: an index expression or a `start:stop:step` slice, applied to `target`.
    private mutating func parseSubscribed(_ target: Expr) throws -> Expr {
        let line = current.line
        var start: Expr? = nil
        if !current.isOp(":") {
            let e = try parseExpression()
            guard current.isOp(":") else { return try node(.getitem(target, e), line) }
            start = e
        }
        _ = advance()
        func isEnd(_ t: Token) -> Bool { t.isOp("]") || t.isOp(",") || t.isOp(":") }
        let stop: Expr? = isEnd(current) ? nil : try parseExpression()
        var step: Expr? = nil
        if skipOp(":") && !(current.isOp("]") || current.isOp(",")) { step = try parseExpression() }
        return try node(.slice(target, start: start, stop: stop, step: step), line)
    }

    private mutating func parseCall(_ callee: Expr) throws -> Expr {
        let line = current.line
        return try node(.call(callee, try parseCallArgs()), line)
    }

    mutating func parseCallArgs() throws -> CallArgs {
        let open = current
        try expectOp("(")
        try enter()
        defer { leave() }
        var args = CallArgs()
        var needComma = false
        while !current.isOp(")") {
            if needComma {
                try expectOp(",")
                if current.isOp(")") { break }
            }
            if current.isOp("*") || current.isOp("**") {
                throw ChatTemplateError.unsupported("\(current.isOp("*") ? "*args" : "**kwargs") in a call", current.line)
            }
            if case .name(let key) = current.kind, peek.isOp("=") {
                _ = advance()
                _ = advance()
                args.keyword.append((key, try parseExpression()))
            } else {
                guard args.keyword.isEmpty else {
                    throw fail("positional argument follows keyword argument in call", open)
                }
                args.positional.append(try parseExpression())
            }
            needComma = true
        }
        try expectOp(")")
        return args
    }

    /// Filters (`| f`, `| f(args)`), tests (`is [not] t`) and calls after a unary expression.
    mutating func parseFilterExpression(_ start: Expr) throws -> Expr {
        var expr = start
        while true {
            if current.isOp("|") {
                expr = try parseFilter(expr)
            } else if current.isName("is") {
                expr = try parseTest(expr)
            } else if current.isOp("(") {
                expr = try parseCall(expr)
            } else {
                return expr
            }
        }
    }

    /// One `| name(args)`; `target` is nil for filter sections (`{% filter %}`, `{% set x | f %}`).
    mutating func parseFilter(_ target: Expr?, leadingPipe: Bool = true) throws -> Expr {
        let line = current.line
        if leadingPipe { try expectOp("|") }
        let name = try expectDottedName()
        guard Filters.supported.contains(name) else {
            throw ChatTemplateError.unsupported("unsupported filter \"\(name)\"", line)
        }
        let args = current.isOp("(") ? try parseCallArgs() : CallArgs()
        return try node(.filter(target, name: name, args), line)
    }

    private mutating func parseTest(_ target: Expr) throws -> Expr {
        let line = advance().line
        let negated = skipName("not")
        let name = try expectDottedName()
        guard JinjaTests.supported.contains(name) else {
            throw ChatTemplateError.unsupported("unsupported test \"\(name)\"", line)
        }
        var args = CallArgs()
        if current.isOp("(") {
            args = try parseCallArgs()
        } else {
            switch current.kind {
            case .name, .string, .integer, .float, .op("("), .op("["), .op("{"):
                if current.isName("else") || current.isName("or") || current.isName("and") { break }
                if current.isName("is") { throw fail("you cannot chain multiple tests with is") }
                args.positional = [try parsePostfix(try parsePrimary())]
            default:
                break
            }
        }
        return try node(.test(target, name: name, args, negated: negated), line)
    }
}
