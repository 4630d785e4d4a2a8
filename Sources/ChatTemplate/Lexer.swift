// Jinja lexer with Hugging Face's settings: trim_blocks, lstrip_blocks, keep_trailing_newline off.
// Mirrors jinja2/lexer.py: whitespace control (`-`, `+`), raw blocks, bracket balancing inside tags.

struct Lexer {
    private let src: [Unicode.Scalar]  // newline-normalized template source
    private var pos = 0
    private var line = 1
    private var tokens: [Token] = []
    /// Whether the last consumed piece ended with a newline (jinja's `line_starting`), for lstrip_blocks.
    private var lineStarting = true

    private enum TagKind { case variable, block, comment }

    static func tokenize(_ source: String) throws -> [Token] {
        var lexer = Lexer(source: source)
        try lexer.run()
        return lexer.tokens
    }

    private init(source: String) {
        // Jinja normalizes \r\n and \r to \n, then drops one trailing newline.
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(source.unicodeScalars.count)
        var previousCR = false
        for s in source.unicodeScalars {
            if s == "\r" {
                scalars.append("\n")
                previousCR = true
                continue
            }
            if s == "\n" && previousCR {
                previousCR = false
                continue
            }
            previousCR = false
            scalars.append(s)
        }
        if scalars.last == "\n" { scalars.removeLast() }
        src = scalars
    }

    private func at(_ i: Int) -> Unicode.Scalar? { i < src.count ? src[i] : nil }

    private mutating func emit(_ kind: Token.Kind, line: Int) { tokens.append(Token(kind: kind, line: line)) }

    private func newlines(_ from: Int, _ to: Int) -> Int {
        var n = 0
        var i = from
        while i < to { if src[i] == "\n" { n += 1 }; i += 1 }
        return n
    }

    // MARK: root state

    private mutating func run() throws {
        while pos < src.count {
            guard let (start, kind) = nextTagStart(from: pos) else {
                emitData(from: pos, to: src.count, keepingUntil: src.count)
                pos = src.count
                break
            }
            var sign: Unicode.Scalar? = nil
            if let s = at(start + 2), s == "-" || s == "+" { sign = s }
            let textEnd = dataEnd(from: pos, tagAt: start, sign: sign, lstrip: kind != .variable)
            emitData(from: pos, to: start, keepingUntil: textEnd)
            let tagLine = line
            pos = start + 2 + (sign == nil ? 0 : 1)
            switch kind {
            case .comment:
                try lexComment(openedAt: tagLine)
            case .block:
                if let rawEnd = rawBeginEnd(from: pos) {
                    pos = rawEnd
                    lineStarting = src[rawEnd - 1] == "\n"
                    try lexRaw(openedAt: tagLine)
                } else {
                    emit(.blockBegin, line: tagLine)
                    try lexTag(block: true, openedAt: tagLine)
                }
            case .variable:
                emit(.variableBegin, line: tagLine)
                try lexTag(block: false, openedAt: tagLine)
            }
        }
        emit(.eof, line: line)
    }

    /// Where the data before a tag at `tag` ends after whitespace control: `-` strips all whitespace,
    /// lstrip_blocks (block and comment tags without `+`) strips the spaces between the line start and the tag.
    private func dataEnd(from start: Int, tagAt tag: Int, sign: Unicode.Scalar?, lstrip: Bool) -> Int {
        var end = tag
        if sign == "-" {
            while end > start && src[end - 1].isPythonSpace { end -= 1 }
        } else if sign != "+" && lstrip {
            var lineStart = tag
            while lineStart > start && src[lineStart - 1] != "\n" { lineStart -= 1 }
            if (lineStart > start || lineStarting) && lineStart < tag
                && src[lineStart..<tag].allSatisfy({ $0.isPythonSpace })
            {
                end = lineStart
            }
        }
        return end
    }

    private func nextTagStart(from: Int) -> (Int, TagKind)? {
        var i = from
        while i + 1 < src.count {
            if src[i] == "{" {
                switch src[i + 1] {
                case "{": return (i, .variable)
                case "%": return (i, .block)
                case "#": return (i, .comment)
                default: break
                }
            }
            i += 1
        }
        return nil
    }

