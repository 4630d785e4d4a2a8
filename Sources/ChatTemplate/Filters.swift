// Jinja's builtin filters that chat templates use, with jinja2/filters.py semantics, and transformers' `tojson`.

enum Filters {
    /// Filter names the parser accepts; any other filter is `.unsupported` at parse time.
    static let supported: Set<String> = [
        "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "indent",
        "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr",
        "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson",
        "trim", "unique", "upper", "wordcount",
    ]
}

/// Binds call arguments to named parameters like a Python signature (`f(a, b=1)`); nil where not given.
func bindArguments(_ function: String, _ parameters: [String], _ args: [Value], _ kwargs: [(String, Value)])
    throws -> [Value?]
{
    guard args.count <= parameters.count else {
        throw ChatTemplateError.render("\(function) takes at most \(parameters.count) argument(s), \(args.count) given", nil)
    }
    var bound: [Value?] = args + Array(repeating: nil, count: parameters.count - args.count)
    for (name, value) in kwargs {
        guard let at = parameters.firstIndex(of: name) else {
            throw ChatTemplateError.render("\(function) got an unexpected keyword argument '\(name)'", nil)
        }
        guard bound[at] == nil else {
            throw ChatTemplateError.render("\(function) got multiple values for argument '\(name)'", nil)
        }
        bound[at] = value
    }
    return bound
}

