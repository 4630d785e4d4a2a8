// Python's text forms: float repr, str repr, json.dumps string escaping, and the str helpers several
// filters and methods share (strip, splitlines, title, case tests).

/// `repr(float)`: the shortest round-trip digits, fixed notation for 1e-4 <= |x| < 1e16, else `1e+16` style.
func pyFloatRepr(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x < 0 ? "-inf" : "inf" }
    // Swift's description already has the shortest digits; only the layout differs from Python's.
    var text = Substring(x.description)
    var sign = ""
    if text.first == "-" {
        sign = "-"
        text = text.dropFirst()
    }
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exponent = Int(text[text.index(after: e)...]) ?? 0
        text = text[..<e]
    }
    var digits = ""
    var point = text.count
    for (i, c) in text.enumerated() {
        if c == "." { point = i } else { digits.append(c) }
    }
    var decpt = point + exponent
    while digits.first == "0" {
        digits.removeFirst()
        decpt -= 1
    }
    while digits.last == "0" { digits.removeLast() }
    if digits.isEmpty { return sign + "0.0" }
    if decpt > 16 || decpt < -3 {
        var mantissa = String(digits.first!)
        if digits.count > 1 { mantissa += "." + digits.dropFirst() }
        let e = decpt - 1
        let magnitude = String(abs(e))
        return sign + mantissa + (e < 0 ? "e-" : "e+") + (magnitude.count < 2 ? "0" : "") + magnitude
    }
    if decpt <= 0 { return sign + "0." + String(repeating: "0", count: -decpt) + digits }
    if decpt >= digits.count { return sign + digits + String(repeating: "0", count: decpt - digits.count) + ".0" }
    let cut = digits.index(digits.startIndex, offsetBy: decpt)
    return sign + digits[..<cut] + "." + digits[cut...]
}

/// Python's `str.isprintable()` for one code point (used by `repr`).
private func isPrintable(_ s: Unicode.Scalar) -> Bool {
    if s == " " { return true }
    switch s.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
        return false
    default:
        return true
    }
}

private func hexEscape(_ v: UInt32, _ prefix: String, _ width: Int) -> String {
    let h = String(v, radix: 16)
    return prefix + String(repeating: "0", count: max(0, width - h.count)) + h
}

extension String {
    /// Appends `s`, replacing each code point `escape` maps with its text.
    mutating func append(_ s: String, escaping escape: (Unicode.Scalar) -> String?) {
        for c in s.unicodeScalars {
            if let replacement = escape(c) { self += replacement } else { unicodeScalars.append(c) }
        }
    }
}

/// `repr(str)`: single quotes unless the text has `'` and no `"`, Python's escapes.
func pyRepr(_ s: String) -> String {
    let quote: Unicode.Scalar = s.unicodeScalars.contains("'") && !s.unicodeScalars.contains("\"") ? "\"" : "'"
    var out = String(Character(quote))
    out.append(s) { c in
        switch c {
        case quote, "\\": "\\" + String(Character(c))
        case "\t": "\\t"
        case "\n": "\\n"
        case "\r": "\\r"
        default:
            if c.value < 0x20 || c.value == 0x7F || (c.value >= 0x80 && c.value < 0x100 && !isPrintable(c)) {
                hexEscape(c.value, "\\x", 2)
            } else if c.value >= 0x100 && !isPrintable(c) {
                c.value < 0x10000 ? hexEscape(c.value, "\\u", 4) : hexEscape(c.value, "\\U", 8)
            } else {
                nil
            }
        }
    }
    out.unicodeScalars.append(quote)
    return out
}

/// A JSON string literal as `json.dumps` writes it.
func jsonQuote(_ s: String, ensureASCII: Bool, into out: inout String) {
    out.unicodeScalars.append("\"")
    out.append(s) { c in
        switch c {
        case "\"": "\\\""
        case "\\": "\\\\"
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        case "\u{08}": "\\b"
        case "\u{0C}": "\\f"
        default:
            if c.value < 0x20 || (ensureASCII && c.value > 0x7E) {
                c.value > 0xFFFF
                    ? hexEscape(0xD800 + ((c.value - 0x10000) >> 10), "\\u", 4)
                        + hexEscape(0xDC00 + ((c.value - 0x10000) & 0x3FF), "\\u", 4)
                    : hexEscape(c.value, "\\u", 4)
            } else {
                nil
            }
        }
    }
    out.unicodeScalars.append("\"")
}

extension String {
    /// `str.strip(chars)`, `lstrip`, `rstrip`; `chars == nil` strips Python whitespace.
    func pyStrip(_ chars: String?, leading: Bool = true, trailing: Bool = true) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        func strips(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? c.isPythonSpace }
        let scalars = unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        if leading { while start < end && strips(scalars[start]) { start = scalars.index(after: start) } }
        if trailing {
            while end > start {
                let before = scalars.index(before: end)
                if !strips(scalars[before]) { break }
                end = before
            }
        }
        return String(scalars[start..<end])
    }

    /// `str.splitlines()`: Python's line boundaries, terminators dropped, no empty last line.
    func pySplitLines() -> [String] {
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        var previousCR = false
        var pending = false
        for c in unicodeScalars {
            if previousCR && c == "\n" {
                previousCR = false
                continue
            }
            previousCR = false
            switch c.value {
            case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                lines.append(String(current))
                current = String.UnicodeScalarView()
                previousCR = c == "\r"
                pending = false
            default:
                current.append(c)
                pending = true
            }
        }
        if pending { lines.append(String(current)) }
        return lines
    }

    /// `str.title()`: a cased character after an uncased one is title-cased, the rest lower-cased.
    func pyTitle() -> String {
        var out = ""
        var previousCased = false
        for c in unicodeScalars {
            out += previousCased ? c.properties.lowercaseMapping : c.properties.titlecaseMapping
            previousCased = c.isCasedLetter
        }
        return out
    }

    /// `str.capitalize()`: first character title-cased, the rest lower-cased.
    func pyCapitalize() -> String {
        guard let first = unicodeScalars.first else { return "" }
        return first.properties.titlecaseMapping + String(unicodeScalars.dropFirst()).lowercased()
    }

    /// `str.islower()` / `str.isupper()`: has cased characters and none of the other case.
    func pyIsCase(upper: Bool) -> Bool {
        var sawCased = false
        for c in unicodeScalars {
            switch c.properties.generalCategory {
            case .uppercaseLetter, .titlecaseLetter:
                if !upper { return false }
                sawCased = true
            case .lowercaseLetter:
                if upper { return false }
                sawCased = true
            default:
                break
            }
        }
        return sawCased
    }

    var scalarCount: Int { unicodeScalars.count }

    /// Code-point equality (Swift's `==` treats canonically equivalent strings as equal; Python does not).
    func pyEquals(_ other: String) -> Bool { utf8.elementsEqual(other.utf8) }

    /// Code-point ordering, as Python compares strings.
    func pyLess(_ other: String) -> Bool { utf8.lexicographicallyPrecedes(other.utf8) }
}

extension Unicode.Scalar {
    var isCasedLetter: Bool {
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter: return true
        default: return false
        }
    }
}
