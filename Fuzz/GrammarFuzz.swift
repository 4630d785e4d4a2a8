// libFuzzer harness: the grammar compilers (GBNF, regex, JSON Schema) and the matcher, compiled into the Grammar
// module with Tokenization's JSON parser. Input: byte 0 picks the notation (mod 3: GBNF, regex, JSON Schema; bit 7:
// strict), the rest is the grammar text. A grammar that compiles is walked for a few tokens over a small vocabulary
// of single bytes and a few longer pieces: every token the mask allows must be accepted, every other refused, and
// rollback must restore the mask.

enum GrammarFuzz {
    static let vocabulary: TokenVocabulary = {
        var bytes: [[UInt8]?] = (0..<256).map { [UInt8($0)] }
        bytes += ["{\"", "\":", "true", "null", "ab", "\u{e9}", "]}", "12"].map { Array($0.utf8) }
        bytes.append(nil)
        return TokenVocabulary(tokenBytes: bytes, stopTokens: [bytes.count - 1])
    }()

    static func isSet(_ words: [UInt64], _ id: Int) -> Bool { words[id >> 6] & (UInt64(1) << UInt64(id & 63)) != 0 }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func grammarFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    guard let control = bytes.first else { return 0 }
    let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
    let spec: GrammarSpec
    switch control % 3 {
    case 0: spec = .gbnf(text)
    case 1: spec = .regex(text)
    default: spec = .jsonSchema(text, strict: control & 0x80 != 0)
    }
    guard let grammar = try? spec.compile() else { return 0 }
    let v = GrammarFuzz.vocabulary
    let m = GrammarMatcher(grammar: grammar, vocabulary: v)
    var pick = Int(control)
    for step in 0..<12 {
        let words = m.mask()
        var legal: [Int] = []
        for id in 0..<v.size {
            let allowed = GrammarFuzz.isSet(words, id)
            let accepted = m.accept(id)
            fuzzCheck(allowed == accepted, "step \(step): token \(id) allowed \(allowed), accepted \(accepted)")
            if accepted {
                m.rollback(1)
                legal.append(id)
            }
        }
        fuzzCheck(m.mask() == words, "step \(step): rollback changed the mask")
        guard !legal.isEmpty else { break }
        pick = (pick &* 31 &+ 7) & 0xFFFF
        fuzzCheck(m.accept(legal[pick % legal.count]), "step \(step): a legal token was refused")
        if m.isFinished { break }
    }
    return 0
}
