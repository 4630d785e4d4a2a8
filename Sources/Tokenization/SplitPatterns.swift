/// Finds the delimiter matches of a Split pattern inside one piece: non-overlapping ranges, in order.
protocol SplitMatcher: Sendable {
    func findMatches(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into out: inout [Range<Int>])
}

/// Builds the matcher for a `{"Regex": ...}` or `{"String": ...}` pattern: a hand-written scanner when the regex
/// is an alternation of the pieces the GPT-2, Llama-3 and Qwen2 patterns are made of (exact onig semantics,
/// linear time), otherwise NSRegularExpression.
func makeSplitMatcher(json value: JSONValue, context: String) throws -> any SplitMatcher {
    let o = try value.asObject("\(context) \"pattern\"")
    if let s = o.optional("String") {
        return LiteralMatcher(Array(try s.asString("\(context) pattern \"String\"").utf8))
    }
    if let r = o.optional("Regex") {
        let pattern = try r.asString("\(context) pattern \"Regex\"")
        if let scanner = PatternScanner(pattern: pattern) { return scanner }
        return try RegexMatcher(pattern: pattern, context: context)
    }
    throw TokenizerError("\(context) pattern must have a \"String\" or \"Regex\" member")
}

/// Matches a literal byte string (leftmost, non-overlapping). An empty literal matches nothing.
struct LiteralMatcher: SplitMatcher {
    let literal: [UInt8]

    init(_ literal: [UInt8]) { self.literal = literal }

    func findMatches(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into out: inout [Range<Int>]) {
        let n = literal.count
        guard n > 0 else { return }
        let first = literal[0]
        var i = start
        literal.withUnsafeBufferPointer { lit in
            while i + n <= end {
                if p[i] == first && bytesEqual(p.baseAddress! + i, lit.baseAddress!, n) {
                    out.append(i..<(i + n))
                    i += n
                } else {
                    i += 1
                }
            }
        }
    }
}

/// One alternative of a recognised split regex.
enum PatternAtom: Sendable, Equatable {
    /// A literal such as `'s`.
    case literal([UInt8])
    /// `(?i:'s|'t|...)`: ASCII literals matched with Unicode simple case folding (so `ſ` matches `s`).
    case caseInsensitiveLiterals([[UInt8]])
    /// `[^\r\n\p{L}\p{N}]?\p{L}+`
    case optionalNonLetterThenLetters
    /// ` ?\p{L}+`
    case optionalSpaceThenLetters
    /// `\p{N}{1,max}` (`\p{N}` is max 1, `\p{N}+` is unbounded)
    case numbers(max: Int)
    /// ` ?\p{N}+`
    case optionalSpaceThenNumbers
    /// ` ?[^\s\p{L}\p{N}]+` and, with trailingNewlines, ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    case optionalSpaceThenOthers(trailingNewlines: Bool)
    /// `\s*[\r\n]+`
    case whitespaceThenNewlines
    /// `\s+(?!\S)`
    case whitespaceNotBeforeNonSpace
    /// `\s+`
    case whitespace

    static let known: [String: PatternAtom] = [
        #"[^\r\n\p{L}\p{N}]?\p{L}+"#: .optionalNonLetterThenLetters,
        #" ?\p{L}+"#: .optionalSpaceThenLetters,
        #"\p{N}"#: .numbers(max: 1),
        #"\p{N}+"#: .numbers(max: Int.max),
        #" ?\p{N}+"#: .optionalSpaceThenNumbers,
        #" ?[^\s\p{L}\p{N}]+[\r\n]*"#: .optionalSpaceThenOthers(trailingNewlines: true),
        #" ?[^\s\p{L}\p{N}]+"#: .optionalSpaceThenOthers(trailingNewlines: false),
        #"\s*[\r\n]+"#: .whitespaceThenNewlines,
        #"\s+(?!\S)"#: .whitespaceNotBeforeNonSpace,
        #"\s+"#: .whitespace,
    ]
}

/// The GPT-2 (`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`), Llama-3 and Qwen2
/// split regexes, and any other alternation of the same atoms, run as a scanner over UTF-8 with the semantics of
/// onig's backtracking: at each position the first alternative that matches wins. Linear time.
struct PatternScanner: SplitMatcher {
    let atoms: [PatternAtom]

    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let gpt2 = PatternScanner(pattern: gpt2Pattern)!