extension Renderer {
    func applyFilter(_ name: String, _ value: Value, _ args: [Value], _ kwargs: [(String, Value)], line: Int) throws
        -> Value
    {
        func bind(_ parameters: [String]) throws -> [Value?] {
            try bindArguments("filter '\(name)'", parameters, args, kwargs)
        }
        switch name {
        case "default", "d":
            let a = try bind(["default_value", "boolean"])
            let useDefault = value.isUndefined || ((a[1]?.isTruthy ?? false) && !value.isTruthy)
            return useDefault ? (a[0] ?? .string("")) : value
        case "length", "count":
            _ = try bind([])
            return .int(try length(value))
        case "trim":
            let a = try bind(["chars"])
            return .string(try str(value).pyStrip(try optionalString(a[0])))
        case "upper": _ = try bind([]); return .string(try str(value).uppercased())
        case "lower": _ = try bind([]); return .string(try str(value).lowercased())
        case "capitalize": _ = try bind([]); return .string(try str(value).pyCapitalize())
        case "title": _ = try bind([]); return .string(jinjaTitle(try str(value)))
        case "string", "safe": _ = try bind([]); return .string(try str(value))
        case "escape", "e": _ = try bind([]); return .string(htmlEscape(try str(value)))
        case "first", "last":
            _ = try bind([])
            let items = try iterate(value)
            guard let pick = name == "first" ? items.first : items.last else {
                return .undefined("No \(name) item, sequence was empty.")
            }
            return pick
        case "join":
            let a = try bind(["d", "attribute"])
            var items = try iterate(value)
            if let attribute = a[1] { items = try items.map { try lookupPath($0, attribute, default: nil) } }
            let parts = try items.map { try str($0) }
            let separator = try str(a[0] ?? .string(""))
            try charge(bytes: parts.reduce(0) { $0 + $1.utf8.count } + separator.utf8.count * parts.count)
            return .string(parts.joined(separator: separator))
        case "tojson":
            return .string(try toJSON(value, try jsonStyle(try bind(["ensure_ascii", "indent", "separators", "sort_keys"]))))
        case "list":
            _ = try bind([])
            let items = try iterate(value)
            try charge(items: items.count)
            return .list(items)
        case "items":
            _ = try bind([])
            switch value {
            case .undefined: return .list([])
            case .dict(let d): return .list(d.pairs.map { .tuple([.string($0.0), $0.1]) })
            default: throw ChatTemplateError.render("Can only get item pairs from a mapping.", nil)
            }
        case "int":
            let a = try bind(["default", "base"])
            return try toInt(value, default: a[0] ?? .int(0), base: a[1]?.intValue ?? 10)
        case "float":
            let a = try bind(["default"])
            return try toFloat(value, default: a[0] ?? .double(0))
        case "replace":
            let a = try bind(["old", "new", "count"])
            guard let old = a[0], let new = a[1] else {
                throw ChatTemplateError.render("filter 'replace' needs the old and new strings", nil)
            }
            return .string(try pyReplace(try str(value), try str(old), try str(new), count: a[2]?.intValue ?? -1))
        case "indent":
            let a = try bind(["width", "first", "blank"])
            return .string(try indent(try str(value), width: a[0] ?? .int(4), first: a[1]?.isTruthy ?? false,
                                      blank: a[2]?.isTruthy ?? false))
        case "map":
            return try mapFilter(value, args, kwargs, line: line)
        case "select", "reject", "selectattr", "rejectattr":
            return try selectFilter(value, args, kwargs, keep: name.hasPrefix("select"),
                                    byAttribute: name.hasSuffix("attr"), line: line)
        case "unique":
            let a = try bind(["case_sensitive", "attribute"])
            var kept: [Value] = [], keys: [Value] = []
            for item in try iterate(value) {
                let key = try sortKey(item, a[1], caseSensitive: a[0]?.isTruthy ?? false)
                try charge(bytes: keys.count)
                if try !keys.contains(where: { try pyEqual($0, key) }) {
                    keys.append(key)
                    kept.append(item)
                }
            }
            return .list(kept)
        case "sort":
            let a = try bind(["reverse", "case_sensitive", "attribute"])
            return .list(try sorted(try iterate(value), reverse: a[0]?.isTruthy ?? false,
                                    caseSensitive: a[1]?.isTruthy ?? false, attribute: a[2]))
        case "dictsort":
            let a = try bind(["case_sensitive", "by", "reverse"])
            guard case .dict(let d) = value else { throw ChatTemplateError.render("filter 'dictsort' needs a dict", nil) }
            let byValue = try a[1].map { try str($0) } == "value"
            let pairs: [Value] = d.pairs.map { .tuple([.string($0.0), $0.1]) }
            return .list(try sorted(pairs, reverse: a[2]?.isTruthy ?? false, caseSensitive: a[0]?.isTruthy ?? false,
                                    attribute: .int(byValue ? 1 : 0)))
        case "reverse":
            _ = try bind([])
            if case .string(let s) = value { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .list(try iterate(value).reversed())
        case "min", "max":
            let a = try bind(["case_sensitive", "attribute"])
            let items = try iterate(value)
            guard !items.isEmpty else { return .undefined("No aggregated item, sequence was empty.") }
            let order = try sorted(items, reverse: name == "max", caseSensitive: a[0]?.isTruthy ?? false, attribute: a[1])
            return order[0]
        case "sum":
            let a = try bind(["attribute", "start"])
            var total = a[1] ?? .int(0)
            for item in try iterate(value) {
                total = try binary(.add, total, a[0] == nil ? item : try lookupPath(item, a[0]!, default: nil), line: line)
            }
            return total
        case "abs":
            _ = try bind([])
            switch value {
            case .int(let i):
                guard i != Int.min else { throw ChatTemplateError.limit("integer result of abs exceeds 64 bits", nil) }
                return .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            default: throw ChatTemplateError.render("bad operand type for abs(): '\(value.typeName)'", nil)
            }
        case "round":
            let a = try bind(["precision", "method"])
            return try round(value, precision: a[0]?.intValue ?? 0, method: try a[1].map { try str($0) } ?? "common")
        case "attr":
            let a = try bind(["name"])
            let attribute = try str(a[0] ?? .undefined(""))
            if case .dict = value {
                return Self.dictMethods.contains(attribute) ? .method(value, attribute)
                    : .undefined("'dict object' has no attribute '\(attribute)'")
            }
            return try self.attribute(of: value, attribute)
        case "wordcount":
            _ = try bind([])
            var words = 0, inWord = false
            for c in try str(value).unicodeScalars {
                let isWord = c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
                if isWord && !inWord { words += 1 }
                inWord = isWord
            }
            return .int(words)
        default:
            throw ChatTemplateError.unsupported("unsupported filter \"\(name)\"", line)
        }
    }

    func length(_ v: Value) throws -> Int {
        switch v {
        case .string(let s): return s.scalarCount
        case .list(let l): return l.items.count
        case .dict(let d): return d.count
        case .undefined: return 0
        case .loop(let s): return s.length
        default: throw ChatTemplateError.render("object of type '\(v.typeName)' has no len()", nil)
        }
    }

    func optionalString(_ v: Value?) throws -> String? {
        guard let v, !(v.isUndefined) else { return nil }
        if case .none = v { return nil }
        return try str(v)
    }

    /// `make_attrgetter`: a dotted path (`"function.name"`, `"0"`), each part looked up as an item.
    func lookupPath(_ item: Value, _ attribute: Value, default fallback: Value?) throws -> Value {
        var parts: [Value] = [attribute]
        if case .string(let path) = attribute {
            parts = path.split(separator: ".", omittingEmptySubsequences: false).map {
                !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } ? .int(Int($0) ?? 0) : .string(String($0))
            }
        }
        var current = item
        for part in parts {
            current = try self.item(of: current, part)
            if let fallback, current.isUndefined { current = fallback }
        }
        return current
    }

