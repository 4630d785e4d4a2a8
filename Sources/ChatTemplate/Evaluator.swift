// Expression evaluation with jinja's sandboxed attribute and item lookup rules.

extension Renderer {
    func eval(_ e: Expr) throws -> Value {
        try step(e.line)
        try enter(e.line)
        defer { leave() }
        do {
            return try evalKind(e)
        } catch let error as ChatTemplateError where error.line == nil {
            throw ChatTemplateError(error.kind, error.message, line: e.line)
        }
    }

    private func evalKind(_ e: Expr) throws -> Value {
        switch e.kind {
        case .constant(let c):
            switch c {
            case .none: return .none
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            case .string(let s): return .string(s)
            }
        case .name(let n):
            return lookup(n)
        case .list(let items):
            return try checkDepth(.list(try items.map { try eval($0) }))
        case .tuple(let items):
            return try checkDepth(.tuple(try items.map { try eval($0) }))
        case .dict(let pairs):
            return try evalDict(pairs)
        case .getattr(let target, let name):
            return try attribute(of: try eval(target), name)
        case .getitem(let target, let key):
            return try item(of: try eval(target), try eval(key))
        case .slice(let target, let start, let stop, let stepExpr):
            return try slice(try eval(target), start.map { try eval($0) }, stop.map { try eval($0) },
                             stepExpr.map { try eval($0) })
        case .call(let callee, let args):
            let f = try eval(callee)
            let (positional, keyword) = try evalArgs(args)
            return try call(f, positional, keyword, line: e.line)
        case .filter(let target, let name, let args):
            let value = try target.map { try eval($0) } ?? sectionValue ?? .undefined("no value to filter")
            let (positional, keyword) = try evalArgs(args)
            return try applyFilter(name, value, positional, keyword, line: e.line)
        case .test(let target, let name, let args, let negated):
            let value = try eval(target)
            let (positional, keyword) = try evalArgs(args)
            let result = try applyTest(name, value, positional + keyword.map(\.1), line: e.line)
            return .bool(result != negated)
        case .not(let operand):
            return .bool(!(try eval(operand)).isTruthy)
        case .negate(let operand):
            return try negate(try eval(operand))
        case .plus(let operand):
            let v = try eval(operand)
            switch v {
            case .int, .double: return v
            case .bool(let b): return .int(b ? 1 : 0)
            default: throw ChatTemplateError.render("bad operand type for unary +: '\(v.typeName)'", e.line)
            }
        case .binary(let op, let lhs, let rhs):
            return try binary(op, try eval(lhs), try eval(rhs), line: e.line)
        case .and(let lhs, let rhs):
            let l = try eval(lhs)
            return l.isTruthy ? try eval(rhs) : l
        case .or(let lhs, let rhs):
            let l = try eval(lhs)
            return l.isTruthy ? l : try eval(rhs)
        case .compare(let first, let ops):
            var left = try eval(first)
            for (op, rhsExpr) in ops {
                let right = try eval(rhsExpr)
                if !(try compare(op, left, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let test, let then, let otherwise):
            if try eval(test).isTruthy { return try eval(then) }
            return try otherwise.map { try eval($0) }
                ?? .undefined("the inline if-expression evaluated to false and no else section was defined")
        }
    }

    private func evalDict(_ pairs: [(key: Expr, value: Expr)]) throws -> Value {
        var d = ValueDict()
        for (keyExpr, valueExpr) in pairs {
            let key = try eval(keyExpr)
            guard case .string(let k) = key else {
                throw ChatTemplateError.unsupported("dict literal with a key of type '\(key.typeName)' (only str keys)", keyExpr.line)
            }
            d.set(k, try eval(valueExpr))
        }
        return try checkDepth(.dict(d))
    }

    func evalArgs(_ args: CallArgs) throws -> ([Value], [(String, Value)]) {
        (try args.positional.map { try eval($0) }, try args.keyword.map { ($0.name, try eval($0.value)) })
    }

    // MARK: lookup

    static let dictMethods: Set<String> = [
        "items", "keys", "values", "get", "copy", "pop", "popitem", "update", "clear", "setdefault", "fromkeys",
    ]
    static let listMethods: Set<String> = [
        "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "index", "count", "copy",
    ]
    static let stringMethods: Set<String> = [
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format", "format_map",
        "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
        "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans", "partition",
        "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split",
        "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill",
    ]

    /// `obj.name`: jinja tries Python attributes (methods) first, then `obj[name]`.
    func attribute(of v: Value, _ name: String) throws -> Value {
        switch v {
        case .undefined(let message):
            throw ChatTemplateError.render(message, nil)
        case .dict(let d):
            if Self.dictMethods.contains(name) { return .method(v, name) }
            return d[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case .string:
            return Self.stringMethods.contains(name) ? .method(v, name)
                : .undefined("'str object' has no attribute '\(name)'")
        case .list:
            return Self.listMethods.contains(name) ? .method(v, name)
                : .undefined("'list object' has no attribute '\(name)'")
        case .namespace(let i):
            return namespaces[i][name] ?? .undefined("'Namespace object' has no attribute '\(name)'")
        case .loop(let state):
            return loopAttribute(state, name, v)
        case .macro(let m):
            if name == "name" { return .string(m.name) }
            if name == "arguments" { return .list(m.parameters.map { .string($0) }) }
            return .undefined("'Macro object' has no attribute '\(name)'")
        default:
            return .undefined("'\(v.typeName) object' has no attribute '\(name)'")
        }
    }

    private func loopAttribute(_ s: LoopState, _ name: String, _ v: Value) -> Value {
        switch name {
        case "index": return .int(s.index0 + 1)
        case "index0": return .int(s.index0)
        case "first": return .bool(s.index0 == 0)
        case "last": return .bool(s.index0 == s.length - 1)
        case "length": return .int(s.length)
        case "revindex": return .int(s.length - s.index0)
        case "revindex0": return .int(s.length - s.index0 - 1)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem":
            return s.index0 > 0 ? s.items[s.index0 - 1] : .undefined("there is no previous item")
        case "nextitem":
            return s.index0 + 1 < s.length ? s.items[s.index0 + 1] : .undefined("there is no next item")
        case "cycle", "changed": return .method(v, name)
        default: return .undefined("'LoopContext object' has no attribute '\(name)'")
        }
    }

    /// `obj[key]`: jinja tries the item first, then (for string keys) the attribute; misses are Undefined.
    func item(of v: Value, _ key: Value) throws -> Value {
        if case .undefined(let message) = v { throw ChatTemplateError.render(message, nil) }
        switch (v, key) {
        case (.dict(let d), .string(let k)):
            if let found = d[k] { return found }
        case (.list(let l), .int), (.list(let l), .bool):
            let i = key.intValue!
            let at = i < 0 ? i + l.items.count : i
            if at >= 0 && at < l.items.count { return l.items[at] }
            return .undefined("'list object' has no element \(i)")
        case (.string(let s), .int), (.string(let s), .bool):
            let i = key.intValue!
            let scalars = s.unicodeScalars
            let count = scalars.count
            let at = i < 0 ? i + count : i
            if at >= 0 && at < count {
                return .string(String(scalars[scalars.index(scalars.startIndex, offsetBy: at)]))
            }
            return .undefined("'str object' has no element \(i)")
        default:
            break
        }
        if case .string(let k) = key {
            let found = try attribute(of: v, k)
            if case .dict = v, case .undefined = found { return .undefined("'dict object' has no attribute '\(k)'") }
            return found
        }
        return .undefined("'\(v.typeName) object' has no element \(pyRepr(try str(key)))")
    }

    func slice(_ v: Value, _ start: Value?, _ stop: Value?, _ stepValue: Value?) throws -> Value {
        if case .undefined(let message) = v { throw ChatTemplateError.render(message, nil) }
        func bound(_ x: Value?) -> (ok: Bool, value: Int?) {
            switch x {
            case nil, .none?: return (true, nil)
            case .int(let i)?: return (true, i)
            case .bool(let b)?: return (true, b ? 1 : 0)
            default: return (false, nil)
            }
        }
        let (okStart, a) = bound(start), (okStop, b) = bound(stop), (okStep, c) = bound(stepValue)
        guard okStart && okStop && okStep else { return .undefined("slice indices must be integers or None") }
        let step = c ?? 1
        guard step != 0 else { throw ChatTemplateError.render("slice step cannot be zero", nil) }
        func indices(_ count: Int) -> [Int] {
            let (lower, upper) = step > 0 ? (0, count) : (-1, count - 1)
            func clamp(_ x: Int?, _ fallback: Int) -> Int {
                guard var x else { return fallback }
                if x < 0 { x += count; if x < lower { x = lower } } else if x > upper { x = upper }
                return x
            }
            let from = clamp(a, step > 0 ? lower : upper)
            let to = clamp(b, step > 0 ? upper : lower)
            return Array(stride(from: from, to: to, by: step))
        }
        switch v {
        case .list(let l):
            return .list(ValueList(indices(l.items.count).map { l.items[$0] }, isTuple: l.isTuple))
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        default:
            return .undefined("'\(v.typeName)' object is not subscriptable")
        }
    }

    // MARK: calls

    func call(_ f: Value, _ args: [Value], _ kwargs: [(String, Value)], line: Int) throws -> Value {
        switch f {
        case .undefined(let message):
            throw ChatTemplateError.render(message, line)
        case .macro(let m):
            return try callMacro(m, args, kwargs, line: line)
        case .function(let b):
            return try callBuiltin(b, args, kwargs, line: line)
        case .method(let receiver, let name):
            return try callMethod(receiver, name, args, kwargs, line: line)
        default:
            throw ChatTemplateError.render("'\(f.typeName)' object is not callable", line)
        }
    }
}

extension Value {
    /// The integer of an int or bool (Python bools are ints).
    var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
}
