import Engine
import Foundation
import Model
import ModelFactory
import Testing
import Tokenization
import TestSupport

/// `auto` routing on the demo model: prompts written to match each demo adapter's description pick that adapter.
@Suite struct RoutingTests {
    @Test func autoPicksTheMatchingDemoAdapter() throws {
        let dir = try Fixtures.temporaryDirectory("demo-routing")
        defer { try? FileManager.default.removeItem(at: dir) }
        try DemoModel.write(to: dir)
        let model = try LoadedModel(directory: dir)
        let tokenizer = try Tokenizer.load(directory: dir)
        let router = AdapterRouter(transformer: model.transformer, tokenizer: tokenizer)
        let candidates = DemoModel.adapters.map { AdapterRouter.Candidate(name: $0.name, description: $0.description) }
        let prompts = [
            "sql": "Write a SQL query: SELECT the user names and order counts from the orders table, join users, GROUP BY name.",
            "french": "Translate this English sentence into French, and answer in French: the weather is nice today.",
            "python": "Write Python code: a function with a loop, a small class, and unit tests for both.",
        ]
        for (expected, text) in prompts {
            let choice = try #require(try router.choose(promptTokens: tokenizer.encode(text), among: candidates))
            #expect(choice.name == expected, "\"\(text)\" routed to \(choice.name)")
        }
        // No candidate with a description: no choice.
        #expect(try router.choose(promptTokens: [1, 2], among: [.init(name: "x", description: " ")]) == nil)
    }
}
