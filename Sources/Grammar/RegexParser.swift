/// Regular expressions (the subset grammars need) to `GrammarExpr`: literals, escapes (\d \w \s \D \W \S, \n \t \r
/// \f \v \0, \xHH, \uHHHH, escaped punctuation), classes with ranges, negation and escapes, `.` (any character but
/// newline), groups `(...)` and `(?:...)`, `|`, the quantifiers * + ? {m} {m,} {m,n} (a lazy or possessive suffix
/// changes nothing: the grammar is a language, not a match), and `^`/`$` at the ends only. Back-references and
/// lookaround are refused. The whole output must match.
struct RegexParser {
    static let maximumDepth = 64
    static let maximumLength = 1 << 16

    /// How a character class becomes an expression: as is (a regex grammar), or as the JSON string text of the
    /// characters (a schema's `pattern`, matched inside a JSON string).
    enum Output { case raw, jsonString }

    private let scalars: [UInt32]
    private var i = 0
    private let output: Output
    private let what: String

    private init(_ pattern: String, output: Output, what: String) {
        scalars = pattern.unicodeScalars.map(\.value)
        self.output = output
        self.what = what
    }

    /// - anchoredByDefault: true for a regex grammar (the whole output matches); false for a JSON Schema `pattern`
    ///   (a search: a pattern without ^ or $ may have text around its match).
    static func parse(_ pattern: String, output: Output, anchoredByDefault: Bool, what: String) throws -> GrammarExpr {
        guard pattern.utf8.count <= maximumLength else {
            throw GrammarError("\(what) is \(pattern.utf8.count) bytes; the limit is \(maximumLength)")
        }
        var p = RegexParser(pattern, output: output, what: what)
        var startAnchor = false, endAnchor = false
        if p.scalars.first == 0x5E { startAnchor = true; p.i = 1 }
        let body = try p.alternatives(depth: 0)
        if p.i < p.scalars.count, p.scalars[p.i] == 0x24, p.i == p.scalars.count - 1 { endAnchor = true; p.i += 1 }
        guard p.i == p.scalars.count else {
            throw p.error(p.scalars[p.i] == 0x29 ? "unbalanced )" : "unexpected character")
        }
        if anchoredByDefault { return body }
        let anything = GrammarExpr.star(p.classExpr([0x0A...0x0A], negated: true))
        return .sequence((startAnchor ? [] : [anything]) + [body] + (endAnchor ? [] : [anything]))
    }

    private func error(_ message: String) -> GrammarError {
        GrammarError("\(what): \(message) at character \(i + 1)")
    }

    private var peek: UInt32? { i < scalars.count ? scalars[i] : nil }

    private mutating func alternatives(depth: Int) throws -> GrammarExpr {
        guard depth < RegexParser.maximumDepth else { throw error("groups nested deeper than \(RegexParser.maximumDepth)") }
        var options = [try sequence(depth: depth)]
        while peek == 0x7C {
            i += 1
            options.append(try sequence(depth: depth))
        }
        return options.count == 1 ? options[0] : .choice(options)
    }

