import Foundation
import Model

/// A request's controls over its logits (OpenAI's and the vLLM/Hugging Face extensions). Applied by the sequence's
/// `LogitsProcessor`; none of them changes the forward pass.
public struct LogitControls: Sendable, Equatable {
    /// OpenAI: `logit -= presence * (count > 0) + frequency * count`, counts over generated tokens (-2...2).
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    /// Hugging Face/vLLM: tokens of the prompt or the output have positive logits divided by it, negative ones
    /// multiplied (1: off).
    public var repetitionPenalty: Float = 1
    /// Added to the logit of each token id (-100...100; ids checked against the vocabulary by the caller).
    public var logitBias: [Int: Float] = [:]
    /// Stop token ids (EOS included unless ignored) cannot be chosen before this many tokens are generated.
    public var minTokens = 0

    public init(presencePenalty: Float = 0, frequencyPenalty: Float = 0, repetitionPenalty: Float = 1,
                logitBias: [Int: Float] = [:], minTokens: Int = 0) {
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.repetitionPenalty = repetitionPenalty
        self.logitBias = logitBias
        self.minTokens = minTokens
    }

    public static let none = LogitControls()
    public var isNone: Bool { self == .none }
}

/// Which tokens may come next (structured output: a grammar, a JSON schema, a tool call). One instance per sequence,
/// owned by the engine thread; made by the request's `TokenConstraintFactory` when the sequence starts.
public protocol TokenConstraint: AnyObject {
    /// Sets the logit of every token that may not come next to -infinity. logits: [vocab].
    func mask(_ logits: UnsafeMutableBufferPointer<Float>)
    /// The token chosen for the sequence (from a row `mask` was applied to); the constraint advances past it.
    func accept(_ token: Int)
    /// How many of `tokens`, in order, may come next (lookahead drafts are cut there); the state is unchanged.
    func acceptablePrefix(_ tokens: [Int]) -> Int
    /// The tokens that must come next (after every token accepted so far): each the single legal one, up to
    /// `limit`; empty when there is a choice. The state is unchanged.
    func forcedContinuation(limit: Int) -> [Int]
}

extension TokenConstraint {
    public func acceptablePrefix(_ tokens: [Int]) -> Int { tokens.count }
    public func forcedContinuation(limit: Int) -> [Int] { [] }
}

/// Makes a fresh `TokenConstraint` for each sequence of a request (a request with `n` choices gets `n`).
public typealias TokenConstraintFactory = @Sendable () -> any TokenConstraint

/// THE seam where a sequence's logits are changed before a token is chosen from them. Every path that picks a
/// token (the first token after prefill, each plain decode step, each lookahead row being verified) passes the row
/// through `process` and then tells `accepted` what was chosen, so the controls see exactly the history plain
/// decoding would have: lookahead stays lossless. Order: constraint mask, min_tokens mask, logit_bias, repetition
/// penalty, presence/frequency penalties; temperature, top-k, top-p and min-p follow in the `Sampler`.
/// Owned by the sequence (engine thread).
final class LogitsProcessor {
    let controls: LogitControls
    /// Ids that end the sequence (masked while fewer than `minTokens` are generated).
    let stopTokenIds: Set<Int>
    private let constraint: (any TokenConstraint)?
    /// Generated-token counts (presence/frequency) and prompt tokens (repetition penalty).
    private var counts: [Int: Int] = [:]
    private let promptTokens: Set<Int>
    private var generated = 0
    /// The processed row: [vocab], allocated on first use.
    private var scratch = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)

    init(controls: LogitControls, stopTokenIds: Set<Int>, promptTokens: [Int], constraint: (any TokenConstraint)?) {
        self.controls = controls
        self.stopTokenIds = stopTokenIds
        self.constraint = constraint
        self.promptTokens = controls.repetitionPenalty != 1 ? Set(promptTokens) : []
    }

    deinit { scratch.deallocate() }

    /// True when `process` returns its input unchanged (no copy is made).
    var isIdentity: Bool { constraint == nil && controls.isNone }

    /// The row to choose the next token from: `logits` itself, or a processed copy (valid until the next call).
    func process(_ logits: UnsafeBufferPointer<Float>) -> UnsafeBufferPointer<Float> {
        if isIdentity { return logits }
        let vocab = logits.count
        if scratch.count != vocab {
            scratch.deallocate()
            scratch = .allocate(capacity: vocab)
        }
        let out = scratch, c = controls
        _ = out.initialize(from: logits)
        constraint?.mask(out)
        if generated < c.minTokens { for id in stopTokenIds where id >= 0 && id < vocab { out[id] = -.infinity } }
        for (id, bias) in c.logitBias where id >= 0 && id < vocab { out[id] += bias }
        if c.repetitionPenalty != 1 {
            for id in promptTokens.union(counts.keys) where id >= 0 && id < vocab {
                out[id] = out[id] > 0 ? out[id] / c.repetitionPenalty : out[id] * c.repetitionPenalty
            }
        }
        if c.presencePenalty != 0 || c.frequencyPenalty != 0 {
            for (id, n) in counts where id >= 0 && id < vocab {
                out[id] -= c.presencePenalty + c.frequencyPenalty * Float(n)
            }
        }
        return UnsafeBufferPointer(out)
    }

    /// How many leading tokens of a lookahead candidate may be proposed (nil: no constraint, all of them).
    var legalPrefix: (([Int]) -> Int)? {
        guard let constraint else { return nil }
        return { constraint.acceptablePrefix($0) }
    }

    /// The tokens the constraint forces next (see `TokenConstraint.forcedContinuation`).
    func forcedContinuation(limit: Int) -> [Int] {
        constraint?.forcedContinuation(limit: limit) ?? []
    }

    /// The token chosen from the last processed row.
    func accepted(_ token: Int) {
        generated += 1
        if !controls.isNone { counts[token, default: 0] += 1 }
        constraint?.accept(token)
    }
}
