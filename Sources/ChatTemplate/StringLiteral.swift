// String literal escapes as jinja decodes them: `value.encode("ascii", "backslashreplace").decode("unicode-escape")`.

enum StringLiteral {
    /// Decodes the body of a quoted literal (quotes removed, escapes still in place).
    static func unescape(_ raw: [Unicode.Scalar], line: Int) throws -> String {
        // Non-ASCII characters go through backslashreplace first, so `\` followed by one yields the escape text.
        var out = String.UnicodeScalarView()
        var i = 0
        func hex(_ count: Int, _ what: String) throws -> UInt32 {
            var v: UInt32 = 0
            for k in 0..<count {
                guard i + k < raw.count, let d = hexDigit(raw[i + k]) else {
                    throw ChatTemplateError.syntax("truncated \(what) escape in string literal", line)
                }
                v = v * 16 + d
            }
            i += count
            return v
        }
        func append(_ v: UInt32) throws {
            guard let s = Unicode.Scalar(v) else {
                throw ChatTemplateError.syntax("string literal escape \\u{\(String(v, radix: 16))} is not a Unicode scalar", line)
            }
            out.append(s)
        }
        while i < raw.count {
            let c = raw[i]
            i += 1
            guard c == "\\" else { out.append(c); continue }
            guard i < raw.count else { throw ChatTemplateError.syntax("\\ at end of string literal", line) }
            let e = raw[i]
            i += 1
            switch e {
            case "\n": break
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var v = e.value - 0x30
                var n = 1
                while n < 3, i < raw.count, raw[i].value >= 0x30, raw[i].value <= 0x37 {
                    v = v * 8 + raw[i].value - 0x30
                    i += 1
                    n += 1
                }
                try append(v)
            case "x": try append(try hex(2, "\\xXX"))
            case "u": try append(try hex(4, "\\uXXXX"))
            case "U": try append(try hex(8, "\\UXXXXXXXX"))
            case "N":
                throw ChatTemplateError.unsupported("\\N{...} named escape in string literal", line)
            default:
                out.append("\\")
                if e.value < 0x80 {
                    out.append(e)
                } else {
                    // The backslashreplace form of the character, kept as text (`\é` renders as `\xe9`).
                    let digits = String(e.value, radix: 16)
                    let (prefix, width) = e.value < 0x100 ? ("x", 2) : e.value < 0x10000 ? ("u", 4) : ("U", 8)
                    out.append(contentsOf: (prefix + String(repeating: "0", count: width - digits.count) + digits).unicodeScalars)
                }
            }
        }
        return String(out)
    }

    private static func hexDigit(_ s: Unicode.Scalar) -> UInt32? {
        switch s.value {
        case 0x30...0x39: return s.value - 0x30
        case 0x41...0x46: return s.value - 0x41 + 10
        case 0x61...0x66: return s.value - 0x61 + 10
        default: return nil
        }
    }
}
