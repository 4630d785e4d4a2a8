// Tokens of the Jinja lexer and the Python whitespace set the lexer and string methods share.

/// One lexed piece of template source, with the 1-based line it starts on.
struct Token: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// Template text outside tags, after whitespace control.
        case data(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        /// An operator or punctuation: `+`, `//`, `==`, `(`, `|`, ...
        case op(String)
        case eof
    }

    let kind: Kind
    let line: Int

    /// How a token is named in a syntax error.
    var described: String {
        switch kind {
        case .data: return "template data"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "end of print statement"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "end of statement block"
        case .name(let n): return "'\(n)'"
        case .string: return "string"
        case .integer(let i): return "'\(i)'"
        case .float(let d): return "'\(d)'"
        case .op(let o): return "'\(o)'"
        case .eof: return "end of template"
        }
    }

    func isName(_ value: String) -> Bool {
        if case .name(let n) = kind { return n == value }
        return false
    }

    func isOp(_ value: String) -> Bool {
        if case .op(let o) = kind { return o == value }
        return false
    }
}

extension Unicode.Scalar {
    /// Python's `str.isspace()` / regex `\s` for one code point.
    var isPythonSpace: Bool {
        switch value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    var isASCIIDigit: Bool { value >= 0x30 && value <= 0x39 }

    var isIdentifierStart: Bool {
        value == 0x5F || (value < 0x80 ? (value | 0x20) >= 0x61 && (value | 0x20) <= 0x7A : properties.isAlphabetic)
    }

    var isIdentifierContinue: Bool {
        isIdentifierStart || isASCIIDigit || (value >= 0x80 && properties.numericType != nil)
    }
}
