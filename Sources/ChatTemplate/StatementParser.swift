// Statement grammar: data, `{{ }}`, and the tags chat templates use. Other Jinja tags are `.unsupported`.

extension Parser {
    /// Jinja tags this renderer refuses by name; any other unknown tag is a syntax error, as in jinja.
    static let unsupportedTags: Set<String> = [
        "include", "import", "from", "extends", "block", "with", "autoescape", "call", "do", "trans", "pluralize",
    ]

    mutating func parseTemplate() throws -> [Stmt] {
        let body = try parseBody(until: [], opener: nil)
        guard case .eof = current.kind else { throw fail("unexpected \(current.described)") }
        return body
    }

    /// Reads data and tags until `{% name %}` with `name` in `end`; stops with `name` as the current token.
    mutating func parseBody(until end: Set<String>, opener: (tag: String, line: Int)?) throws -> [Stmt] {
        if let opener { openBlocks.append((opener.tag, opener.line, end)) }
        defer { if opener != nil { openBlocks.removeLast() } }
        var body: [Stmt] = []
        while true {
            let t = current
            switch t.kind {
            case .data(let text):
                _ = advance()
                body.append(Stmt(kind: .text(text), line: t.line))
            case .variableBegin:
                _ = advance()
                let e = try parseTuple()
                guard case .variableEnd = current.kind else {
                    throw fail("expected end of print statement, got \(current.described)")
                }
                _ = advance()
                body.append(Stmt(kind: .output(e), line: t.line))
            case .blockBegin:
                _ = advance()
                if case .name(let n) = current.kind, end.contains(n) { return body }
                body.append(contentsOf: try parseStatement())
                try expectBlockEnd()
            case .eof:
                guard let opener else { return body }
                throw ChatTemplateError.syntax(
                    "unexpected end of template: the \"\(opener.tag)\" tag opened at line \(opener.line) was never closed (expected \(Self.describe(end)))",
                    t.line)
            default:
                throw fail("unexpected \(t.described)")
            }
        }
    }

    static func describe(_ endTags: Set<String>) -> String {
        endTags.sorted().map { "'\($0)'" }.joined(separator: " or ")
    }

    mutating func expectBlockEnd() throws {
        guard case .blockEnd = current.kind else {
            throw fail("expected end of statement block, got \(current.described)")
        }
        _ = advance()
    }

    /// The body of a block tag: the opening tag's `%}`, then statements up to one of `end`.
    private mutating func parseBlock(_ tag: String, line: Int, until end: Set<String>) throws -> [Stmt] {
        try expectBlockEnd()
        try enter()
        defer { leave() }
        return try parseBody(until: end, opener: (tag, line))
    }

    private mutating func parseStatement() throws -> [Stmt] {
        let t = current
        guard case .name(let tag) = t.kind else { throw fail("tag name expected, got \(t.described)") }
        switch tag {
        case "for": return [try parseFor()]
        case "if": return [try parseIf()]
        case "set": return [try parseSet()]
        case "macro": return [try parseMacro()]
        case "filter":
            _ = advance()
            let filter = try parseFilterChain()
            let body = try parseBlock("filter", line: t.line, until: ["endfilter"])
            _ = advance()
            return [Stmt(kind: .filterBlock(filter, body: body), line: t.line)]
        case "print":
            _ = advance()
            return [Stmt(kind: .output(try parseTuple()), line: t.line)]
        case "generation":
            // transformers' AssistantTracker: the body renders as is.
            _ = advance()
            let body = try parseBlock("generation", line: t.line, until: ["endgeneration"])
            _ = advance()
            return body
        case "break", "continue":
            _ = advance()
            guard loopDepth > 0 else { throw ChatTemplateError.syntax("\"\(tag)\" outside of a for loop", t.line) }
            return [Stmt(kind: tag == "break" ? .break : .continue, line: t.line)]
        default:
            if Self.unsupportedTags.contains(tag) {
                throw ChatTemplateError.unsupported("unsupported tag \"\(tag)\"", t.line)
            }
            if let open = openBlocks.last {
                throw ChatTemplateError.syntax(
                    "unknown tag \"\(tag)\": the \"\(open.tag)\" tag opened at line \(open.line) expects \(Self.describe(open.end))",
                    t.line)
            }
            throw ChatTemplateError.syntax("unknown tag \"\(tag)\"", t.line)
        }
    }

