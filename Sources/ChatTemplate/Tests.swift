// Jinja's builtin tests (`x is defined`, `x is string`, ...), as jinja2/tests.py defines them.

enum JinjaTests {
    /// Test names the parser accepts; any other test is `.unsupported` at parse time.
    static let supported: Set<String> = [
        "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string", "mapping",
        "iterable", "sequence", "callable", "sameas", "escaped", "in", "lower", "upper", "odd", "even", "divisibleby",
        "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=",
    ]
}

extension Renderer {
    func applyTest(_ name: String, _ v: Value, _ args: [Value], line: Int) throws -> Bool {
        func argument() throws -> Value {
            guard args.count == 1 else {
                throw ChatTemplateError.render("test '\(name)' takes 1 argument, \(args.count) given", line)
            }
            return args[0]
        }
        func noArguments() throws {
            guard args.isEmpty else {
                throw ChatTemplateError.render("test '\(name)' takes no arguments, \(args.count) given", line)
            }
        }
        switch name {
        case "eq", "equalto", "==": return try compare(.eq, v, try argument())
        case "ne", "!=": return try compare(.ne, v, try argument())
        case "lt", "lessthan", "<": return try compare(.lt, v, try argument())
        case "le", "<=": return try compare(.le, v, try argument())
        case "gt", "greaterthan", ">": return try compare(.gt, v, try argument())
        case "ge", ">=": return try compare(.ge, v, try argument())
        case "in": return try contains(try argument(), v)
        case "sameas": return try sameAs(v, try argument())
        case "divisibleby":
            return try pyEqual(try binary(.modulo, v, try argument(), line: line), .int(0))
        default:
            break
        }
        try noArguments()
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": if case .none = v { return true }; return false
        case "boolean": if case .bool = v { return true }; return false
        case "true": if case .bool(true) = v { return true }; return false
        case "false": if case .bool(false) = v { return true }; return false
        case "integer": if case .int = v { return true }; return false
        case "float": if case .double = v { return true }; return false
        case "number":
            switch v {
            case .int, .double, .bool: return true
            default: return false
            }
        case "string": if case .string = v { return true }; return false
        case "mapping": if case .dict = v { return true }; return false
        case "iterable":
            switch v {
            case .string, .list, .dict, .undefined, .loop: return true
            default: return false
            }
        case "sequence":
            switch v {
            case .string, .list, .dict, .undefined: return true
            default: return false
            }
        case "callable":
            switch v {
            case .macro, .function, .method, .undefined: return true
            default: return false
            }
        case "escaped": return false
        case "lower": return try str(v).pyIsCase(upper: false)
        case "upper": return try str(v).pyIsCase(upper: true)
        case "odd", "even":
            return try pyEqual(try binary(.modulo, v, .int(2), line: line), .int(name == "odd" ? 1 : 0))
        default:
            throw ChatTemplateError.unsupported("unsupported test \"\(name)\"", line)
        }
    }

    /// Python `is`: identity for None, booleans, small ints and template objects.
    private func sameAs(_ a: Value, _ b: Value) throws -> Bool {
        switch (a, b) {
        case (.none, .none): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y && (-5...256).contains(x)
        case (.namespace(let i), .namespace(let j)): return i == j
        case (.loop(let x), .loop(let y)): return x === y
        case (.macro(let x), .macro(let y)): return x === y
        default: return false
        }
    }
}
