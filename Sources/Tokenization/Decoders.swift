/// A decoder stage (tokenizer.json `"decoder"`): turns token strings back into text. Like Hugging Face's
/// `decode_chain`, each stage maps a list of strings to a list of strings; the results are concatenated.
protocol TokenDecoder: Sendable {
    func decodeChain(_ tokens: [String]) -> [String]
    /// The streaming form of this stage (see StreamingDecoder.swift); nil when it cannot stream exactly.
    func makeStreamStage(inputIsText: Bool) -> (any StreamStage)?
}

/// Builds a decoder from its JSON object, by `type`.
func makeDecoder(json value: JSONValue, context: String = "tokenizer.json decoder") throws -> any TokenDecoder {
    let o = try value.asObject(context)
    let type = try o.typeName(in: context)
    switch type {
    case "Sequence":
        let list = try (o.optional("decoders") ?? .array([])).asArray("\(context) \"decoders\"")
        return DecoderSequence(stages: try list.enumerated().map {
            try makeDecoder(json: $0.element, context: "\(context) decoders[\($0.offset)]")
        })
    case "ByteLevel": return ByteLevelDecoder()
    case "ByteFallback": return ByteFallbackDecoder()
    case "Fuse": return FuseDecoder()
    case "Metaspace":
        let (scalar, _, scheme, _) = try MetaspacePreTokenizer.parse(o, context: context)
        return MetaspaceDecoder(replacement: scalar, prependScheme: scheme)
    case "Replace":
        guard let pattern = o.optional("pattern") else { throw TokenizerError("\(context) is missing \"pattern\"") }
        return ReplaceDecoder(pattern: try ReplacePattern(json: pattern, context: context),
                              content: Array(try o.requiredString("content", in: context).utf8))
    case "Strip":
        let content = try o.requiredString("content", in: context)
        guard content.unicodeScalars.count == 1, let scalar = content.unicodeScalars.first else {
            throw TokenizerError("\(context) \"content\" must be a single character")
        }
        let start = try o.int("start", default: 0, in: context)
        let stop = try o.int("stop", default: 0, in: context)
        guard start >= 0, stop >= 0 else { throw TokenizerError("\(context) \"start\" and \"stop\" must not be negative") }
        return StripDecoder(content: scalar, start: start, stop: stop)
    case "BPEDecoder":
        return BPESuffixDecoder(suffix: try o.optionalString("suffix", in: context) ?? "</w>")
    default:
        throw TokenizerError("unsupported decoder type \"\(type)\" in \(context)")
    }
}

/// `Sequence`: each decoder in turn.
struct DecoderSequence: TokenDecoder {
    let stages: [any TokenDecoder]
    func decodeChain(_ tokens: [String]) -> [String] {
        stages.reduce(tokens) { $1.decodeChain($0) }
    }
}

/// `ByteLevel`: each token's characters back to bytes (a token with a character outside the GPT-2 alphabet
/// contributes its own UTF-8), then lossy UTF-8 decoding of all bytes together. Produces one string.
struct ByteLevelDecoder: TokenDecoder {
    static func appendBytes(of token: String, to out: inout [UInt8]) {
        let mark = out.count
        for s in token.unicodeScalars {
            guard let b = ByteLevelAlphabet.byte(for: s.value) else {
                out.removeSubrange(mark...)
                out.append(contentsOf: token.utf8)
                return
            }
            out.append(b)
        }
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        var bytes: [UInt8] = []
        for t in tokens { ByteLevelDecoder.appendBytes(of: t, to: &bytes) }
        return [UTF8Repairer.decode(bytes)]
    }
}

/// `ByteFallback`: runs of `<0xNN>` tokens become their bytes' UTF-8 text, or one U+FFFD per byte when the run is
/// not valid UTF-8.
struct ByteFallbackDecoder: TokenDecoder {
    /// The byte of a `<0xNN>` token (Rust `u8::from_str_radix` on the two characters, so `+F` counts too).
    static func byteValue(_ token: String) -> UInt8? {
        let u = token.utf8
        guard u.count == 6 else { return nil }
        var i = u.startIndex
        func next() -> UInt8 { defer { i = u.index(after: i) }; return u[i] }
        guard next() == 0x3C, next() == 0x30, next() == 0x78 else { return nil }
        let c3 = next(), c4 = next()
        guard next() == 0x3E else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        if c3 == 0x2B { return hex(c4) }
        guard let hi = hex(c3), let lo = hex(c4) else { return nil }
        return hi << 4 | lo
    }