    private func mapFilter(_ value: Value, _ args: [Value], _ kwargs: [(String, Value)], line: Int) throws -> Value {
        guard value.isTruthy else { return .list([]) }
        let items = try iterate(value)
        if args.isEmpty, let attribute = kwargs.first(where: { $0.0 == "attribute" })?.1 {
            let fallback = kwargs.first(where: { $0.0 == "default" })?.1
            if let unexpected = kwargs.first(where: { $0.0 != "attribute" && $0.0 != "default" }) {
                throw ChatTemplateError.render("filter 'map' got an unexpected keyword argument '\(unexpected.0)'", nil)
            }
            return .list(try items.map { try lookupPath($0, attribute, default: fallback) })
        }
        guard case .string(let filter)? = args.first else {
            throw ChatTemplateError.render("filter 'map' requires a filter name or attribute=", nil)
        }
        guard Filters.supported.contains(filter) else {
            throw ChatTemplateError.unsupported("unsupported filter \"\(filter)\"", line)
        }
        let rest = Array(args.dropFirst())
        return .list(try items.map { try applyFilter(filter, $0, rest, kwargs, line: line) })
    }

    private func selectFilter(_ value: Value, _ args: [Value], _ kwargs: [(String, Value)], keep: Bool,
                              byAttribute: Bool, line: Int) throws -> Value
    {
        guard value.isTruthy else { return .list([]) }
        var rest = args[...]
        var attribute: Value? = nil
        if byAttribute {
            guard let a = rest.popFirst() else { throw ChatTemplateError.render("missing parameter for attribute name", nil) }
            attribute = a
        }
        var testName: String? = nil
        if let t = rest.popFirst() {
            testName = try str(t)
            guard JinjaTests.supported.contains(testName!) else {
                throw ChatTemplateError.unsupported("unsupported test \"\(testName!)\"", line)
            }
        }
        var kept: [Value] = []
        for item in try iterate(value) {
            let subject = try attribute.map { try lookupPath(item, $0, default: nil) } ?? item
            let passed = try testName.map { try applyTest($0, subject, Array(rest) + kwargs.map(\.1), line: line) }
                ?? subject.isTruthy
            if passed == keep { kept.append(item) }
        }
        return .list(kept)
    }

    private func sortKey(_ item: Value, _ attribute: Value?, caseSensitive: Bool) throws -> Value {
        let key = try attribute.map { try lookupPath(item, $0, default: nil) } ?? item
        if !caseSensitive, case .string(let s) = key { return .string(s.lowercased()) }
        return key
    }