    /// Emits `src[from..<keepingUntil]` as data; the newlines of the whole `from..<to` span count for line numbers.
    private mutating func emitData(from: Int, to: Int, keepingUntil: Int) {
        if keepingUntil > from {
            var text = String.UnicodeScalarView()
            text.append(contentsOf: src[from..<keepingUntil])
            emit(.data(String(text)), line: line)
        }
        line += newlines(from, to)
    }

    /// If `{%` at `from` opens `raw` (`{% raw %}`, `{%- raw -%}`), returns the index after its `%}`.
    private func rawBeginEnd(from: Int) -> Int? {
        var i = from
        while let s = at(i), s.isPythonSpace { i += 1 }
        guard at(i) == "r", at(i + 1) == "a", at(i + 2) == "w" else { return nil }
        i += 3
        if let s = at(i), s.isIdentifierContinue { return nil }
        while let s = at(i), s.isPythonSpace { i += 1 }
        return closer("%", at: i, plus: false, trimNewline: false)
    }

    private mutating func lexRaw(openedAt tagLine: Int) throws {
        let bodyStart = pos
        var i = pos
        while i + 1 < src.count {
            if src[i] == "{" && src[i + 1] == "%" {
                var j = i + 2
                var sign: Unicode.Scalar? = nil
                if let s = at(j), s == "-" || s == "+" { sign = s; j += 1 }
                while let s = at(j), s.isPythonSpace { j += 1 }
                if at(j) == "e", at(j + 1) == "n", at(j + 2) == "d", at(j + 3) == "r", at(j + 4) == "a", at(j + 5) == "w",
                   !(at(j + 6)?.isIdentifierContinue ?? false)
                {
                    j += 6
                    while let s = at(j), s.isPythonSpace { j += 1 }
                    guard let after = blockEnd(at: j) else { break }
                    let textEnd = dataEnd(from: bodyStart, tagAt: i, sign: sign, lstrip: true)
                    emitData(from: bodyStart, to: i, keepingUntil: textEnd)
                    line += newlines(i, after)
                    lineStarting = after > i && src[after - 1] == "\n"
                    pos = after
                    return
                }
            }
            i += 1
        }
        throw ChatTemplateError.syntax("missing end of raw directive (\"{% endraw %}\")", tagLine)
    }

    /// Matches a closer `c}` at `i` and returns where it ends: `-c}` takes the whitespace after it,
    /// `+c}` (where allowed) keeps it, and with trim_blocks a plain `c}` takes one newline.
    private func closer(_ c: Unicode.Scalar, at i: Int, plus: Bool, trimNewline: Bool) -> Int? {
        if plus, at(i) == "+", at(i + 1) == c, at(i + 2) == "}" { return i + 3 }
        if at(i) == "-", at(i + 1) == c, at(i + 2) == "}" {
            var j = i + 3
            while let s = at(j), s.isPythonSpace { j += 1 }
            return j
        }
        if at(i) == c, at(i + 1) == "}" { return trimNewline && at(i + 2) == "\n" ? i + 3 : i + 2 }
        return nil
    }

    /// `+%}`, `-%}` plus following whitespace, or `%}` plus one newline (trim_blocks).
    private func blockEnd(at i: Int) -> Int? { closer("%", at: i, plus: true, trimNewline: true) }

    /// `-}}` plus following whitespace, or `}}` (trim_blocks does not apply to variables; `+}}` is not special).
    private func variableEnd(at i: Int) -> Int? { closer("}", at: i, plus: false, trimNewline: false) }

    private mutating func lexComment(openedAt tagLine: Int) throws {
        var i = pos
        while i < src.count {
            if let end = closer("#", at: i, plus: true, trimNewline: true) {
                line += newlines(pos, end)
                lineStarting = src[end - 1] == "\n"
                pos = end
                return
            }
            i += 1
        }
        throw ChatTemplateError.syntax("missing end of comment tag", tagLine)
    }

    // MARK: inside {{ }} and {% %}

    private static let operators2: Set<String> = ["//", "**", "==", "!=", ">=", "<="]
    private static let operators1: Set<Unicode.Scalar> = [
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";",
    ]