    /// nil when the pattern is not an alternation of known atoms.
    init?(pattern: String) {
        guard let alternatives = PatternScanner.splitAlternatives(Array(pattern.unicodeScalars)) else { return nil }
        var atoms: [PatternAtom] = []
        for alternative in alternatives {
            guard let atom = PatternScanner.atom(for: alternative) else { return nil }
            atoms.append(atom)
        }
        guard !atoms.isEmpty else { return nil }
        self.atoms = atoms
    }

    /// Splits at top-level `|`; nil on unbalanced brackets.
    private static func splitAlternatives(_ s: [Unicode.Scalar]) -> [String]? {
        var result: [String] = []
        var current = String.UnicodeScalarView()
        var depth = 0
        var inClass = false
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                current.append(c)
                if i + 1 < s.count { current.append(s[i + 1]) }
                i += 2
                continue
            }
            if inClass {
                if c == "]" { inClass = false }
            } else if c == "[" {
                inClass = true
            } else if c == "(" {
                depth += 1
            } else if c == ")" {
                depth -= 1
                if depth < 0 { return nil }
            } else if c == "|" && depth == 0 {
                result.append(String(current))
                current = String.UnicodeScalarView()
                i += 1
                continue
            }
            current.append(c)
            i += 1
        }
        guard depth == 0, !inClass else { return nil }
        result.append(String(current))
        return result
    }

    private static let metacharacters = Set("\\^$.|?*+()[]{}".unicodeScalars)

    private static func isPlainLiteral(_ s: String) -> Bool {
        !s.isEmpty && !s.unicodeScalars.contains { metacharacters.contains($0) }
    }

    private static func atom(for alternative: String) -> PatternAtom? {
        if let known = PatternAtom.known[alternative] { return known }
        if isPlainLiteral(alternative) { return .literal(Array(alternative.utf8)) }
        if alternative.hasPrefix("(?i:"), alternative.hasSuffix(")") {
            let inner = String(alternative.dropFirst(4).dropLast())
            guard let parts = splitAlternatives(Array(inner.unicodeScalars)) else { return nil }
            guard parts.allSatisfy({ isPlainLiteral($0) && $0.unicodeScalars.allSatisfy(\.isASCII) }) else { return nil }
            return .caseInsensitiveLiterals(parts.map { Array($0.utf8) })
        }
        // \p{N}{1,K}
        if alternative.hasPrefix(#"\p{N}{1,"#), alternative.hasSuffix("}"),
           let k = Int(alternative.dropFirst(8).dropLast()), k >= 1 {
            return .numbers(max: k)
        }
        return nil
    }

    func findMatches(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into out: inout [Range<Int>]) {
        var state = ScanState(p: p, end: end)
        let table = state.table
        var i = start
        outer: while i < end {
            let (c, n) = decodeScalar(p, i)
            let f = CharClass.flags(c, table: table)
            for atom in atoms {
                if let e = state.match(atom, at: i, scalar: c, length: n, flags: f) {
                    out.append(i..<e)
                    i = e
                    continue outer
                }
            }
            i += n
        }
    }
}

/// Scanner state for one piece: the buffer and a memo of the current whitespace run (so alternatives that fail
/// inside a long run do not rescan it).
private struct ScanState {
    let p: UnsafeBufferPointer<UInt8>
    let end: Int
    let table = CharClass.bmpTable
    var runStart = -1
    var runEnd = -1
    var runLastNewline = -1   // start of the last \r or \n in the run, or -1

    init(p: UnsafeBufferPointer<UInt8>, end: Int) {
        self.p = p
        self.end = end
    }

    @inline(__always)
    func flags(at i: Int) -> (UInt8, Int) {
        let (c, n) = decodeScalar(p, i)
        return (CharClass.flags(c, table: table), n)
    }

    private static let other: UInt8 = CharClass.letter | CharClass.number | CharClass.whitespace

    /// End of the run of characters whose flags intersect `mask`, from `i`.
    @inline(__always)
    func runEnd(from i: Int, mask: UInt8, limit: Int = .max) -> Int {
        var j = i
        var count = 0
        while j < end && count < limit {
            let (f, n) = flags(at: j)
            if f & mask == 0 { break }
            j += n
            count += 1
        }
        return j
    }

    /// End of the run of "other" characters (not whitespace, letter or number) from `i`.
    @inline(__always)
    func othersEnd(from i: Int) -> Int {
        var j = i
        while j < end {
            let (f, n) = flags(at: j)
            if f & ScanState.other != 0 { break }
            j += n
        }
        return j
    }

