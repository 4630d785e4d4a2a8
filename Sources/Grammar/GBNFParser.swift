/// GBNF, llama.cpp's grammar notation: `name ::= alternatives` rules, the start rule named `root`.
/// Items: "literals" (escapes \n \r \t \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH), [classes] with ranges and ^, `.` (any
/// character), rule names, ( groups ), and the postfix operators * + ? {m} {m,} {m,n}. `#` starts a comment.
/// Written for hostile input: nesting is limited and every error names the line and column.
struct GBNFParser {
    static let maximumDepth = 64
    static let maximumLength = 1 << 20

    private let text: [UInt8]
    private var i = 0

    private init(_ text: [UInt8]) { self.text = text }

    static func parse(_ source: String) throws -> GrammarRules {
        let bytes = Array(source.utf8)
        guard bytes.count <= maximumLength else {
            throw GrammarError("the grammar is \(bytes.count) bytes; the limit is \(maximumLength)")
        }
        var parser = GBNFParser(bytes)
        var rules = GrammarRules(root: "root")
        parser.skipSpace()
        while parser.i < bytes.count {
            let name = try parser.name()
            parser.skipSpace()
            guard parser.consume("::=") else { throw parser.error("expected ::= after rule name \"\(name)\"") }
            parser.skipSpace()
            let expr = try parser.alternatives(depth: 0)
            guard !rules.contains(name) else { throw parser.error("rule \"\(name)\" is defined twice") }
            rules.add(name, expr)
            parser.skipSpace()
        }
        guard rules.contains("root") else { throw GrammarError("the grammar has no \"root\" rule") }
        return rules
    }

    private func error(_ message: String) -> GrammarError {
        let before = text[..<min(i, text.count)]
        let line = before.filter { $0 == 0x0A }.count + 1
        let column = before.count - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
        return GrammarError("grammar line \(line), column \(column): \(message)")
    }

    private var peek: UInt8? { i < text.count ? text[i] : nil }

    private mutating func consume(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard text.count - i >= u.count, Array(text[i..<(i + u.count)]) == u else { return false }
        i += u.count
        return true
    }

