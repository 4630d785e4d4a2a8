// Methods called on values: Python str, dict and list methods (mutating ones refused as the immutable sandbox
// refuses them) and `loop.cycle` / `loop.changed`.

extension Renderer {
    func callMethod(_ receiver: Value, _ name: String, _ args: [Value], _ kwargs: [(String, Value)], line: Int) throws
        -> Value
    {
        func bind(_ parameters: [String]) throws -> [Value?] {
            try bindArguments("\(receiver.typeName).\(name)()", parameters, args, kwargs)
        }
        func unsafe() -> ChatTemplateError {
            .render("access to attribute '\(name)' of '\(receiver.typeName)' object is unsafe.", line)
        }
        switch receiver {
        case .string(let s):
            return try stringMethod(s, name, args, kwargs, bind, line: line)
        case .dict(let d):
            switch name {
            case "items": _ = try bind([]); return .list(d.pairs.map { .tuple([.string($0.0), $0.1]) })
            case "keys": _ = try bind([]); return .list(d.keys.map { .string($0) })
            case "values": _ = try bind([]); return .list(d.values)
            case "get":
                let a = try bind(["key", "default"])
                if case .string(let k)? = a[0], let found = d[k] { return found }
                return a[1] ?? .none
            case "copy": _ = try bind([]); return receiver
            case "fromkeys": break
            default: throw unsafe()
            }
        case .list(let l):
            switch name {
            case "index":
                let a = try bind(["value"])
                for (i, item) in l.items.enumerated() where try pyEqual(item, a[0] ?? .none) { return .int(i) }
                throw ChatTemplateError.render("value is not in list", line)
            case "count":
                let a = try bind(["value"])
                return .int(try l.items.filter { try pyEqual($0, a[0] ?? .none) }.count)
            case "copy": _ = try bind([]); return receiver
            default: throw unsafe()
            }
        case .loop(let state):
            if name == "cycle" {
                guard !args.isEmpty else { throw ChatTemplateError.render("no items for cycling given", line) }
                return args[state.index0 % args.count]
            }
            if name == "changed" {
                defer { state.lastChanged = args }
                guard let last = state.lastChanged, last.count == args.count else { return .bool(true) }
                for (x, y) in zip(last, args) where !(try pyEqual(x, y)) { return .bool(true) }
                return .bool(false)
            }
        default:
            break
        }
        throw ChatTemplateError.unsupported("unsupported method \"\(name)\" of \(receiver.typeName)", line)
    }

