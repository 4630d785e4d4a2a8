import Foundation
import TestSupport
import Tokenization
@testable import Grammar

/// Vocabularies the tests walk: the fixture tokenizers' (real byte strings) and a small one of single bytes plus a
/// few multi-byte tokens (readable masks).
enum TestVocabularies {
    static func tokenizer(_ name: String) -> Tokenizer {
        do {
            return try Tokenizer.load(directory: Fixtures.tokenizers.appendingPathComponent(name))
        } catch {
            fatalError("cannot load tokenizer \(name): \(error)")
        }
    }

    static let llama3Tokenizer = tokenizer("bytelevel-llama3")
    static let llama2Tokenizer = tokenizer("spm-llama2")

    static func vocabulary(_ t: Tokenizer) -> TokenVocabulary {
        TokenVocabulary(tokenBytes: (0..<t.vocabularySize).map { t.tokenBytes(forId: $0) },
                        stopTokens: t.eosTokenId.map { [$0] } ?? [])
    }

    static let llama3 = vocabulary(llama3Tokenizer)
    static let llama2 = vocabulary(llama2Tokenizer)

    /// Ids 0...255 are the single bytes, then `extra` pieces; the last id is the stop token.
    static let extra = ["{\"", "\":", "\", \"", "true", "null", "ab", "abc", "\"}", "12", "<tool_call>", "é", "]}"]
    static let small: TokenVocabulary = {
        var bytes: [[UInt8]?] = (0..<256).map { [UInt8($0)] }
        bytes += extra.map { Array($0.utf8) }
        bytes.append(nil)
        return TokenVocabulary(tokenBytes: bytes, stopTokens: [bytes.count - 1])
    }()
    static var smallStop: Int { small.size - 1 }
    static func smallId(_ piece: String) -> Int {
        if piece.utf8.count == 1 { return Int(piece.utf8.first!) }
        return 256 + extra.firstIndex(of: piece)!
    }
}

extension GrammarMatcher {
    /// Whether the matcher accepts all of `text` as single-byte tokens of the small vocabulary.
    func acceptBytes(_ text: String) -> Bool {
        for b in text.utf8 where !accept(Int(b)) { return false }
        return true
    }

    func allowed() -> [Int] {
        let words = mask()
        return (0..<vocabulary.size).filter { words[$0 >> 6] & (1 << UInt64($0 & 63)) != 0 }
    }
}

/// A seeded random walk through a grammar over a vocabulary: each step picks a legal token, leaning towards tokens
/// that close strings, arrays and objects as the walk gets long, and stops once the grammar allows it. Returns the
/// token ids (the stop token excluded) or nil when the walk got stuck (no legal token: a matcher bug).
func randomWalk(_ grammar: CompiledGrammar, _ vocabulary: TokenVocabulary, seed: UInt64, patience: Int = 24,
                maxTokens: Int = 600) -> [Int]? {
    var random = TestRandom(seed: seed)
    let matcher = GrammarMatcher(grammar: grammar, vocabulary: vocabulary)
    var ids: [Int] = []
    let closers: Set<UInt8> = [0x22, 0x7D, 0x5D]
    for step in 0..<maxTokens {
        let legal = matcher.allowed()
        guard !legal.isEmpty else { return nil }
        if matcher.canTerminate && (step > patience || random.next() % 4 == 0) { return ids }
        var pool = legal.filter { !vocabulary.stopTokens.contains(Int32($0)) }
        if pool.isEmpty { return ids }
        if step > patience {
            let closing = pool.filter { vocabulary.tokenBytes[$0].contains(where: closers.contains) }
            if !closing.isEmpty { pool = closing }
        }
        let pick = pool[Int(random.next() % UInt64(pool.count))]
        guard matcher.accept(pick) else { return nil }
        ids.append(pick)
    }
    return matcher.canTerminate ? ids : nil
}

/// The text of walked ids: their token bytes joined.
func text(_ ids: [Int], _ vocabulary: TokenVocabulary) -> String {
    String(decoding: ids.flatMap { vocabulary.tokenBytes[$0] }, as: UTF8.self)
}

