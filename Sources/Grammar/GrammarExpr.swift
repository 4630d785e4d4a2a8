/// A grammar before compilation: named rules over literals, Unicode code point classes, references, sequences,
/// alternatives and bounded or unbounded repetition. The GBNF parser, the regex parser and the JSON Schema compiler
/// all produce this; `CompiledGrammar` lowers it to bytes.
indirect enum GrammarExpr: Sendable, Equatable {
    /// A literal byte string (UTF-8 of the text).
    case literal([UInt8])
    /// One code point in (or, negated, outside) the ranges.
    case chars([ClosedRange<UInt32>], negated: Bool)
    /// One byte in the ranges (for raw byte classes such as `\xNN` escapes in GBNF).
    case byteRanges([ClosedRange<UInt8>])
    case ref(String)
    case sequence([GrammarExpr])
    case choice([GrammarExpr])
    /// `min` to `max` copies (`max` nil: unbounded).
    case repeated(GrammarExpr, min: Int, max: Int?)

    static let empty = GrammarExpr.sequence([])
    static func text(_ s: String) -> GrammarExpr { .literal(Array(s.utf8)) }
    static func optional(_ e: GrammarExpr) -> GrammarExpr { .repeated(e, min: 0, max: 1) }
    static func star(_ e: GrammarExpr) -> GrammarExpr { .repeated(e, min: 0, max: nil) }
    static func char(_ c: Character) -> GrammarExpr { .text(String(c)) }
}

/// Named rules and the root rule's name.
struct GrammarRules: Sendable {
    var rules: [(name: String, expr: GrammarExpr)] = []
    var root: String

    init(root: String) { self.root = root }

    mutating func add(_ name: String, _ expr: GrammarExpr) { rules.append((name, expr)) }

    func contains(_ name: String) -> Bool { rules.contains { $0.name == name } }
}