    private func stringMethod(_ s: String, _ name: String, _ args: [Value], _ kwargs: [(String, Value)],
                              _ bind: ([String]) throws -> [Value?], line: Int) throws -> Value
    {
        switch name {
        case "strip", "lstrip", "rstrip":
            let a = try bind(["chars"])
            return .string(s.pyStrip(try optionalString(a[0]), leading: name != "rstrip", trailing: name != "lstrip"))
        case "split", "rsplit":
            let a = try bind(["sep", "maxsplit"])
            let parts = try pySplit(s, try optionalString(a[0]), maxSplit: a[1]?.intValue ?? -1, fromRight: name == "rsplit")
            try charge(items: parts.count)
            return .list(parts.map { .string($0) })
        case "splitlines":
            let a = try bind(["keepends"])
            if a[0]?.isTruthy ?? false { break }
            return .list(s.pySplitLines().map { .string($0) })
        case "startswith", "endswith":
            let a = try bind(["prefix", "start", "end"])
            let text = try slicedText(s, a[1], a[2])
            let candidates: [Value]
            if case .list(let l)? = a[0] { candidates = l.items } else { candidates = [a[0] ?? .none] }
            for c in candidates {
                guard case .string(let affix) = c else {
                    throw ChatTemplateError.render("\(name) first arg must be str or a tuple of str, not \(c.typeName)", line)
                }
                if name == "startswith" ? text.utf8.starts(with: affix.utf8)
                    : text.utf8.reversed().starts(with: affix.utf8.reversed()) { return .bool(true) }
            }
            return .bool(false)
        case "upper": _ = try bind([]); return .string(s.uppercased())
        case "lower", "casefold": _ = try bind([]); return .string(s.lowercased())
        case "title": _ = try bind([]); return .string(s.pyTitle())
        case "capitalize": _ = try bind([]); return .string(s.pyCapitalize())
        case "swapcase":
            _ = try bind([])
            var out = ""
            for c in s.unicodeScalars {
                switch c.properties.generalCategory {
                case .uppercaseLetter, .titlecaseLetter: out += c.properties.lowercaseMapping
                case .lowercaseLetter: out += c.properties.uppercaseMapping
                default: out.unicodeScalars.append(c)
                }
            }
            return .string(out)
        case "replace":
            let a = try bind(["old", "new", "count"])
            guard case .string(let old)? = a[0], case .string(let new)? = a[1] else {
                throw ChatTemplateError.render("str.replace() needs str arguments", line)
            }
            return .string(try pyReplace(s, old, new, count: a[2]?.intValue ?? -1))
        case "find", "rfind", "index", "rindex", "count":
            let a = try bind(["sub", "start", "end"])
            guard case .string(let sub)? = a[0] else { throw ChatTemplateError.render("\(name)() needs a str argument", line) }
            let offset = try sliceStart(s, a[1])
            let hay = Array(try slicedText(s, a[1], a[2]).unicodeScalars), needle = Array(sub.unicodeScalars)
            var hits: [Int] = []
            var i = 0
            while i + needle.count <= hay.count {
                if hay[i..<(i + needle.count)].elementsEqual(needle) {
                    hits.append(i)
                    if name == "find" || name == "index" { break }
                    i += max(needle.count, 1)
                } else {
                    i += 1
                }
            }
            if name == "count" { return .int(hits.count) }
            guard let hit = name.hasPrefix("r") ? hits.last : hits.first else {
                if name.hasSuffix("index") { throw ChatTemplateError.render("substring not found", line) }
                return .int(-1)
            }
            return .int(hit + offset)
        case "join":
            let a = try bind(["iterable"])
            let parts = try iterate(a[0] ?? .none).enumerated().map { (i, v) -> String in
                guard case .string(let t) = v else {
                    throw ChatTemplateError.render("sequence item \(i): expected str instance, \(v.typeName) found", line)
                }
                return t
            }
            try charge(bytes: parts.reduce(0) { $0 + $1.utf8.count } + s.utf8.count * parts.count)
            return .string(parts.joined(separator: s))
        case "isdigit", "isdecimal", "isnumeric":
            _ = try bind([])
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
        case "isalpha":
            _ = try bind([])
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum":
            _ = try bind([])
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy {
                $0.properties.isAlphabetic || $0.properties.numericType != nil
            })
        case "isspace":
            _ = try bind([])
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(\.isPythonSpace))
        case "islower", "isupper":
            _ = try bind([])
            return .bool(s.pyIsCase(upper: name == "isupper"))
        case "removeprefix", "removesuffix":
            let a = try bind(["affix"])
            guard case .string(let affix)? = a[0] else { throw ChatTemplateError.render("\(name)() needs a str argument", line) }
            let n = affix.unicodeScalars.count
            if name == "removeprefix", s.utf8.starts(with: affix.utf8) { return .string(String(s.unicodeScalars.dropFirst(n))) }
            if name == "removesuffix", !affix.isEmpty, s.utf8.reversed().starts(with: affix.utf8.reversed()) {
                return .string(String(s.unicodeScalars.dropLast(n)))
            }
            return .string(s)
        case "partition", "rpartition":
            let a = try bind(["sep"])
            guard case .string(let sep)? = a[0], !sep.isEmpty else { throw ChatTemplateError.render("empty separator", line) }
            let parts = try pySplit(s, sep, maxSplit: 1, fromRight: name == "rpartition")
            if parts.count == 2 { return .tuple([.string(parts[0]), .string(sep), .string(parts[1])]) }
            return name == "partition" ? .tuple([.string(s), .string(""), .string("")]) : .tuple([.string(""), .string(""), .string(s)])
        case "format":
            return .string(try pyFormat(s, args, kwargs, line: line))
        default:
            break
        }
        throw ChatTemplateError.unsupported("unsupported method \"\(name)\" of str", line)
    }

    /// `str.format`: `{}`, `{0}`, `{name}`, `!r` / `!s`, `{{` and `}}`. Format specs and `{0.attr}` are `.unsupported`.
    private func pyFormat(_ format: String, _ args: [Value], _ kwargs: [(String, Value)], line: Int) throws -> String {
        var out = ""
        var chars = Array(format.unicodeScalars)[...]
        var nextAuto = 0
        while let c = chars.popFirst() {
            if c == "}" {
                guard chars.popFirst() == "}" else { throw ChatTemplateError.render("Single '}' encountered in format string", line) }
                out += "}"
                continue
            }
            guard c == "{" else { out.unicodeScalars.append(c); continue }
            if chars.first == "{" { chars.removeFirst(); out += "{"; continue }
            var field = ""
            while let f = chars.popFirst(), f != "}" { field.unicodeScalars.append(f) }
            var conversion: Character? = nil
            if let bang = field.firstIndex(of: "!") {
                conversion = field[field.index(after: bang)...].first
                field = String(field[..<bang])
            }
            if field.contains(":") || field.contains(".") || field.contains("[") {
                throw ChatTemplateError.unsupported("unsupported str.format field \"{\(field)}\"", line)
            }
            let value: Value
            if field.isEmpty {
                guard nextAuto < args.count else { throw ChatTemplateError.render("Replacement index \(nextAuto) out of range", line) }
                value = args[nextAuto]
                nextAuto += 1
            } else if let index = Int(field) {
                guard index >= 0, index < args.count else { throw ChatTemplateError.render("Replacement index \(index) out of range", line) }
                value = args[index]
            } else {
                guard let named = kwargs.last(where: { $0.0 == field })?.1 else { throw ChatTemplateError.render("KeyError: '\(field)'", line) }
                value = named
            }
            let text = conversion == "r" ? try repr(value) : try str(value)
            try charge(bytes: out.utf8.count + text.utf8.count)
            out += text
        }
        return out
    }

    private func sliceStart(_ s: String, _ start: Value?) throws -> Int {
        guard let i = start?.intValue else { return 0 }
        let n = s.unicodeScalars.count
        return i < 0 ? max(0, i + n) : min(i, n)
    }

    private func slicedText(_ s: String, _ start: Value?, _ end: Value?) throws -> String {
        if start == nil && end == nil { return s }
        guard case .string(let t) = try slice(.string(s), start, end, nil) else { return "" }
        return t
    }

    /// Python `str.split` / `rsplit`; `separator == nil` splits on whitespace runs.
    func pySplit(_ s: String, _ separator: String?, maxSplit: Int, fromRight: Bool) throws -> [String] {
        var scalars = Array(s.unicodeScalars)
        var sep = separator.map { Array($0.unicodeScalars) }
        if fromRight {
            scalars.reverse()
            sep?.reverse()
        }
        var parts: [[Unicode.Scalar]] = []
        var splits = 0
        if let sep {
            guard !sep.isEmpty else { throw ChatTemplateError.render("empty separator", nil) }
            var current: [Unicode.Scalar] = []
            var i = 0
            while i < scalars.count {
                if (maxSplit < 0 || splits < maxSplit), i + sep.count <= scalars.count,
                   scalars[i..<(i + sep.count)].elementsEqual(sep)
                {
                    parts.append(current)
                    current = []
                    splits += 1
                    i += sep.count
                } else {
                    current.append(scalars[i])
                    i += 1
                }
            }
            parts.append(current)
        } else {
            var i = 0
            while i < scalars.count {
                while i < scalars.count && scalars[i].isPythonSpace { i += 1 }
                if i == scalars.count { break }
                if maxSplit >= 0 && splits >= maxSplit {
                    parts.append(Array(scalars[i...]))
                    break
                }
                let start = i
                while i < scalars.count && !scalars[i].isPythonSpace { i += 1 }
                parts.append(Array(scalars[start..<i]))
                splits += 1
            }
        }
        var strings = parts.map { part -> String in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: fromRight ? part.reversed() : part)
            return String(view)
        }
        if fromRight { strings.reverse() }
        return strings
    }

    /// Python `str.replace(old, new, count)`; the result size is checked before it is built.
    func pyReplace(_ s: String, _ old: String, _ new: String, count: Int) throws -> String {
        let scalars = Array(s.unicodeScalars), target = Array(old.unicodeScalars)
        var hits: [Int] = []
        if target.isEmpty {
            hits = Array(0...scalars.count)
        } else {
            var i = 0
            while i + target.count <= scalars.count {
                if scalars[i..<(i + target.count)].elementsEqual(target) {
                    hits.append(i)
                    i += target.count
                } else {
                    i += 1
                }
            }
        }
        if count >= 0 && hits.count > count { hits.removeLast(hits.count - count) }
        let (grow, o) = hits.count.multipliedReportingOverflow(by: new.utf8.count)
        try charge(bytes: o ? Int.max : s.utf8.count + grow)
        var out = String.UnicodeScalarView()
        var last = 0
        for h in hits {
            out.append(contentsOf: scalars[last..<h])
            out.append(contentsOf: new.unicodeScalars)
            last = h + target.count
        }
        if last <= scalars.count { out.append(contentsOf: scalars[last...]) }
        return String(out)
    }

    /// jinja's `int` filter: `int(value)`, then `int(float(value))`, else the default.
    func toInt(_ v: Value, default fallback: Value, base: Int) throws -> Value {
        switch v {
        case .int, .bool: return .int(v.intValue!)
        case .double(let d): return try truncate(d, fallback)
        case .string(let s):
            var text = s.pyStrip(nil)
            var negative = false
            if let first = text.first, first == "+" || first == "-" {
                negative = first == "-"
                text.removeFirst()
            }
            if base == 16, text.lowercased().hasPrefix("0x") { text.removeFirst(2) }
            if let digits = pyDigits(text), let lead = digits.first, lead != "-", lead != "+", base >= 2, base <= 36,
               let i = Int(digits, radix: base)
            {
                return .int(negative ? -i : i)
            }
            if let d = pyParseFloat(s) { return try truncate(d, fallback) }
            return fallback
        case .undefined(let message): throw ChatTemplateError.render(message, nil)
        default: return fallback
        }
    }

    private func truncate(_ d: Double, _ fallback: Value) throws -> Value {
        if d.isNaN { return fallback }
        if d.isInfinite { throw ChatTemplateError.render("cannot convert float infinity to integer", nil) }
        guard let i = Int(exactly: d.rounded(.towardZero)) else {
            throw ChatTemplateError.limit("integer \(pyFloatRepr(d)) exceeds 64 bits", nil)
        }
        return .int(i)
    }

    func toFloat(_ v: Value, default fallback: Value) throws -> Value {
        switch v {
        case .double: return v
        case .int, .bool: return .double(Double(v.intValue!))
        case .string(let s): return pyParseFloat(s).map { .double($0) } ?? fallback
        case .undefined(let message): throw ChatTemplateError.render(message, nil)
        default: return fallback
        }
    }
}

