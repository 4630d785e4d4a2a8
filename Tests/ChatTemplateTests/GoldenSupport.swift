// Loads Fixtures/golden.json (made by make_golden.py with Python jinja2, rendering as transformers does).

import Foundation
import Testing
@testable import ChatTemplate

/// One golden case: a template, its variables, and what jinja2 produced.
struct GoldenCase: Sendable, CustomTestStringConvertible {
    enum Expected: Sendable {
        case output(String)
        case raised(String)
        /// A Python exception (`TypeError`, `UndefinedError`, `TemplateSyntaxError`, ...) and its message.
        case error(type: String, message: String)
    }

    let name: String
    let source: String
    let context: [String: JinjaValue]
    let expected: Expected

    var testDescription: String { name }
}

enum Golden {
    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/golden.json")

    /// The local time make_golden.py froze `strftime_now` at (2024-12-25 10:30:00, naive local time).
    static let now: Date = {
        var c = DateComponents()
        (c.year, c.month, c.day, c.hour, c.minute, c.second) = (2024, 12, 25, 10, 30, 0)
        return Calendar(identifier: .gregorian).date(from: c) ?? Date(timeIntervalSince1970: 0)
    }()

    struct Loaded: Sendable {
        var templates: [String: String] = [:]
        var cases: [GoldenCase] = []
        var snippets: [GoldenCase] = []
        var problem: String? = nil
    }

    static let loaded: Loaded = {
        var out = Loaded()
        do {
            let root = try JinjaValue(jsonData: Data(contentsOf: url))
            guard case .dict(let top) = root, case .dict(let templates)? = top["templates"],
                  case .list(let cases)? = top["cases"], case .list(let snippets)? = top["snippets"]
            else { out.problem = "golden.json does not have templates, cases and snippets"; return out }
            for (name, source) in templates { out.templates[name] = source.stringValue ?? "" }
            out.cases = cases.compactMap { parse($0, templates: out.templates) }
            out.snippets = snippets.compactMap { parse($0, templates: out.templates) }
        } catch {
            out.problem = "cannot load \(url.path): \(error)"
        }
        return out
    }()

    private static func parse(_ v: JinjaValue, templates: [String: String]) -> GoldenCase? {
        guard case .dict(let d) = v, let name = d["name"]?.stringValue, case .dict(let ctx)? = d["context"] else { return nil }
        let source = d["source"]?.stringValue ?? d["template"]?.stringValue.flatMap { templates[$0] } ?? ""
        var context: [String: JinjaValue] = [:]
        for (k, value) in ctx { context[k] = value }
        let expected: GoldenCase.Expected
        if let output = d["output"]?.stringValue {
            expected = .output(output)
        } else if let raised = d["raised"]?.stringValue {
            expected = .raised(raised)
        } else if case .dict(let e)? = d["error"] {
            expected = .error(type: e["type"]?.stringValue ?? "?", message: e["message"]?.stringValue ?? "")
        } else {
            return nil
        }
        return GoldenCase(name: name, source: source, context: context, expected: expected)
    }
}
