/// A pre-tokenizer stage (tokenizer.json `"pre_tokenizer"`): splits text pieces into words, possibly rewriting them.
protocol PreTokenizer: Sendable {
    func preTokenize(_ list: inout PieceList)
    /// When this stage ends with the ByteLevel byte-to-character mapping: the same stage without that mapping, so
    /// the model can work on raw bytes (see `BPEModel.tokenizeRawBytes`). nil otherwise.
    func withoutFinalByteMapping() -> (any PreTokenizer)?
}

extension PreTokenizer {
    func withoutFinalByteMapping() -> (any PreTokenizer)? { nil }
}

/// Builds a pre-tokenizer from its JSON object, by `type`.
func makePreTokenizer(json value: JSONValue, context: String = "tokenizer.json pre_tokenizer") throws -> any PreTokenizer {
    let o = try value.asObject(context)
    let type = try o.typeName(in: context)
    switch type {
    case "Sequence":
        let list = try (o.optional("pretokenizers") ?? .array([])).asArray("\(context) \"pretokenizers\"")
        return PreTokenizerSequence(stages: try list.enumerated().map {
            try makePreTokenizer(json: $0.element, context: "\(context) pretokenizers[\($0.offset)]")
        })
    case "ByteLevel":
        return ByteLevelPreTokenizer(addPrefixSpace: try o.bool("add_prefix_space", default: true, in: context),
                                     useRegex: try o.bool("use_regex", default: true, in: context))
    case "Split":
        guard let pattern = o.optional("pattern") else { throw TokenizerError("\(context) is missing \"pattern\"") }
        let behavior = try SplitBehavior(json: try o.requiredString("behavior", in: context), context: context)
        return SplitPreTokenizer(matcher: try makeSplitMatcher(json: pattern, context: context), behavior: behavior,
                                 invert: try o.bool("invert", default: false, in: context))
    case "Metaspace":
        return try MetaspacePreTokenizer(json: o, context: context)
    case "Digits":
        return DigitsPreTokenizer(individualDigits: try o.bool("individual_digits", default: false, in: context))
    case "Punctuation":
        let behavior = try SplitBehavior(json: try o.optionalString("behavior", in: context) ?? "Isolated",
                                         context: context)
        return PunctuationPreTokenizer(behavior: behavior)
    case "Whitespace":
        return WhitespacePreTokenizer()
    case "WhitespaceSplit":
        return WhitespaceSplitPreTokenizer()
    case "BertPreTokenizer":
        return BertPreTokenizer()
    case "CharDelimiterSplit":
        let delimiter = try o.requiredString("delimiter", in: context)
        guard delimiter.unicodeScalars.count == 1, let scalar = delimiter.unicodeScalars.first else {
            throw TokenizerError("\(context) \"delimiter\" must be a single character")
        }
        return CharDelimiterSplitPreTokenizer(delimiter: scalar)
    default:
        throw TokenizerError("unsupported pre-tokenizer type \"\(type)\" in \(context)")
    }
}

/// `Sequence`: each pre-tokenizer in turn.
struct PreTokenizerSequence: PreTokenizer {
    let stages: [any PreTokenizer]

    func preTokenize(_ list: inout PieceList) {
        for stage in stages { stage.preTokenize(&list) }
    }

    func withoutFinalByteMapping() -> (any PreTokenizer)? {
        guard let last = stages.last, let replaced = last.withoutFinalByteMapping() else { return nil }
        return PreTokenizerSequence(stages: stages.dropLast() + [replaced])
    }
}

/// `ByteLevel`: optional leading space, optional GPT-2 regex split, then each byte becomes its GPT-2 alphabet
/// character.
struct ByteLevelPreTokenizer: PreTokenizer {
    let addPrefixSpace: Bool
    let useRegex: Bool
    var mapBytes = true

    func preTokenize(_ list: inout PieceList) {
        if addPrefixSpace {
            list.transform { p, piece, out in
                if p[piece.start] != 0x20 { out.append(0x20) }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: p[piece.start..<piece.end]))
            }
        }
        if useRegex {
            list.split(behavior: .isolated) { p, start, end, out in
                PatternScanner.gpt2.findMatches(p, start, end, into: &out)
            }
        }
        if mapBytes {
            let table = ByteLevelAlphabet.utf8ForByte
            list.transform { p, piece, out in
                for i in piece.start..<piece.end { out.append(contentsOf: table[Int(p[i])]) }
            }
        }
    }

    func withoutFinalByteMapping() -> (any PreTokenizer)? {
        var copy = self
        copy.mapBytes = false
        return copy
    }
}

/// `Split`: a regex or string pattern with a delimiter behaviour, optionally inverted.
struct SplitPreTokenizer: PreTokenizer {
    let matcher: any SplitMatcher
    let behavior: SplitBehavior
    let invert: Bool

    func preTokenize(_ list: inout PieceList) {
        list.split(behavior: behavior, invert: invert) { p, start, end, out in
            matcher.findMatches(p, start, end, into: &out)
        }
    }
}

