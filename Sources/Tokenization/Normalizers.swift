import Foundation

/// A normalizer stage (tokenizer.json `"normalizer"`): rewrites the text of one piece.
protocol Normalizer: Sendable {
    func normalize(_ text: [UInt8]) -> [UInt8]
}

/// Builds a normalizer from its JSON object, by `type`.
func makeNormalizer(json value: JSONValue, context: String = "tokenizer.json normalizer") throws -> any Normalizer {
    let o = try value.asObject(context)
    let type = try o.typeName(in: context)
    switch type {
    case "Sequence":
        let list = try (o.optional("normalizers") ?? .array([])).asArray("\(context) \"normalizers\"")
        return NormalizerSequence(stages: try list.enumerated().map {
            try makeNormalizer(json: $0.element, context: "\(context) normalizers[\($0.offset)]")
        })
    case "NFC": return UnicodeNormalizer(form: .nfc)
    case "NFD": return UnicodeNormalizer(form: .nfd)
    case "NFKC": return UnicodeNormalizer(form: .nfkc)
    case "NFKD": return UnicodeNormalizer(form: .nfkd)
    case "Lowercase": return LowercaseNormalizer()
    case "StripAccents": return StripAccentsNormalizer()
    case "Strip":
        return StripNormalizer(left: try o.bool("strip_left", default: false, in: context),
                               right: try o.bool("strip_right", default: false, in: context))
    case "Prepend":
        return PrependNormalizer(prefix: Array(try o.requiredString("prepend", in: context).utf8))
    case "Replace":
        guard let pattern = o.optional("pattern") else { throw TokenizerError("\(context) is missing \"pattern\"") }
        return ReplaceNormalizer(pattern: try ReplacePattern(json: pattern, context: context),
                                 content: Array(try o.requiredString("content", in: context).utf8))
    default:
        throw TokenizerError("unsupported normalizer type \"\(type)\" in \(context)")
    }
}

/// `Sequence`: each normalizer in turn.
struct NormalizerSequence: Normalizer {
    let stages: [any Normalizer]
    func normalize(_ text: [UInt8]) -> [UInt8] {
        stages.reduce(text) { $1.normalize($0) }
    }
}

/// `NFC`, `NFD`, `NFKC`, `NFKD` (Foundation's Unicode normalization; ASCII is left alone without a round trip).
struct UnicodeNormalizer: Normalizer {
    enum Form: Sendable { case nfc, nfd, nfkc, nfkd }
    let form: Form

    func normalize(_ text: [UInt8]) -> [UInt8] {
        // ASCII is invariant under every form; below U+0300 NFC is too (no composition can start there).
        var maxByte: UInt8 = 0
        for b in text { maxByte |= b }
        if maxByte < 0x80 { return text }
        if form == .nfc, !text.contains(where: { $0 >= 0xCC }) { return text }   // every scalar < U+0300
        let s = String(decoding: text, as: UTF8.self)
        let result: String
        switch form {
        case .nfc: result = s.precomposedStringWithCanonicalMapping
        case .nfd: result = s.decomposedStringWithCanonicalMapping
        case .nfkc: result = s.precomposedStringWithCompatibilityMapping
        case .nfkd: result = s.decomposedStringWithCompatibilityMapping
        }
        return Array(result.utf8)
    }
}

/// `Lowercase`: each character's full lowercase mapping (Rust `char::to_lowercase`, no context rules).
struct LowercaseNormalizer: Normalizer {
    func normalize(_ text: [UInt8]) -> [UInt8] {
        if !text.contains(where: { $0 >= 0x80 || ($0 >= 0x41 && $0 <= 0x5A) }) { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for scalar in String(decoding: text, as: UTF8.self).unicodeScalars {
            let v = scalar.value
            if v < 0x80 {
                out.append(v >= 0x41 && v <= 0x5A ? UInt8(v + 0x20) : UInt8(v))
            } else {
                out.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
            }
        }
        return out
    }
}

/// `StripAccents`: removes combining marks (general category M).
struct StripAccentsNormalizer: Normalizer {
    func normalize(_ text: [UInt8]) -> [UInt8] {
        if !text.contains(where: { $0 >= 0x80 }) { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for scalar in String(decoding: text, as: UTF8.self).unicodeScalars
        where CharClass.flags(scalar.value) & CharClass.mark == 0 {
            appendUTF8(scalar, to: &out)
        }
        return out
    }
}

/// `Strip`: removes leading and/or trailing whitespace (White_Space).
struct StripNormalizer: Normalizer {
    let left: Bool
    let right: Bool

    func normalize(_ text: [UInt8]) -> [UInt8] {
        text.withUnsafeBufferPointer { p in
            var start = 0
            var end = p.count
            if left {
                while start < end {
                    let (c, n) = decodeScalar(p, start)
                    guard CharClass.flags(c) & CharClass.whitespace != 0 else { break }
                    start += n
                }
            }
            if right {
                while end > start {
                    let s = previousScalarStart(p, end)
                    let (c, _) = decodeScalar(p, s)
                    guard CharClass.flags(c) & CharClass.whitespace != 0 else { break }
                    end = s
                }
            }
            return Array(p[start..<end])
        }
    }
}

/// `Prepend`: adds a prefix to non-empty text.
struct PrependNormalizer: Normalizer {
    let prefix: [UInt8]
    func normalize(_ text: [UInt8]) -> [UInt8] {
        text.isEmpty ? text : prefix + text
    }
}

/// `Replace`: every match of a string or regex pattern becomes `content`.
struct ReplaceNormalizer: Normalizer {
    let pattern: ReplacePattern
    let content: [UInt8]
    func normalize(_ text: [UInt8]) -> [UInt8] {
        pattern.replaceAll(in: text, with: content)
    }
}
