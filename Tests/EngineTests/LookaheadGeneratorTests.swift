import Adapters
import Foundation
import Model
import ModelFactory
import Testing
import TestSupport

/// Lookahead decoding in the single-sequence `Generator` (what `lorad run` uses): the same tokens as plain decoding.
@Suite struct LookaheadGeneratorTests {
    static let shapes: [LookaheadMode] = [
        .fixed(LookaheadShape(w: 1, n: 1, g: 0)), .fixed(LookaheadShape(w: 1, n: 2, g: 1)),
        .fixed(LookaheadShape(w: 5, n: 4, g: 5)), .fixed(LookaheadShape(w: 15, n: 5, g: 15)),
        .fixed(LookaheadShape(w: 3, n: 2, g: 8)), .auto,
    ]

    /// Greedy lookahead output equals the reference greedy tokens for every shape, on the base model and adapters.
    @Test(arguments: shapes)
    func greedyMatchesReferences(_ mode: LookaheadMode) throws {
        let refs = EngineFixture.refs
        let generator = Generator(model: LookaheadFixture.model)
        for (variant, adapter) in [("__base__", nil), ("a2-r16-all-rslora", EngineFixture.adapters["a2-r16-all-rslora"])] {
            for i in [0, 6, 11] {
                let g = try generator.generate(prompt: refs.prompts[i].ids, maxTokens: 48, stopAtEOS: false,
                                               adapter: adapter?.weights, lookahead: mode, stepCost: .flat)
                #expect(g.tokenIds == refs.variants[variant]![i].greedyIds, "\(variant) prompt \(i) \(mode)")
                #expect(g.steps <= g.tokenIds.count)
            }
        }
    }

    /// A repetitive prompt on the demo model: lookahead takes fewer steps than tokens and gives the same tokens.
    @Test func demoModelRepetitivePromptTakesFewerSteps() throws {
        let model = try LoadedModel(directory: try DemoModel.cachedDirectory())
        let generator = Generator(model: model)
        let unit = [510, 84, 104, 101, 32, 113, 117, 105]
        let prompt = Array((0..<6).map { _ in unit }.joined())
        let plain = try generator.generate(prompt: prompt, maxTokens: 40, stopAtEOS: false)
        for mode in Self.shapes {
            let g = try generator.generate(prompt: prompt, maxTokens: 40, stopAtEOS: false, lookahead: mode,
                                           stepCost: .flat)
            #expect(g.tokenIds == plain.tokenIds, "\(mode)")
        }
        let la = try generator.generate(prompt: prompt, maxTokens: 40, stopAtEOS: false,
                                        lookahead: .fixed(LookaheadShape(w: 5, n: 4, g: 5)))
        #expect(plain.steps == 40)
        print("demo repetitive: \(la.steps) steps for 40 tokens")
    }
}