/// Digits with Python's single underscores between them removed; nil when underscores are misplaced.
private func pyDigits(_ s: String) -> String? {
    var out = ""
    var previousUnderscore = true
    for c in s {
        if c == "_" {
            if previousUnderscore { return nil }
            previousUnderscore = true
        } else {
            out.append(c)
            previousUnderscore = false
        }
    }
    return previousUnderscore && !out.isEmpty ? nil : out
}

/// Python `float(str)`: surrounding whitespace, `inf`/`nan` words, underscores between digits; no hex floats.
func pyParseFloat(_ s: String) -> Double? {
    let text = s.pyStrip(nil)
    var body = Substring(text)
    var sign = 1.0
    if let first = body.first, first == "+" || first == "-" {
        if first == "-" { sign = -1 }
        body = body.dropFirst()
    }
    switch body.lowercased() {
    case "inf", "infinity": return sign * .infinity
    case "nan": return .nan
    default: break
    }
    guard !body.isEmpty, body.allSatisfy({ "0123456789._eE+-".contains($0) }) else { return nil }
    var cleaned = ""
    let chars = Array(body)
    for (i, c) in chars.enumerated() {
        if c == "_" {
            guard i > 0, i + 1 < chars.count, chars[i - 1].isNumber, chars[i + 1].isNumber else { return nil }
            continue
        }
        cleaned.append(c)
    }
    return Double(cleaned).map { sign * $0 }
}