    private mutating func lexTag(block: Bool, openedAt tagLine: Int) throws {
        var balance: [Unicode.Scalar] = []
        while true {
            guard pos < src.count else {
                throw ChatTemplateError.syntax(
                    block ? "unexpected end of template, expected end of statement block (\"%}\")"
                        : "unexpected end of template, expected end of print statement (\"}}\")", tagLine)
            }
            if balance.isEmpty, let end = block ? blockEnd(at: pos) : variableEnd(at: pos) {
                emit(block ? .blockEnd : .variableEnd, line: line)
                line += newlines(pos, end)
                lineStarting = src[end - 1] == "\n"
                pos = end
                return
            }
            let c = src[pos]
            if c.isPythonSpace {
                if c == "\n" { line += 1 }
                pos += 1
                continue
            }
            if c.isASCIIDigit {
                try lexNumber()
                continue
            }
            if c.isIdentifierStart {
                let start = pos
                while let s = at(pos), s.isIdentifierContinue { pos += 1 }
                var name = String.UnicodeScalarView()
                name.append(contentsOf: src[start..<pos])
                emit(.name(String(name)), line: line)
                continue
            }
            if c == "'" || c == "\"" {
                try lexString(quote: c)
                continue
            }
            if let next = at(pos + 1) {
                var pair = String.UnicodeScalarView()
                pair.append(c)
                pair.append(next)
                let op = String(pair)
                if Self.operators2.contains(op) {
                    emit(.op(op), line: line)
                    pos += 2
                    continue
                }
            }
            guard Self.operators1.contains(c) else {
                throw ChatTemplateError.syntax("unexpected char \(pyRepr(String(Character(c)))) in tag", line)
            }
            switch c {
            case "(", "[", "{":
                balance.append(c)
            case ")", "]", "}":
                let expected: Unicode.Scalar = c == ")" ? "(" : c == "]" ? "[" : "{"
                guard let open = balance.popLast() else {
                    throw ChatTemplateError.syntax("unexpected '\(c)'", line)
                }
                guard open == expected else {
                    let want: Unicode.Scalar = open == "(" ? ")" : open == "[" ? "]" : "}"
                    throw ChatTemplateError.syntax("unexpected '\(c)', expected '\(want)'", line)
                }
            default:
                break
            }
            emit(.op(String(Character(c))), line: line)
            pos += 1
        }
    }

    /// `(\d+_)*\d+` digits with single underscores between them; returns the end index or nil.
    private func digits(from i: Int) -> Int? {
        guard let s = at(i), s.isASCIIDigit else { return nil }
        var j = i
        while true {
            while let s = at(j), s.isASCIIDigit { j += 1 }
            if at(j) == "_", let s = at(j + 1), s.isASCIIDigit { j += 1; continue }
            return j
        }
    }

    private mutating func lexNumber() throws {
        let start = pos
        guard var end = digits(from: pos) else { return }
        var isFloat = false
        let afterDot = start > 0 && src[start - 1] == "."  // jinja's float rule has (?<!\.)
        if !afterDot {
            var j = end
            if at(j) == ".", let fracEnd = digits(from: j + 1) {
                j = fracEnd
                isFloat = true
            }
            if let e = at(j), e == "e" || e == "E" {
                var k = j + 1
                if let sgn = at(k), sgn == "+" || sgn == "-" { k += 1 }
                if let expEnd = digits(from: k) {
                    j = expEnd
                    isFloat = true
                }
            }
            if isFloat { end = j }
        }
        var text = ""
        for s in src[start..<end] where s != "_" { text.unicodeScalars.append(s) }
        pos = end
        if isFloat {
            guard let d = Double(text) else { throw ChatTemplateError.syntax("invalid float literal \(text)", line) }
            emit(.float(d), line: line)
        } else {
            guard let i = Int(text) else {
                throw ChatTemplateError.unsupported("integer literal \(text) does not fit in 64 bits", line)
            }
            emit(.integer(i), line: line)
        }
    }

    private mutating func lexString(quote: Unicode.Scalar) throws {
        let startLine = line
        var i = pos + 1
        var raw: [Unicode.Scalar] = []
        while true {
            guard let s = at(i) else { throw ChatTemplateError.syntax("unterminated string literal", startLine) }
            if s == quote { break }
            if s == "\\" {
                guard let next = at(i + 1) else { throw ChatTemplateError.syntax("unterminated string literal", startLine) }
                raw.append(s)
                raw.append(next)
                i += 2
                continue
            }
            raw.append(s)
            i += 1
        }
        line += newlines(pos, i)
        pos = i + 1
        emit(.string(try StringLiteral.unescape(raw, line: startLine)), line: startLine)
    }
}
