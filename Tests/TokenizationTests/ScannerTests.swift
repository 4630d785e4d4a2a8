import Foundation
import Testing
@testable import Tokenization

/// The hand-written scanner for the GPT-2 / Llama-3 / Qwen2 split regexes against onig's output.
@Suite("Split pattern scanner")
struct ScannerTests {
    static func pieces(_ matcher: any SplitMatcher, _ text: String) -> [String] {
        var list = PieceList(bytes: Array(text.utf8), pieces: [Piece(start: 0, end: text.utf8.count, atOrigin: true)])
        SplitPreTokenizer(matcher: matcher, behavior: .isolated, invert: false).preTokenize(&list)
        return list.pieces.map { String(decoding: list.bytes[$0.start..<$0.end], as: UTF8.self) }
    }

    @Test("known patterns are recognised")
    func recognised() {
        for (name, pattern) in ScannerCases.patterns {
            #expect(PatternScanner(pattern: pattern) != nil, "\(name)")
        }
        #expect(PatternScanner(pattern: #"[0-9]+|[a-z]+"#) == nil)
        #expect(PatternScanner(pattern: #"\p{L}+(?=x)"#) == nil)
        #expect(PatternScanner(pattern: #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|\p{N}{1,3}"#)?.atoms
                == [.caseInsensitiveLiterals([Array("'s".utf8), Array("'t".utf8), Array("'re".utf8), Array("'ve".utf8),
                                              Array("'m".utf8), Array("'ll".utf8), Array("'d".utf8)]),
                    .numbers(max: 3)])
    }

    @Test("scanner cuts like onig", arguments: ScannerCases.all.indices)
    func scannerMatchesOnig(_ index: Int) throws {
        let (name, text, expected) = ScannerCases.all[index]
        let scanner = try #require(PatternScanner(pattern: ScannerCases.patterns[name]!))
        #expect(ScannerTests.pieces(scanner, text) == expected, "\(name): \(text.debugDescription)")
    }

    @Test("NSRegularExpression fallback agrees on plain text")
    func fallbackAgrees() throws {
        // ICU and onig agree away from the corner cases the scanner exists for.
        let text = "Hello world, it's 12345 o'clock!\n\n  Indented\tline  \r\n"
        for (name, pattern) in ScannerCases.patterns {
            let regex = try RegexMatcher(pattern: pattern, context: "test")
            let scanner = try #require(PatternScanner(pattern: pattern))
            #expect(ScannerTests.pieces(regex, text) == ScannerTests.pieces(scanner, text), "\(name)")
        }
    }

    @Test("onig whitespace set in the regex fallback")
    func fallbackWhitespace() throws {
        let regex = try RegexMatcher(pattern: #"\s+"#, context: "test")
        #expect(ScannerTests.pieces(regex, "a\u{0B}\u{85}b") == ["a", "\u{0B}\u{85}", "b"])
    }

    /// Linear time: megabyte-long inputs without the spaces that usually bound words must finish (no timing
    /// assertion; a quadratic scanner or merge would take hours here) and round-trip.
    @Test("megabyte-long lines stay linear", arguments: Fixture.tokenizerNames)
    func longLines(name: String) {
        let tokenizer = Fixture.tokenizer(name)
        let inputs = [
            String(repeating: "a", count: 1_000_000),
            String(repeating: "ab1-", count: 250_000),
            String(repeating: " ", count: 1_000_000) + "x",
            String(repeating: " \n", count: 500_000),
            String(repeating: "東", count: 300_000),
        ]
        for text in inputs {
            let ids = tokenizer.encode(text, addSpecialTokens: false)
            #expect(!ids.isEmpty)
            #expect(tokenizer.decode(ids) == text)
        }
    }

    @Test("merges match the naive lowest-rank-leftmost loop")
    func mergePaths() throws {
        // Words of 2...200 symbols: both the array merge (short words) and the heap merge (long ones) must give
        // what the textbook algorithm gives.
        let model = Fixture.tokenizer("spm-llama2").model
        let letters = Array("abcdefghijklmnopqrstuvwxyz▁▁▁▁")
        var rng = SplitMix64(seed: 7)
        for _ in 0..<300 {
            let length = Int.random(in: 2...200, using: &rng)
            let text = String((0..<length).map { _ in letters.randomElement(using: &rng)! })
            var symbols = text.unicodeScalars.compactMap { model.vocab.lookup(String($0)) }
            var reference = symbols
            model.merge(&symbols)
            ScannerTests.mergeNaively(model, &reference)
            #expect(symbols == reference, "\(text)")
        }
    }

    static func mergeNaively(_ model: BPEModel, _ symbols: inout [Int32]) {
        while symbols.count > 1 {
            var best: UInt64 = .max
            var k = -1
            for i in 0..<(symbols.count - 1) {
                if let m = model.merges.lookup(symbols[i], symbols[i + 1]), m < best { best = m; k = i }
            }
            if k < 0 { break }
            symbols[k] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            symbols.remove(at: k + 1)
        }
    }
}

/// A small deterministic random number generator for reproducible tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
