import Foundation
import Model
import Synchronization
import Tokenization

/// Picks an adapter for `"model": "auto"`: embeds the prompt with the base model (mean of final hidden states over
/// its first tokens) and returns the candidate whose description embedding is closest by cosine similarity.
/// Description embeddings are cached by adapter name and description text.
public final class AdapterRouter: Sendable {
    public struct Candidate: Sendable {
        public var name: String
        /// The adapter's description (and examples), the text prompts are compared with.
        public var description: String
        public init(name: String, description: String) {
            self.name = name
            self.description = description
        }
    }

    /// Prompt tokens embedded at most (the start of a prompt says what it is about; embedding costs a forward pass).
    public let maxPromptTokens: Int
    private let transformer: Transformer
    private let tokenizer: Tokenizer
    private let cache = Mutex<[String: [Float]]>([:])

    public init(transformer: Transformer, tokenizer: Tokenizer, maxPromptTokens: Int = 128) {
        self.transformer = transformer
        self.tokenizer = tokenizer
        self.maxPromptTokens = maxPromptTokens
    }

    /// The best candidate for `promptTokens` with its similarity; nil when there are no candidates with a
    /// description.
    public func choose(promptTokens: [Int], among candidates: [Candidate]) throws -> (name: String, similarity: Float)? {
        let usable = candidates.filter { !$0.description.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        guard !usable.isEmpty else { return nil }
        let prompt = try transformer.meanHiddenState(tokens: Array(promptTokens.prefix(maxPromptTokens)))
        var best: (String, Float)?
        for c in usable.sorted(by: { $0.name < $1.name }) {
            let similarity = Self.cosine(prompt, try embedding(c))
            if best == nil || similarity > best!.1 { best = (c.name, similarity) }
        }
        return best
    }

    private func embedding(_ c: Candidate) throws -> [Float] {
        let key = c.name + "\u{0}" + c.description
        if let e = cache.withLock({ $0[key] }) { return e }
        let tokens = Array(tokenizer.encode(c.description, addSpecialTokens: true).prefix(maxPromptTokens))
        let e = try transformer.meanHiddenState(tokens: tokens)
        cache.withLock { $0[key] = e }
        return e
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        var dot: Float = 0, na: Float = 0, nb: Float = 0
        for i in 0..<min(a.count, b.count) {
            dot += a[i] * b[i]
            na += a[i] * a[i]
            nb += b[i] * b[i]
        }
        return na > 0 && nb > 0 ? dot / (na.squareRoot() * nb.squareRoot()) : -1
    }
}
