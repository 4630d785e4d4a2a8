import Foundation

/// The general fallback for Split/Replace regexes that `PatternScanner` does not recognise: ICU's
/// NSRegularExpression. `\s` / `\S` are widened to onig's definition (ICU's `\s` lacks U+000B and U+0085).
/// Slower than the scanner, and ICU's semantics can differ from onig's in rare constructs.
final class RegexMatcher: SplitMatcher {
    private let regex: NSRegularExpression
    private let pattern: String

    init(pattern: String, context: String) throws {
        self.pattern = pattern
        do {
            regex = try NSRegularExpression(pattern: RegexMatcher.onigCompatible(pattern), options: [])
        } catch {
            throw TokenizerError("\(context) has an invalid regex \"\(pattern)\": \(error.localizedDescription)")
        }
    }

    /// Rewrites `\s` and `\S` so they match onig's whitespace set.
    static func onigCompatible(_ pattern: String) -> String {
        let s = Array(pattern.unicodeScalars)
        var out = String.UnicodeScalarView()
        var inClass = false
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\\" && i + 1 < s.count {
                let e = s[i + 1]
                if e == "s" {
                    out.append(contentsOf: (inClass ? #"\s\x{0B}\x{85}"# : #"[\s\x{0B}\x{85}]"#).unicodeScalars)
                } else if e == "S" && !inClass {
                    out.append(contentsOf: #"[^\s\x{0B}\x{85}]"#.unicodeScalars)
                } else {
                    out.append(c)
                    out.append(e)
                }
                i += 2
                continue
            }
            if c == "[" && !inClass { inClass = true } else if c == "]" && inClass { inClass = false }
            out.append(c)
            i += 1
        }
        return String(out)
    }

    func findMatches(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into out: inout [Range<Int>]) {
        guard start < end else { return }
        let text = String(decoding: UnsafeBufferPointer(rebasing: p[start..<end]), as: UTF8.self)
        let ns = text as NSString
        // Backtracking can take exponential time on a hostile pattern, `(a|a)*b`: the work is bounded by a step
        // budget linear in the input. Past it the rest of the input stays unsplit and the encode scope records the
        // pattern (a checked encode then fails with a clear error); the caller's cancellation stops it too.
        var results: [NSTextCheckingResult] = []
        let scope = EncodeScope.current
        var reports = 0
        // ICU reports each start position a find tries (at most one per UTF-16 unit), around each match, and every
        // ~10,000 backtracking steps: the budget allows the first two and `baseReports + length/utf16PerReport` of
        // the last.
        let budget = EncodeScope.baseReports + ns.length + ns.length / EncodeScope.utf16PerReport
        regex.enumerateMatches(in: text, options: [.reportProgress], range: NSRange(location: 0, length: ns.length)) {
            match, _, stop in
            if let match {
                results.append(match)
                return
            }
            reports += 1
            if reports > budget + results.count {
                scope?.exceededPattern = self.pattern
                stop.pointee = true
            } else if scope?.checkCancelled() == true {
                stop.pointee = true
            }
        }
        guard !results.isEmpty else { return }
        // Convert UTF-16 offsets to byte offsets in one forward walk (matches are in order).
        var utf16Offset = 0
        var byteOffset = start
        func advance(to target: Int) -> Int {
            while utf16Offset < target && byteOffset < end {
                let (scalar, n) = decodeScalar(p, byteOffset)
                utf16Offset += scalar >= 0x10000 ? 2 : 1
                byteOffset += n
            }
            return byteOffset
        }
        for r in results {
            let range = r.range
            guard range.location != NSNotFound else { continue }
            let lower = advance(to: range.location)
            let upper = advance(to: range.location + range.length)
            out.append(lower..<upper)
        }
    }

    /// Replaces every match in `bytes` with `content` (HF Replace normalizer/decoder with a regex).
    func replaceAll(in bytes: [UInt8], with content: [UInt8]) -> [UInt8] {
        var matches: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { findMatches($0, 0, $0.count, into: &matches) }
        guard !matches.isEmpty else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var previous = 0
        for m in matches {
            out.append(contentsOf: bytes[previous..<m.lowerBound])
            out.append(contentsOf: content)
            previous = m.upperBound
        }
        out.append(contentsOf: bytes[previous...])
        return out
    }
}

extension LiteralMatcher {
    /// Replaces every occurrence (leftmost, non-overlapping).
    func replaceAll(in bytes: [UInt8], with content: [UInt8]) -> [UInt8] {
        var matches: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { findMatches($0, 0, $0.count, into: &matches) }
        guard !matches.isEmpty else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + matches.count * max(0, content.count - literal.count))
        var previous = 0
        for m in matches {
            out.append(contentsOf: bytes[previous..<m.lowerBound])
            out.append(contentsOf: content)
            previous = m.upperBound
        }
        out.append(contentsOf: bytes[previous...])
        return out
    }
}

/// A Replace pattern: `{"String": ...}` or `{"Regex": ...}`.
enum ReplacePattern: Sendable {
    case literal(LiteralMatcher)
    case regex(RegexMatcher)

    init(json value: JSONValue, context: String) throws {
        let o = try value.asObject("\(context) \"pattern\"")
        if let s = o.optional("String") {
            self = .literal(LiteralMatcher(Array(try s.asString("\(context) pattern \"String\"").utf8)))
        } else if let r = o.optional("Regex") {
            self = .regex(try RegexMatcher(pattern: try r.asString("\(context) pattern \"Regex\""), context: context))
        } else {
            throw TokenizerError("\(context) pattern must have a \"String\" or \"Regex\" member")
        }
    }

    func replaceAll(in bytes: [UInt8], with content: [UInt8]) -> [UInt8] {
        switch self {
        case .literal(let m): return m.replaceAll(in: bytes, with: content)
        case .regex(let m): return m.replaceAll(in: bytes, with: content)
        }
    }
}