    /// The whitespace run containing `i` (which must be whitespace): its end and its last newline at or after `i`.
    mutating func whitespaceRun(from i: Int) -> (end: Int, lastNewline: Int) {
        if !(runStart <= i && i < runEnd) {
            runStart = i
            runLastNewline = -1
            var j = i
            while j < end {
                let (f, n) = flags(at: j)
                if f & CharClass.whitespace == 0 { break }
                if f & CharClass.newline != 0 { runLastNewline = j }
                j += n
            }
            runEnd = j
        }
        return (runEnd, runLastNewline >= i ? runLastNewline : -1)
    }

    @inline(__always)
    func literalMatches(_ literal: [UInt8], at i: Int) -> Bool {
        guard i + literal.count <= end else { return false }
        for (k, b) in literal.enumerated() where p[i + k] != b { return false }
        return true
    }

    /// Case-insensitive match of an ASCII literal: Unicode simple case folding, so s also matches S and U+017F,
    /// k also matches K and U+212A.
    func caseInsensitiveMatch(_ literal: [UInt8], at i: Int) -> Int? {
        var j = i
        for b in literal {
            guard j < end else { return nil }
            let (c, n) = decodeScalar(p, j)
            let lower = b | 0x20
            let isLetter = lower >= 0x61 && lower <= 0x7A
            if c < 0x80 {
                let cb = UInt8(c)
                if isLetter ? (cb | 0x20) != lower : cb != b { return nil }
            } else if !(lower == 0x73 && c == 0x17F) && !(lower == 0x6B && c == 0x212A) {
                return nil
            }
            j += n
        }
        return j
    }

    mutating func match(_ atom: PatternAtom, at i: Int, scalar c: UInt32, length n: Int, flags f: UInt8) -> Int? {
        switch atom {
        case .literal(let literal):
            return literalMatches(literal, at: i) ? i + literal.count : nil
        case .caseInsensitiveLiterals(let literals):
            for literal in literals {
                if let e = caseInsensitiveMatch(literal, at: i) { return e }
            }
            return nil
        case .optionalNonLetterThenLetters:
            if f & CharClass.letter != 0 { return runEnd(from: i + n, mask: CharClass.letter) }
            if f & (CharClass.newline | CharClass.letter | CharClass.number) == 0, i + n < end {
                let (nf, _) = flags(at: i + n)
                if nf & CharClass.letter != 0 { return runEnd(from: i + n, mask: CharClass.letter) }
            }
            return nil
        case .optionalSpaceThenLetters:
            if f & CharClass.letter != 0 { return runEnd(from: i + n, mask: CharClass.letter) }
            if c == 0x20, i + 1 < end, flags(at: i + 1).0 & CharClass.letter != 0 {
                return runEnd(from: i + 1, mask: CharClass.letter)
            }
            return nil
        case .numbers(let maximum):
            guard f & CharClass.number != 0 else { return nil }
            return runEnd(from: i, mask: CharClass.number, limit: maximum)
        case .optionalSpaceThenNumbers:
            if f & CharClass.number != 0 { return runEnd(from: i + n, mask: CharClass.number) }
            if c == 0x20, i + 1 < end, flags(at: i + 1).0 & CharClass.number != 0 {
                return runEnd(from: i + 1, mask: CharClass.number)
            }
            return nil
        case .optionalSpaceThenOthers(let trailingNewlines):
            var j: Int
            if f & ScanState.other == 0 {
                j = othersEnd(from: i + n)
            } else if c == 0x20, i + 1 < end, flags(at: i + 1).0 & ScanState.other == 0 {
                j = othersEnd(from: i + 1)
            } else {
                return nil
            }
            if trailingNewlines {
                while j < end, p[j] == 0x0A || p[j] == 0x0D { j += 1 }
            }
            return j
        case .whitespaceThenNewlines:
            guard f & CharClass.whitespace != 0 else { return nil }
            let run = whitespaceRun(from: i)
            return run.lastNewline >= 0 ? run.lastNewline + 1 : nil
        case .whitespaceNotBeforeNonSpace:
            guard f & CharClass.whitespace != 0 else { return nil }
            let run = whitespaceRun(from: i)
            if run.end == end { return run.end }
            let last = previousScalarStart(p, run.end)
            return last > i ? last : nil
        case .whitespace:
            guard f & CharClass.whitespace != 0 else { return nil }
            return whitespaceRun(from: i).end
        }
    }
}