    func sorted(_ items: [Value], reverse: Bool, caseSensitive: Bool, attribute: Value?) throws -> [Value] {
        try charge(bytes: items.count * 16)
        let keyed = try items.map { (try sortKey($0, attribute, caseSensitive: caseSensitive), $0) }
        return try keyed.sorted { reverse ? try pyLess($1.0, $0.0) : try pyLess($0.0, $1.0) }.map(\.1)
    }

    private func jsonStyle(_ a: [Value?]) throws -> JSONStyle {
        var style = JSONStyle()
        style.ensureASCII = a[0]?.isTruthy ?? false
        switch a[1] {
        case nil, .none?: style.indent = nil
        case .string(let s)?: style.indent = s
        case let v?:
            guard let n = v.intValue else { throw ChatTemplateError.render("tojson indent must be an int or str", nil) }
            style.indent = String(repeating: " ", count: max(0, min(n, 256)))
        }
        if let separators = a[2], case .list(let l) = separators {
            guard l.items.count == 2 else { throw ChatTemplateError.render("tojson separators must be a pair", nil) }
            style.itemSeparator = try str(l.items[0])
            style.keySeparator = try str(l.items[1])
        }
        style.sortKeys = a[3]?.isTruthy ?? false
        return style
    }

    private func indent(_ text: String, width: Value, first: Bool, blank: Bool) throws -> String {
        let indentation: String
        if case .string(let s) = width { indentation = s } else { indentation = String(repeating: " ", count: max(0, min(width.intValue ?? 4, 4096))) }
        let lines = (text + "\n").pySplitLines()
        try charge(bytes: text.utf8.count + lines.count * indentation.utf8.count)
        var out: String
        if blank {
            out = lines.joined(separator: "\n" + indentation)
        } else {
            out = lines.first ?? ""
            if lines.count > 1 {
                out += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
            }
        }
        return first ? indentation + out : out
    }

    private func round(_ v: Value, precision: Int, method: String) throws -> Value {
        let x: Double
        switch v {
        case .int(let i): if method == "common" { return .int(i) }; x = Double(i)
        case .bool(let b): if method == "common" { return .int(b ? 1 : 0) }; x = b ? 1 : 0
        case .double(let d): x = d
        default: throw ChatTemplateError.render("type \(v.typeName) doesn't define __round__ method", nil)
        }
        let rule: FloatingPointRoundingRule
        switch method {
        case "common": rule = .toNearestOrEven
        case "ceil": rule = .up
        case "floor": rule = .down
        default: throw ChatTemplateError.render("method must be common, ceil or floor", nil)
        }
        var scale = 1.0
        for _ in 0..<min(abs(precision), 308) { scale *= 10 }
        if precision < 0 { scale = 1 / scale }
        return .double((x * scale).rounded(rule) / scale)
    }
}

/// `markupsafe.escape` of text.
func htmlEscape(_ s: String) -> String {
    var out = ""
    out.append(s) { c in
        switch c {
        case "&": "&amp;"
        case "<": "&lt;"
        case ">": "&gt;"
        case "\"": "&#34;"
        case "'": "&#39;"
        default: nil
        }
    }
    return out
}

/// Jinja's `title` filter: upper-case after `-`, whitespace, `(`, `{`, `[`, `<`, lower-case elsewhere.
func jinjaTitle(_ s: String) -> String {
    var out = ""
    var atWordStart = true
    for c in s.unicodeScalars {
        let separator = c == "-" || c == "(" || c == "{" || c == "[" || c == "<" || c.isPythonSpace
        if separator {
            out.unicodeScalars.append(c)
            atWordStart = true
        } else {
            out += atWordStart ? c.properties.uppercaseMapping : c.properties.lowercaseMapping
            atWordStart = false
        }
    }
    return out
}
