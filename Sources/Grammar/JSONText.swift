#if canImport(Tokenization)   // the fuzz build compiles Tokenization's JSON files into this module
import Tokenization
#endif

/// JSON's lexical pieces as grammar expressions, and JSON serialization of values for `enum`/`const`.
enum JSONText {
    /// Optional whitespace between tokens, bounded so a model cannot loop on it (as llama.cpp's schema converter).
    static let space = GrammarExpr.choice([
        .empty, .text(" "),
        .sequence([.repeated(.text("\n"), min: 1, max: 2), .repeated(.chars([0x20...0x20, 0x09...0x09], negated: false),
                                                                         min: 0, max: 20)]),
    ])

    /// One character of string content in JSON text: unescaped (no quote, backslash or control) or an escape.
    static let stringCharacter = GrammarExpr.choice([
        .chars([0x00...0x1F, 0x22...0x22, 0x5C...0x5C], negated: true),
        .sequence([.text("\\"), .choice([.chars([0x22...0x22, 0x5C...0x5C, 0x2F...0x2F, 0x62...0x62, 0x66...0x66,
                                                  0x6E...0x6E, 0x72...0x72, 0x74...0x74], negated: false),
                                          .sequence([.text("u"), .repeated(hexDigit, min: 4, max: 4)])])]),
    ])

    static let hexDigit = GrammarExpr.chars([0x30...0x39, 0x41...0x46, 0x61...0x66], negated: false)
    static let digit = GrammarExpr.chars([0x30...0x39], negated: false)

    /// Integral part with at most 16 digits, as llama.cpp bounds it (no model loops on digits forever).
    static let integer = GrammarExpr.sequence([
        .optional(.text("-")),
        .choice([.text("0"), .sequence([.chars([0x31...0x39], negated: false), .repeated(digit, min: 0, max: 15)])]),
    ])

    /// A number whose value a Double holds: at most 16 integral digits and a two-digit exponent (below 1e116; a
    /// four-digit exponent let a sampled "-693800842331000E2424" through, which JSON parsers refuse as out of range).
    static let number = GrammarExpr.sequence([
        integer,
        .optional(.sequence([.text("."), .repeated(digit, min: 1, max: 16)])),
        .optional(.sequence([.chars([0x45...0x45, 0x65...0x65], negated: false),
                             .optional(.chars([0x2B...0x2B, 0x2D...0x2D], negated: false)),
                             .repeated(digit, min: 1, max: 2)])),
    ])

    /// The JSON encodings of the characters in `set` (normalized ranges): plain where JSON allows, escaped where
    /// it must be (quote, backslash, control characters).
    static func characterClass(_ set: [ClosedRange<UInt32>]) -> GrammarExpr {
        var plain = set
        plain = UTF8Ranges.complement(UTF8Ranges.normalize(UTF8Ranges.complement(plain) + [0...0x1F, 0x22...0x22, 0x5C...0x5C]))
        var options: [GrammarExpr] = plain.isEmpty ? [] : [.chars(plain, negated: false)]
        for special in [UInt32](0...0x1F) + [0x22, 0x5C] where set.contains(where: { $0.contains(special) }) {
            options.append(.literal(escape(special)))
        }
        return options.count == 1 ? options[0] : .choice(options)
    }

    static func escape(_ c: UInt32) -> [UInt8] {
        switch c {
        case 0x22: return Array("\\\"".utf8)
        case 0x5C: return Array("\\\\".utf8)
        case 0x0A: return Array("\\n".utf8)
        case 0x0D: return Array("\\r".utf8)
        case 0x09: return Array("\\t".utf8)
        case 0x08: return Array("\\b".utf8)
        case 0x0C: return Array("\\f".utf8)
        default:
            let hex = String(c, radix: 16)
            return Array(("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
        }
    }

    /// A string as JSON text (what `json.dumps` with ensure_ascii=False writes).
    static func quoted(_ s: String) -> [UInt8] {
        var out: [UInt8] = [0x22]
        for scalar in s.unicodeScalars {
            let v = scalar.value
            if v < 0x20 || v == 0x22 || v == 0x5C { out += escape(v) } else { appendScalarUTF8(v, to: &out) }
        }
        out.append(0x22)
        return out
    }

    /// A value as compact JSON text (for `enum` and `const`).
    static func serialize(_ value: JSONValue) -> [UInt8] {
        switch value {
        case .null: return Array("null".utf8)
        case .bool(let b): return Array((b ? "true" : "false").utf8)
        case .int(let i): return Array(String(i).utf8)
        case .double(let d):
            if let i = Int(exactly: d) { return Array(String(i).utf8) }
            return Array("\(d)".utf8)
        case .string(let s): return quoted(s)
        case .array(let items):
            return [0x5B] + items.map(serialize).joined(separator: [0x2C]) + [0x5D]
        case .object(let o):
            return [0x7B] + o.members.map { quoted($0.key) + [0x3A] + serialize($0.value) }.joined(separator: [0x2C])
                + [0x7D]
        }
    }
}