    /// The tokens a finished run of bytes becomes.
    static func flush(_ run: [UInt8], into out: inout [String]) {
        guard !run.isEmpty else { return }
        if let s = String(validating: run, as: UTF8.self) {
            out.append(s)
        } else {
            for _ in run { out.append("\u{FFFD}") }
        }
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        var out: [String] = []
        var run: [UInt8] = []
        for t in tokens {
            if let b = ByteFallbackDecoder.byteValue(t) {
                run.append(b)
            } else {
                ByteFallbackDecoder.flush(run, into: &out)
                run.removeAll()
                out.append(t)
            }
        }
        ByteFallbackDecoder.flush(run, into: &out)
        return out
    }
}

/// `Fuse`: all tokens into one string.
struct FuseDecoder: TokenDecoder {
    func decodeChain(_ tokens: [String]) -> [String] { [tokens.joined()] }
}

/// `Metaspace`: the replacement character becomes a space; in the first token it is dropped (unless the
/// prepend scheme is `never`), which removes the space Metaspace prepended when encoding.
struct MetaspaceDecoder: TokenDecoder {
    let replacement: Unicode.Scalar
    let prependScheme: MetaspacePreTokenizer.PrependScheme

    func decode(_ token: String, isFirst: Bool) -> String {
        guard token.unicodeScalars.contains(replacement) else { return token }
        let drop = isFirst && prependScheme != .never
        var out = String.UnicodeScalarView()
        for s in token.unicodeScalars {
            if s == replacement {
                if !drop { out.append(" ") }
            } else {
                out.append(s)
            }
        }
        return String(out)
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { decode($0.element, isFirst: $0.offset == 0) }
    }
}

/// `Replace`: in each token, every match of the pattern becomes `content`.
struct ReplaceDecoder: TokenDecoder {
    let pattern: ReplacePattern
    let content: [UInt8]
    func decode(_ token: String) -> String {
        if case .literal(let m) = pattern, let first = m.literal.first, !token.utf8.contains(first) { return token }
        return String(decoding: pattern.replaceAll(in: Array(token.utf8), with: content), as: UTF8.self)
    }

    func decodeChain(_ tokens: [String]) -> [String] { tokens.map(decode) }
}

/// `Strip`: removes up to `start` leading and `stop` trailing `content` characters from each token.
struct StripDecoder: TokenDecoder {
    let content: Unicode.Scalar
    let start: Int
    let stop: Int

    func strip(_ token: String) -> String {
        guard let first = token.unicodeScalars.first, let last = token.unicodeScalars.last,
              (start > 0 && first == content) || (stop > 0 && last == content) else { return token }
        let scalars = Array(token.unicodeScalars)
        var startCut = 0
        for (i, c) in scalars.prefix(start).enumerated() {
            guard c == content else { break }
            startCut = i + 1
        }
        var stopCut = scalars.count
        for i in 0..<min(stop, scalars.count) {
            let index = scalars.count - i - 1
            guard scalars[index] == content else { break }
            stopCut = index
        }
        guard startCut < stopCut else { return "" }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[startCut..<stopCut])
        return String(view)
    }

    func decodeChain(_ tokens: [String]) -> [String] { tokens.map(strip) }
}

/// `BPEDecoder`: the end-of-word suffix becomes a space (nothing in the last token).
struct BPESuffixDecoder: TokenDecoder {
    let suffix: String
    func decode(_ token: String, isLast: Bool) -> String {
        guard !suffix.isEmpty else { return token }
        let replaced = LiteralMatcher(Array(suffix.utf8)).replaceAll(in: Array(token.utf8),
                                                                    with: isLast ? [] : [0x20])
        return String(decoding: replaced, as: UTF8.self)
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { decode($0.element, isLast: $0.offset == tokens.count - 1) }
    }
}