    private mutating func sequence(depth: Int) throws -> GrammarExpr {
        var items: [GrammarExpr] = []
        while let c = peek, c != 0x7C, c != 0x29 {
            if c == 0x24 && i == scalars.count - 1 && depth == 0 { break }   // final $
            var item: GrammarExpr
            switch c {
            case 0x28:
                i += 1
                if peek == 0x3F {
                    guard i + 1 < scalars.count, scalars[i + 1] == 0x3A else {
                        throw error("only non-capturing groups (?:...) are supported, not lookaround or flags")
                    }
                    i += 2
                }
                item = try alternatives(depth: depth + 1)
                guard peek == 0x29 else { throw error("missing )") }
                i += 1
            case 0x5B:
                item = try bracketClass()
            case 0x2E:
                i += 1
                item = classExpr([0x0A...0x0A], negated: true)
            case 0x5E, 0x24:
                throw error("anchors are supported only at the start (^) and end ($)")
            case 0x2A, 0x2B, 0x3F, 0x7B:
                throw error("quantifier without anything to repeat")
            case 0x5C:
                i += 1
                let (ranges, negated) = try escape(inClass: false)
                item = classExpr(ranges, negated: negated)
            default:
                i += 1
                item = classExpr([c...c], negated: false)
            }
            items.append(try quantified(item))
        }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    private mutating func quantified(_ base: GrammarExpr) throws -> GrammarExpr {
        var item = base
        var quantifiers = 0
        while let c = peek {
            let next: GrammarExpr
            switch c {
            case 0x2A: i += 1; next = .star(item)
            case 0x2B: i += 1; next = .repeated(item, min: 1, max: nil)
            case 0x3F: i += 1; next = .optional(item)
            case 0x7B:
                guard let (lo, hi) = try braces() else { return item }
                next = .repeated(item, min: lo, max: hi)
            default: return item
            }
            quantifiers += 1
            guard quantifiers == 1 else { throw error("a quantifier cannot follow a quantifier") }
            item = next
            if peek == 0x3F || peek == 0x2B { i += 1 }   // lazy or possessive: same language
        }
        return item
    }

    /// `{m}`, `{m,}`, `{m,n}`; nil (nothing consumed) when the brace does not start a quantifier.
    private mutating func braces() throws -> (Int, Int?)? {
        let start = i
        i += 1
        func number() -> Int? {
            var n: Int?
            while let c = peek, c >= 0x30 && c <= 0x39 {
                n = min((n ?? 0) * 10 + Int(c - 0x30), CompiledGrammar.maximumRepetition + 1)
                i += 1
            }
            return n
        }
        guard let lo = number() else { i = start; throw error("{ must start a quantifier {m}, {m,} or {m,n}") }
        var hi: Int? = lo
        if peek == 0x2C {
            i += 1
            hi = number()
        }
        guard peek == 0x7D else { throw error("unterminated quantifier") }
        i += 1
        if let hi, hi < lo { throw error("quantifier {\(lo),\(hi)} has max below min") }
        guard max(lo, hi ?? lo) <= CompiledGrammar.maximumRepetition else {
            throw error("repetition count above \(CompiledGrammar.maximumRepetition)")
        }
        return (lo, hi)
    }

    private mutating func bracketClass() throws -> GrammarExpr {
        i += 1
        var negated = false
        if peek == 0x5E { negated = true; i += 1 }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while true {
            guard let c = peek else { throw error("unterminated character class") }
            if c == 0x5D && !first { i += 1; break }
            first = false
            i += 1
            var lo: UInt32 = c
            if c == 0x5C {
                let (r, neg) = try escape(inClass: true)
                if neg || r.count != 1 || r[0].count != 1 {
                    ranges += neg ? UTF8Ranges.complement(UTF8Ranges.normalize(r)) : r
                    continue
                }
                lo = r[0].lowerBound
            }
            if peek == 0x2D, i + 1 < scalars.count, scalars[i + 1] != 0x5D {
                i += 1
                guard var hi = peek else { throw error("unterminated character class") }
                i += 1
                if hi == 0x5C {
                    let (r, neg) = try escape(inClass: true)
                    guard !neg, r.count == 1, r[0].count == 1 else { throw error("a class escape cannot end a range") }
                    hi = r[0].lowerBound
                }
                guard hi >= lo else { throw error("character range is backwards") }
                ranges.append(lo...hi)
            } else {
                ranges.append(lo...lo)
            }
        }
        return classExpr(ranges, negated: negated)
    }

    /// After a backslash: the ranges it stands for and whether they are negated.
    private mutating func escape(inClass: Bool) throws -> ([ClosedRange<UInt32>], Bool) {
        guard let c = peek else { throw error("pattern ends with a backslash") }
        i += 1
        let digit: [ClosedRange<UInt32>] = [0x30...0x39]
        let word: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
        let space: [ClosedRange<UInt32>] = [0x09...0x0D, 0x20...0x20]
        switch c {
        case 0x64: return (digit, false)
        case 0x44: return (digit, true)
        case 0x77: return (word, false)
        case 0x57: return (word, true)
        case 0x73: return (space, false)
        case 0x53: return (space, true)
        case 0x6E: return ([0x0A...0x0A], false)
        case 0x74: return ([0x09...0x09], false)
        case 0x72: return ([0x0D...0x0D], false)
        case 0x66: return ([0x0C...0x0C], false)
        case 0x76: return ([0x0B...0x0B], false)
        case 0x30: return ([0...0], false)
        case 0x78, 0x75:
            var v: UInt32 = 0
            for _ in 0..<(c == 0x78 ? 2 : 4) {
                guard let d = peek, d < 0x80, let h = hexValue(UInt8(d)) else { throw error("bad hex escape") }
                v = v << 4 | h
                i += 1
            }
            guard !(0xD800...0xDFFF).contains(v) else { throw error("escape is a surrogate") }
            return ([v...v], false)
        case 0x62 where inClass: return ([0x08...0x08], false)
        case 0x31...0x39: throw error("back-references are not supported")
        case 0x62, 0x42, 0x41, 0x7A, 0x5A: throw error("word boundaries and anchors inside the pattern are not supported")
        default:
            let isLetterOrDigit = (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
            guard !isLetterOrDigit else { throw error("unknown escape \\\(Character(Unicode.Scalar(c)!))") }
            return ([c...c], false)
        }
    }

    /// A class as an expression: the characters themselves, or (JSON string output) their JSON encoding, where a
    /// quote, backslash or control character appears escaped.
    func classExpr(_ ranges: [ClosedRange<UInt32>], negated: Bool) -> GrammarExpr {
        let set = negated ? UTF8Ranges.complement(UTF8Ranges.normalize(ranges)) : UTF8Ranges.normalize(ranges)
        switch output {
        case .raw:
            if set.count == 1, set[0].count == 1 {
                var bytes: [UInt8] = []
                appendScalarUTF8(set[0].lowerBound, to: &bytes)
                return .literal(bytes)
            }
            return .chars(set, negated: false)
        case .jsonString:
            return JSONText.characterClass(set)
        }
    }
}
