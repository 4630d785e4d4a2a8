import Engine
import Foundation
import Grammar
import Model
import Testing
import TestSupport

/// Structured output in the engine: sequences with grammars (each its own schema) beside sequences without, on
/// different adapters, in one mixed batch, greedy and sampled, with and without lookahead. Every constrained
/// completion that stops (EOS) parses and validates; lookahead gives the tokens of the grammar alone; neighbours
/// without a grammar get their usual tokens.
@Suite(.serialized) struct GrammarEngineTests {
    static let vocabulary = TokenVocabulary(
        tokenBytes: (0..<EngineFixture.tokenizer.vocabularySize).map { EngineFixture.tokenizer.tokenBytes(forId: $0) },
        stopTokens: LookaheadFixture.model.generation.eosTokenIds)
    static var stops: Set<Int> { Set(LookaheadFixture.model.generation.eosTokenIds) }

    /// Bounded strings and arrays so a random-ish model's output ends within max_tokens.
    static let schemas = [
        #"{"type":"object","properties":{"name":{"type":"string","maxLength":6},"tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":3},"child":{"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer"}},"required":["ok","n"],"additionalProperties":false}},"required":["name","tags","child"],"additionalProperties":false}"#,
        #"{"type":"object","properties":{"v":{"anyOf":[{"type":"string","maxLength":4},{"type":"number"},{"type":"null"}]},"kind":{"enum":["x","y"]}},"required":["v","kind"],"additionalProperties":false}"#,
        #"{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"},"label":{"type":"string","maxLength":3}},"required":["id","label"],"additionalProperties":false},"minItems":1,"maxItems":2}"#,
    ]

    static func constraint(_ schema: String) throws -> TokenConstraintFactory {
        let grammar = try GrammarSpec.jsonSchema(schema, strict: true).compile()
        return GrammarConstraint.factory(GrammarStates(grammar: grammar, vocabulary: vocabulary))
    }

    struct Run {
        var constrained: [[Int]] = []
        var reasons: [CompletionReason] = []
        var plain: [[Int]] = []
    }

    /// One mixed batch: each schema on its own adapter (greedy or sampled), and two sequences without a grammar.
    static func run(sampled: Bool, lookahead: LookaheadMode) throws -> Run {
        let engine = LookaheadEngineTests.engine()
        defer { engine.shutdown() }
        let refs = EngineFixture.refs
        let names = EngineFixture.adapterNames
        var constrained: [Collector] = [], plain: [Collector] = []
        for (i, schema) in schemas.enumerated() {
            let c = Collector()
            let sampling = sampled ? SamplingParameters(temperature: 0.9, topP: 0.95, seed: UInt64(11 + i)) : .greedy
            try engine.submit(GenerationRequest(promptTokens: refs.prompts[i].ids, adapter: EngineFixture.adapters[names[i]],
                                                sampling: sampling, maxTokens: 300, stopTokenIds: stops,
                                                lookahead: lookahead, constraint: try constraint(schema)), sink: c.sink)
            constrained.append(c)
        }
        for i in 0..<2 {
            let c = Collector()
            try engine.submit(GenerationRequest(promptTokens: refs.prompts[4 + i].ids,
                                                adapter: i == 0 ? nil : EngineFixture.adapters[names[3]],
                                                maxTokens: 24, lookahead: lookahead), sink: c.sink)
            plain.append(c)
        }
        var run = Run()
        for c in constrained {
            let done = try #require(c.wait())
            run.constrained.append(c.tokens)
            run.reasons.append(done.reason)
        }
        for c in plain {
            _ = try #require(c.wait())
            run.plain.append(c.tokens)
        }
        return run
    }

    @Test(arguments: [false, true])
    func completionsValidateAndLookaheadChangesNothing(sampled: Bool) throws {
        let alone = try Self.run(sampled: sampled, lookahead: .off)
        for (i, ids) in alone.constrained.enumerated() {
            #expect(alone.reasons[i] == .stop, "schema \(i) \(sampled ? "sampled" : "greedy") ended by \(alone.reasons[i])")
            let body = ids.filter { !Self.stops.contains($0) }
            let text = EngineFixture.tokenizer.decode(body)
            #expect(SchemaValidator(Self.schemas[i]).problem(text) == nil, "schema \(i): \(text)")
        }
        for shape in [LookaheadMode.fixed(LookaheadShape(w: 4, n: 3, g: 4)), .fixed(LookaheadShape(w: 8, n: 4, g: 8))] {
            let ahead = try Self.run(sampled: sampled, lookahead: shape)
            #expect(ahead.constrained == alone.constrained, "grammar with \(shape) differs from the grammar alone")
            #expect(ahead.plain == alone.plain)
        }
        // The neighbours without a grammar are what they are without constrained sequences beside them.
        let refs = EngineFixture.refs
        #expect(alone.plain[0] == Array(refs.variants["__base__"]![4].greedyIds.prefix(24)))
    }
}

/// Tokens a grammar forces (a property name, a closing bracket) are proposed as a lookahead candidate, so one step
/// verifies several of them: fewer steps than tokens, the same tokens as decoding without lookahead.
@Suite(.serialized) struct ForcedTokenTests {
    @Test func forcedTokensTakeFewerSteps() throws {
        let schema = #"{"type":"object","properties":{"the_first_rather_long_property_name":{"enum":["alpha_value","beta_value"]},"another_long_property_name_here":{"type":"boolean"}},"required":["the_first_rather_long_property_name","another_long_property_name_here"],"additionalProperties":false}"#
        let engine = LookaheadEngineTests.engine()
        defer { engine.shutdown() }
        var results: [[Int]] = []
        var steps: [Int] = []
        for mode in [LookaheadMode.off, .fixed(LookaheadShape(w: 1, n: 8, g: 1))] {
            let c = try engine.run(GenerationRequest(promptTokens: EngineFixture.refs.prompts[1].ids, maxTokens: 200,
                                                     stopTokenIds: GrammarEngineTests.stops, lookahead: mode,
                                                     constraint: try GrammarEngineTests.constraint(schema)))
            let done = try #require(c.wait())
            #expect(done.reason == .stop)
            results.append(c.tokens)
            steps.append(done.steps)
        }
        #expect(results[0] == results[1])
        #expect(steps[0] == results[0].count)
        #expect(steps[1] * 4 < results[1].count * 3, "steps \(steps[1]) for \(results[1].count) tokens")
    }
}