/// `Metaspace`: spaces become the replacement character (U+2581 by default), which is prepended according to
/// `prepend_scheme` (always / first piece of the input only / never), then optionally split before each one.
struct MetaspacePreTokenizer: PreTokenizer {
    enum PrependScheme: Sendable { case always, first, never }
    let replacement: [UInt8]
    let replacementScalar: Unicode.Scalar
    let prependScheme: PrependScheme
    let split: Bool

    init(json o: JSONObject, context: String) throws {
        (replacementScalar, replacement, prependScheme, split) = try MetaspacePreTokenizer.parse(o, context: context)
    }

    /// Shared with the Metaspace decoder.
    static func parse(_ o: JSONObject, context: String) throws
        -> (Unicode.Scalar, [UInt8], PrependScheme, Bool) {
        let r = try o.optionalString("replacement", in: context) ?? "\u{2581}"
        guard r.unicodeScalars.count == 1, let scalar = r.unicodeScalars.first else {
            throw TokenizerError("\(context) \"replacement\" must be a single character")
        }
        var scheme: PrependScheme = .always
        if let s = try o.optionalString("prepend_scheme", in: context) {
            switch s {
            case "always": scheme = .always
            case "first": scheme = .first
            case "never": scheme = .never
            default: throw TokenizerError("\(context) has unknown prepend_scheme \"\(s)\"")
            }
        }
        if let add = o.optional("add_prefix_space"), try add.asBool("\(context) \"add_prefix_space\"") == false {
            if o.optional("prepend_scheme") != nil && scheme != .never {
                throw TokenizerError("\(context) add_prefix_space false contradicts prepend_scheme")
            }
            scheme = .never
        }
        return (scalar, Array(r.utf8), scheme, try o.bool("split", default: true, in: context))
    }

    func preTokenize(_ list: inout PieceList) {
        let rep = replacement
        let scheme = prependScheme
        list.transform { p, piece, out in
            let text = UnsafeBufferPointer(rebasing: p[piece.start..<piece.end])
            let startsWithReplacement = text.count >= rep.count && text.prefix(rep.count).elementsEqual(rep)
            let startsWithSpace = text.first == 0x20
            if !startsWithReplacement && !startsWithSpace
                && (scheme == .always || (scheme == .first && piece.atOrigin)) {
                out.append(contentsOf: rep)
            }
            for b in text {
                if b == 0x20 { out.append(contentsOf: rep) } else { out.append(b) }
            }
        }
        if split { list.split(character: replacementScalar, behavior: .mergedWithNext) }
    }
}

/// `Digits`: numbers split from the rest, each digit alone when `individual_digits`.
struct DigitsPreTokenizer: PreTokenizer {
    let individualDigits: Bool
    func preTokenize(_ list: inout PieceList) {
        list.split(characterFlags: CharClass.number, behavior: individualDigits ? .isolated : .contiguous)
    }
}

/// `Punctuation`: each punctuation character is a delimiter.
struct PunctuationPreTokenizer: PreTokenizer {
    let behavior: SplitBehavior
    func preTokenize(_ list: inout PieceList) {
        list.split(characterFlags: CharClass.punctuation, behavior: behavior)
    }
}

/// `Whitespace`: the regex `\w+|[^\w\s]+`; whitespace is dropped.
struct WhitespacePreTokenizer: PreTokenizer {
    func preTokenize(_ list: inout PieceList) {
        list.split(behavior: .removed, invert: true) { p, start, end, out in
            var i = start
            while i < end {
                let (c, n) = decodeScalar(p, i)
                let f = CharClass.flags(c)
                if f & CharClass.whitespace != 0 && f & CharClass.word == 0 {
                    i += n
                    continue
                }
                let isWord = f & CharClass.word != 0
                var j = i + n
                while j < end {
                    let (c2, n2) = decodeScalar(p, j)
                    let f2 = CharClass.flags(c2)
                    let word2 = f2 & CharClass.word != 0
                    if word2 != isWord || (!word2 && f2 & CharClass.whitespace != 0) { break }
                    j += n2
                }
                out.append(i..<j)
                i = j
            }
        }
    }
}

/// `WhitespaceSplit`: splits on whitespace, which is dropped.
struct WhitespaceSplitPreTokenizer: PreTokenizer {
    func preTokenize(_ list: inout PieceList) {
        list.split(characterFlags: CharClass.whitespace, behavior: .removed)
    }
}

/// `BertPreTokenizer`: whitespace split, then each punctuation character alone.
struct BertPreTokenizer: PreTokenizer {
    func preTokenize(_ list: inout PieceList) {
        list.split(characterFlags: CharClass.whitespace, behavior: .removed)
        list.split(characterFlags: CharClass.punctuation, behavior: .isolated)
    }
}

/// `CharDelimiterSplit`: splits on one character, which is dropped.
struct CharDelimiterSplitPreTokenizer: PreTokenizer {
    let delimiter: Unicode.Scalar
    func preTokenize(_ list: inout PieceList) {
        list.split(character: delimiter, behavior: .removed)
    }
}
