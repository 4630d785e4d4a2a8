// Values as text: Python `str()` / `repr()` (what `{{ }}` prints) and `json.dumps` (transformers' `tojson`).

/// `json.dumps` options, with transformers' defaults (`ensure_ascii=False`).
struct JSONStyle {
    var indent: String? = nil
    var itemSeparator: String? = nil
    var keySeparator = ": "
    var sortKeys = false
    var ensureASCII = false
}

extension Renderer {
    /// Python `str(value)` as jinja prints it; Undefined prints as "".
    func str(_ v: Value) throws -> String {
        switch v {
        case .undefined: return ""
        case .string(let s): return s
        default:
            var out = ""
            try writeRepr(v, into: &out, level: 0)
            return out
        }
    }

    func repr(_ v: Value) throws -> String {
        var out = ""
        try writeRepr(v, into: &out, level: 0)
        return out
    }

    private func checkSize(_ out: String) throws {
        if out.utf8.count > limits.maxOutputBytes {
            throw ChatTemplateError.limit("template built a string of more than \(limits.maxOutputBytes) bytes", nil)
        }
    }

    private func writeRepr(_ v: Value, into out: inout String, level: Int) throws {
        if level > limits.maxDepth {
            throw ChatTemplateError.limit("data nested deeper than \(limits.maxDepth) levels", nil)
        }
        switch v {
        case .undefined: out += "Undefined"
        case .none: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .double(let d): out += pyFloatRepr(d)
        case .string(let s): out += pyRepr(s)
        case .list(let l):
            out += l.isTuple ? "(" : "["
            for (i, item) in l.items.enumerated() {
                if i > 0 { out += ", " }
                try writeRepr(item, into: &out, level: level + 1)
                try checkSize(out)
            }
            out += l.isTuple ? (l.items.count == 1 ? ",)" : ")") : "]"
        case .dict(let d):
            try writeDictRepr(d, into: &out, level: level)
        case .namespace(let i):
            out += "<Namespace "
            try writeDictRepr(namespaces[i], into: &out, level: level)
            out += ">"
        case .loop(let s): out += "<LoopContext \(s.index0 + 1)/\(s.length)>"
        case .macro(let m): out += "<Macro '\(m.name)'>"
        case .function(let b): out += "<function \(b.rawValue)>"
        case .method(let receiver, let name): out += "<built-in method \(name) of \(receiver.typeName) object>"
        }
    }

    private func writeDictRepr(_ d: ValueDict, into out: inout String, level: Int) throws {
        out += "{"
        for (i, (k, value)) in d.pairs.enumerated() {
            if i > 0 { out += ", " }
            out += pyRepr(k) + ": "
            try writeRepr(value, into: &out, level: level + 1)
            try checkSize(out)
        }
        out += "}"
    }

    /// `json.dumps(value, ...)`.
    func toJSON(_ v: Value, _ style: JSONStyle) throws -> String {
        var out = ""
        try writeJSON(v, style, into: &out, level: 0)
        return out
    }

    private func writeJSON(_ v: Value, _ style: JSONStyle, into out: inout String, level: Int) throws {
        if level > limits.maxDepth {
            throw ChatTemplateError.limit("data nested deeper than \(limits.maxDepth) levels", nil)
        }
        let itemSeparator = style.itemSeparator ?? (style.indent == nil ? ", " : ",")
        func open(_ bracket: String) -> String? {
            out += bracket
            guard let indent = style.indent else { return nil }
            let newline = "\n" + String(repeating: indent, count: level + 1)
            out += newline
            return newline
        }
        func close(_ bracket: String, _ newline: String?) {
            if let indent = style.indent, newline != nil { out += "\n" + String(repeating: indent, count: level) }
            out += bracket
        }
        switch v {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            out += d.isNaN ? "NaN" : d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : pyFloatRepr(d)
        case .string(let s): jsonQuote(s, ensureASCII: style.ensureASCII, into: &out)
        case .list(let l):
            guard !l.items.isEmpty else { out += "[]"; return }
            let newline = open("[")
            for (i, item) in l.items.enumerated() {
                if i > 0 { out += itemSeparator + (newline ?? "") }
                try writeJSON(item, style, into: &out, level: level + 1)
                try checkSize(out)
            }
            close("]", newline)
        case .dict(let d):
            guard !d.isEmpty else { out += "{}"; return }
            let newline = open("{")
            var pairs = Array(d.pairs)
            if style.sortKeys { pairs.sort { $0.0.pyLess($1.0) } }
            for (i, (k, value)) in pairs.enumerated() {
                if i > 0 { out += itemSeparator + (newline ?? "") }
                jsonQuote(k, ensureASCII: style.ensureASCII, into: &out)
                out += style.keySeparator
                try writeJSON(value, style, into: &out, level: level + 1)
                try checkSize(out)
            }
            close("}", newline)
        default:
            throw ChatTemplateError.render("Object of type \(v.typeName) is not JSON serializable", nil)
        }
    }
}
