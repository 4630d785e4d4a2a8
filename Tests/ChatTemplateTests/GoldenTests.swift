// Byte-identical output against Python jinja2 for real chat templates and for one-behaviour snippets.

import Foundation
import Testing
@testable import ChatTemplate

@Suite struct GoldenTests {
    @Test func fixtureLoads() {
        #expect(Golden.loaded.problem == nil)
        #expect(Golden.loaded.templates.count >= 8)
        #expect(Golden.loaded.cases.count >= 300)
        #expect(Golden.loaded.snippets.count >= 100)
    }

    @Test(arguments: Golden.loaded.cases)
    func realTemplate(_ c: GoldenCase) throws { try check(c) }

    @Test(arguments: Golden.loaded.snippets)
    func snippet(_ c: GoldenCase) throws { try check(c) }

    private func check(_ c: GoldenCase) throws {
        let result: Result<String, Error> = Result {
            try ChatTemplate(source: c.source).render(c.context, limits: ChatTemplateLimits(), now: Golden.now)
        }
        switch (c.expected, result) {
        case (.output(let want), .success(let got)):
            #expect(got.utf8.elementsEqual(want.utf8), "\(c.name)\n got: \(got.debugDescription)\nwant: \(want.debugDescription)")
        case (.raised(let want), .failure(let error)):
            let e = error as? ChatTemplateError
            #expect(e?.kind == .raised, "\(c.name): \(error)")
            #expect(e?.message == want, "\(c.name)")
        case (.error(let type, let message), .failure(let error)):
            guard let e = error as? ChatTemplateError else {
                Issue.record("\(c.name): not a ChatTemplateError: \(error)")
                return
            }
            switch type {
            case "TemplateSyntaxError": #expect(e.kind == .syntax, "\(c.name): jinja says \(message); got \(e)")
            case "OverflowError": #expect(e.kind == .limit, "\(c.name): jinja says \(message); got \(e)")
            default: #expect(e.kind == .render, "\(c.name): jinja \(type): \(message); got \(e)")
            }
        case (.output(let want), .failure(let error)):
            Issue.record("\(c.name): expected \(want.debugDescription.prefix(300)), got error \(error)")
        case (.raised(let want), .success(let got)), (.error(_, let want), .success(let got)):
            Issue.record("\(c.name): expected failure \(want), got \(got.debugDescription.prefix(300))")
        }
    }
}
