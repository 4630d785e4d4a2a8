import Foundation
import Model

/// The adapter a request runs with: its registry name, the weights the forward pass reads, and the request's scale.
public struct AdapterBinding: @unchecked Sendable {
    // @unchecked Sendable: LoRAWeights is immutable and Sendable; the struct only adds value fields.
    public var name: String
    public var weights: LoRAWeights
    public var scale: Float

    public init(name: String, weights: LoRAWeights, scale: Float = 1) {
        self.name = name
        self.weights = weights
        self.scale = scale
    }
}

/// One generation request as the engine runs it: token ids in, token ids and text out.
public struct GenerationRequest: Sendable {
    public var tenant: String
    public var promptTokens: [Int]
    /// nil: the base model alone.
    public var adapter: AdapterBinding?
    public var sampling: SamplingParameters
    public var maxTokens: Int
    /// Generation ends before any of these strings; the text never contains them.
    public var stop: [String]
    /// Generation ends after one of these ids (the model's EOS ids unless `ignoreEOS`).
    public var stopTokenIds: Set<Int>
    /// Number of most likely alternatives to report with each token (0: none; the chosen token's logprob is
    /// reported whenever this is >= 0 and `wantLogprobs`).
    public var logprobs: Int
    public var wantLogprobs: Bool
    /// Lookahead decoding: `auto` takes the engine's default (`EngineConfiguration.lookahead`).
    public var lookahead: LookaheadMode
    /// Penalties, logit bias, min_tokens: applied by the sequence's `LogitsProcessor` before each token is chosen.
    public var controls: LogitControls
    /// Structured output: which tokens may come next (nil: any).
    public var constraint: TokenConstraintFactory?
    /// Log probabilities of the prompt's tokens (each given the ones before it, from the model's raw logits) with
    /// this many alternatives, sent as one `promptLogprobs` event when the prefill ends (nil: none).
    public var promptLogprobs: Int?

    public init(tenant: String = "default", promptTokens: [Int], adapter: AdapterBinding? = nil,
                sampling: SamplingParameters = .greedy, maxTokens: Int = 16, stop: [String] = [],
                stopTokenIds: Set<Int> = [], logprobs: Int = 0, wantLogprobs: Bool = false,
                lookahead: LookaheadMode = .auto, controls: LogitControls = .none,
                constraint: TokenConstraintFactory? = nil, promptLogprobs: Int? = nil) {
        self.tenant = tenant
        self.promptTokens = promptTokens
        self.adapter = adapter
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stop = stop
        self.stopTokenIds = stopTokenIds
        self.logprobs = logprobs
        self.wantLogprobs = wantLogprobs
        self.lookahead = lookahead
        self.controls = controls
        self.constraint = constraint
        self.promptLogprobs = promptLogprobs
    }
}

/// Log probability of a chosen token and the most likely alternatives at that step.
public struct TokenLogprob: Sendable, Equatable {
    public var token: Int
    public var logprob: Float
    public var top: [(token: Int, logprob: Float)]

    public static func == (a: TokenLogprob, b: TokenLogprob) -> Bool {
        a.token == b.token && a.logprob == b.logprob && a.top.map(\.token) == b.top.map(\.token)
            && a.top.map(\.logprob) == b.top.map(\.logprob)
    }
}

/// Why a request ended, as the API reports it.
public enum CompletionReason: String, Sendable {
    case stop, length, cancelled
}

/// What a request's sink receives, on the engine thread, in order: tokens as they are chosen, then one `finished`
/// (or one `failed`). Sinks must return quickly (hand the event to another thread).
public enum EngineEvent: Sendable {
    /// A new token: its id, the text that became final with it (may be empty: held back for a possible stop string
    /// or an incomplete character), and its logprobs when asked for.
    case token(id: Int, text: String, logprob: TokenLogprob?)
    /// The prompt's tokens 1..<count, each with its logprob given the tokens before it (asked with
    /// `promptLogprobs`; the first token has none). Sent once, before the first token.
    case promptLogprobs([TokenLogprob])
    case finished(Completion)
    case failed(EngineError)
}

/// The summary of a finished request.
public struct Completion: Sendable {
    public var reason: CompletionReason
    public var promptTokens: Int
    public var generatedTokens: [Int]
    public var text: String
    /// Forward passes that emitted this request's tokens, the prefill's last counting once (plain decoding: one per
    /// token; lookahead: fewer when candidates are accepted).
    public var steps: Int
    public var adapter: String?
    /// Engine step counts at submission and at the first token (for fairness measurements).
    public var submittedAtStep: Int
    public var firstTokenAtStep: Int

    public init(reason: CompletionReason, promptTokens: Int, generatedTokens: [Int], text: String, steps: Int,
                adapter: String?, submittedAtStep: Int, firstTokenAtStep: Int) {
        self.reason = reason
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.text = text
        self.steps = steps
        self.adapter = adapter
        self.submittedAtStep = submittedAtStep
        self.firstTokenAtStep = firstTokenAtStep
    }
}

/// A request the engine refuses or cannot finish, with the HTTP-facing kind.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case invalid, rateLimited, tooLarge, unavailable, internalError }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}