    private mutating func parseFor() throws -> Stmt {
        let line = advance().line
        let target = try parseAssignTarget(allowNamespace: false)
        guard skipName("in") else { throw fail("expected 'in' in for loop, got \(current.described)") }
        let iterable = try parseTuple(conditional: false, endNames: ["recursive"])
        var condition: Expr? = nil
        if skipName("if") { condition = try parseExpression() }
        if current.isName("recursive") {
            throw ChatTemplateError.unsupported("unsupported recursive for loop", current.line)
        }
        loopDepth += 1
        let body = try parseBlock("for", line: line, until: ["endfor", "else"])
        loopDepth -= 1
        var otherwise: [Stmt] = []
        if advance().isName("else") {
            otherwise = try parseBlock("for", line: line, until: ["endfor"])
            _ = advance()
        }
        return Stmt(kind: .for(ForLoop(target: target, iterable: iterable, condition: condition, body: body,
                                       otherwise: otherwise)), line: line)
    }

    private mutating func parseIf() throws -> Stmt {
        let line = advance().line
        var branches: [(test: Expr, body: [Stmt])] = []
        var otherwise: [Stmt] = []
        while true {
            let test = try parseTuple(conditional: false)
            let body = try parseBlock("if", line: line, until: ["elif", "else", "endif"])
            branches.append((test, body))
            let end = advance()
            if end.isName("elif") { continue }
            if end.isName("else") {
                otherwise = try parseBlock("if", line: line, until: ["endif"])
                _ = advance()
            }
            break
        }
        return Stmt(kind: .if(branches, otherwise: otherwise), line: line)
    }

    private mutating func parseSet() throws -> Stmt {
        let line = advance().line
        let target = try parseAssignTarget(allowNamespace: true)
        if skipOp("=") {
            return Stmt(kind: .set(target, try parseTuple()), line: line)
        }
        var filter: Expr? = nil
        if current.isOp("|") {
            _ = advance()
            filter = try parseFilterChain()
        }
        let body = try parseBlock("set", line: line, until: ["endset"])
        _ = advance()
        return Stmt(kind: .setBlock(target, filter: filter, body: body), line: line)
    }

    /// `name(args) | name2 ...` without a value in front: the filters of `{% filter %}` and `{% set x | f %}`.
    private mutating func parseFilterChain() throws -> Expr {
        var expr = try parseFilter(nil, leadingPipe: false)
        while current.isOp("|") { expr = try parseFilter(expr) }
        return expr
    }

    private mutating func parseAssignTarget(allowNamespace: Bool) throws -> AssignTarget {
        let t = current
        if allowNamespace, case .name(let ns) = t.kind, peek.isOp(".") {
            _ = advance()
            _ = advance()
            return .namespaceAttribute(ns, try expectName())
        }
        let parenthesized = skipOp("(")
        func name(_ parser: inout Parser) throws -> String {
            let nameToken = parser.current
            let name = try parser.expectName()
            if ["true", "false", "none", "True", "False", "None"].contains(name) {
                throw ChatTemplateError.syntax("can't assign to constant \(name)", nameToken.line)
            }
            return name
        }
        var names = [try name(&self)]
        var isTuple = false
        while skipOp(",") {
            isTuple = true
            if current.isName("in") || current.isOp("=") || current.isOp(")") { break }
            names.append(try name(&self))
        }
        if parenthesized { try expectOp(")") }
        return isTuple ? .names(names) : .name(names[0])
    }

    private mutating func parseMacro() throws -> Stmt {
        let line = advance().line
        let name = try expectName()
        try expectOp("(")
        var parameters: [String] = []
        var defaults: [Expr] = []
        while !current.isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            let p = try expectName()
            if skipOp("=") {
                defaults.append(try parseExpression())
            } else if !defaults.isEmpty {
                throw fail("non-default argument follows default argument in macro \"\(name)\"")
            }
            parameters.append(p)
        }
        try expectOp(")")
        macroNameScopes.append([])
        let savedLoopDepth = loopDepth
        loopDepth = 0
        let body = try parseBlock("macro", line: line, until: ["endmacro"])
        loopDepth = savedLoopDepth
        let used = macroNameScopes.removeLast()
        if !macroNameScopes.isEmpty { macroNameScopes[macroNameScopes.count - 1].formUnion(used) }
        _ = advance()
        if used.contains("caller") {
            throw ChatTemplateError.unsupported("unsupported \"caller\" in macro \"\(name)\" (call blocks)", line)
        }
        let definition = MacroDefinition(
            name: name, parameters: parameters, defaults: defaults, body: body, line: line,
            acceptsVarargs: used.contains("varargs") && !parameters.contains("varargs"),
            acceptsKwargs: used.contains("kwargs") && !parameters.contains("kwargs"))
        return Stmt(kind: .macro(definition), line: line)
    }
}