    private mutating func skipSpace() {
        while let c = peek {
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                i += 1
            } else if c == 0x23 {   // # comment
                while let d = peek, d != 0x0A { _ = d; i += 1 }
            } else {
                return
            }
        }
    }

    private static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
    }

    private mutating func name() throws -> String {
        let start = i
        while let c = peek, GBNFParser.isNameByte(c) { i += 1 }
        guard i > start else {
            throw error(peek.map { "expected a rule name, found \(describe($0))" } ?? "expected a rule name")
        }
        return String(decoding: text[start..<i], as: UTF8.self)
    }

    private func describe(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? "\"\(Character(Unicode.Scalar(c)))\"" : "byte 0x\(String(c, radix: 16))"
    }

    /// Whether a rule definition (`name ::=`) starts here, which ends the previous rule.
    private func atRuleStart() -> Bool {
        var j = i
        while j < text.count, GBNFParser.isNameByte(text[j]) { j += 1 }
        guard j > i else { return false }
        while j < text.count, text[j] == 0x20 || text[j] == 0x09 || text[j] == 0x0A || text[j] == 0x0D { j += 1 }
        return text.count - j >= 3 && text[j] == 0x3A && text[j + 1] == 0x3A && text[j + 2] == 0x3D
    }

    private mutating func alternatives(depth: Int) throws -> GrammarExpr {
        guard depth < GBNFParser.maximumDepth else { throw error("groups nested deeper than \(GBNFParser.maximumDepth)") }
        var options = [try sequence(depth: depth)]
        while peek == 0x7C {     // |
            i += 1
            skipSpace()
            options.append(try sequence(depth: depth))
        }
        return options.count == 1 ? options[0] : .choice(options)
    }

    private mutating func sequence(depth: Int) throws -> GrammarExpr {
        var items: [GrammarExpr] = []
        while let c = peek, c != 0x7C, c != 0x29 {     // | )
            if depth == 0 && atRuleStart() { break }
            var item: GrammarExpr
            switch c {
            case 0x22:     // "
                i += 1
                var bytes: [UInt8] = []
                while true {
                    guard let d = peek else { throw error("unterminated string literal") }
                    if d == 0x22 { i += 1; break }
                    appendScalarUTF8(try character(), to: &bytes)
                }
                item = .literal(bytes)
            case 0x5B:     // [
                item = try charClass()
            case 0x2E:     // .
                i += 1
                item = .chars([], negated: true)
            case 0x28:     // (
                i += 1
                skipSpace()
                item = try alternatives(depth: depth + 1)
                guard peek == 0x29 else { throw error("expected ) to close the group") }
                i += 1
            default:
                guard GBNFParser.isNameByte(c) else { throw error("unexpected \(describe(c))") }
                item = .ref(try name())
            }
            item = try postfix(item)
            items.append(item)
            skipSpace()
        }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    private mutating func postfix(_ base: GrammarExpr) throws -> GrammarExpr {
        var item = base
        while let c = peek {
            switch c {
            case 0x2A: i += 1; item = .star(item)
            case 0x2B: i += 1; item = .repeated(item, min: 1, max: nil)
            case 0x3F: i += 1; item = .optional(item)
            case 0x7B:
                i += 1
                skipSpace()
                let lo = try number()
                skipSpace()
                var hi: Int? = lo
                if peek == 0x2C {
                    i += 1
                    skipSpace()
                    hi = peek == 0x7D ? nil : try number()
                    skipSpace()
                }
                guard peek == 0x7D else { throw error("expected } to close the repetition") }
                i += 1
                if let hi, hi < lo { throw error("repetition {\(lo),\(hi)} has max below min") }
                item = .repeated(item, min: lo, max: hi)
            default:
                return item
            }
        }
        return item
    }

    private mutating func number() throws -> Int {
        let start = i
        var n = 0
        while let c = peek, c >= 0x30 && c <= 0x39 {
            n = n * 10 + Int(c - 0x30)
            i += 1
            guard n <= CompiledGrammar.maximumRepetition else {
                throw error("repetition count above \(CompiledGrammar.maximumRepetition)")
            }
        }
        guard i > start else { throw error("expected a number in the repetition") }
        return n
    }

    private mutating func charClass() throws -> GrammarExpr {
        i += 1
        var negated = false
        if peek == 0x5E { negated = true; i += 1 }
        var ranges: [ClosedRange<UInt32>] = []
        while true {
            guard let c = peek else { throw error("unterminated character class") }
            if c == 0x5D { i += 1; break }
            let lo = try character()
            var hi = lo
            if peek == 0x2D, i + 1 < text.count, text[i + 1] != 0x5D {
                i += 1
                hi = try character()
                guard hi >= lo else { throw error("character range is backwards") }
            }
            ranges.append(lo...hi)
        }
        return .chars(ranges, negated: negated)
    }

    /// One character of a literal or class, escapes decoded; invalid UTF-8 in the grammar is an error.
    private mutating func character() throws -> UInt32 {
        guard let c = peek else { throw error("unexpected end of grammar") }
        if c == 0x5C {
            i += 1
            guard let e = peek else { throw error("unterminated escape") }
            i += 1
            switch e {
            case 0x6E: return 0x0A
            case 0x72: return 0x0D
            case 0x74: return 0x09
            case 0x30: return 0
            case 0x5C, 0x22, 0x5B, 0x5D, 0x2D, 0x5E, 0x27: return UInt32(e)
            case 0x78: return try hex(2)
            case 0x75: return try hex(4)
            case 0x55: return try hex(8)
            default: throw error("unknown escape \\\(Character(Unicode.Scalar(e)))")
            }
        }
        return try decodeUTF8()
    }

    private mutating func hex(_ digits: Int) throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<digits {
            guard let c = peek, let d = hexValue(c) else { throw error("expected \(digits) hex digits") }
            v = v << 4 | d
            i += 1
        }
        guard v <= 0x10FFFF, !(0xD800...0xDFFF).contains(v) else { throw error("escape is not a Unicode scalar") }
        return v
    }

    private mutating func decodeUTF8() throws -> UInt32 {
        let c = text[i]
        let (n, initial): (Int, UInt32) = c < 0x80 ? (1, UInt32(c)) : c >= 0xF0 && c < 0xF5 ? (4, UInt32(c & 0x07))
            : c >= 0xE0 ? (3, UInt32(c & 0x0F)) : c >= 0xC2 && c < 0xE0 ? (2, UInt32(c & 0x1F)) : (0, 0)
        guard n > 0, i + n <= text.count else { throw error("invalid UTF-8") }
        var v = initial
        for k in 1..<n {
            let b = text[i + k]
            guard b & 0xC0 == 0x80 else { throw error("invalid UTF-8") }
            v = v << 6 | UInt32(b & 0x3F)
        }
        let minimum: [UInt32] = [0, 0, 0x80, 0x800, 0x10000]
        guard v >= minimum[n], v <= 0x10FFFF, !(0xD800...0xDFFF).contains(v) else { throw error("invalid UTF-8") }
        i += n
        return v
    }
}

func hexValue(_ c: UInt8) -> UInt32? {
    switch c {
    case 0x30...0x39: return UInt32(c - 0x30)
    case 0x41...0x46: return UInt32(c - 0x41 + 10)
    case 0x61...0x66: return UInt32(c - 0x61 + 10)
    default: return nil
    }
}

func appendScalarUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
    guard let s = Unicode.Scalar(scalar) else { return }
    out.append(contentsOf: String(Character(s)).utf8)
}
