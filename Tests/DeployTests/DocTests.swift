import Foundation
import Testing
import TestSupport

/// The commands README.md and docs/api.md show, run against a fresh demo daemon: each exits 0 and prints what the
/// document shows (JSON with the same keys, tables with the same header and rows).
@Suite struct DocTests {
    static let root = Fixtures.repositoryRoot
    /// The documents' examples are curl commands.
    /// The docs' examples use curl (`make deps` installs it); without it they fail rather than skip.
    static let missingCurl: String? = (try? runProduct("/usr/bin/env", ["curl", "--version"]))?.status == 0
        ? nil : "curl is not installed: `make deps` installs it"

    static func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// A demo daemon with the demo model's adapters registered, as `make run RUN_MODEL=demo` starts it, plus a TCP
    /// listener.
    static func demoDaemon() throws -> TestDaemon {
        try TestDaemon(model: "demo", extraArguments: [
            "--register-adapters", TourModel.demoAdapters.path, "--listen-tcp", "127.0.0.1:0",
        ])
    }

    /// The daemon the README tour runs on, as `make run` starts it, plus a TCP listener: SmolLM2-135M-Instruct with
    /// the adapters trained for it when the model is cached (`make model`, `make run`, `make test` fetch it), else
    /// the demo model with its random adapters. True with the real model.
    static func tourDaemon() throws -> (TestDaemon, Bool) {
        guard let gguf = TourModel.cachedGGUF else { return (try demoDaemon(), false) }
        return (try TestDaemon(model: gguf.path, extraArguments: [
            "--register-adapters", TourModel.adapters.path, "--listen-tcp", "127.0.0.1:0",
        ]), true)
    }

    /// Runs `commands` against `daemon` (the demo daemon when nil); with `realModel`, generated text must also start
    /// as documented.
    static func run(_ commands: [DocCommand], scripts: [String: String] = [:], daemon: TestDaemon? = nil,
                    realModel: Bool = false) throws {
        let daemon = try daemon ?? demoDaemon()
        defer { daemon.stop() }
        if let missingCurl { Issue.record(Comment(rawValue: missingCurl)); return }
        let runner = try DocRunner(daemon: daemon, scripts: scripts, realModel: realModel)
        for c in commands {
            if let problem = try runner.check(c) {
                Issue.record("\(problem)\(runner.skippedSummary)\n--- daemon log:\n\(daemon.log)")
            }
        }
    }

    @Test func readmeTourRunsAsWritten() throws {
        let readme = try Self.read("README.md")
        let section = "Five-minute tour"
        let commands = DocExamples.commands(readme, file: "README.md", section: section)
        // The tour keeps showing what a newcomer needs.
        let all = commands.map(\.command).joined(separator: "\n")
        for needed in ["make run", "loractl adapters list", "loractl generate --adapter sql", "--adapter french",
                       "--adapter python", "--adapter auto", "curl -s --unix-socket", "loractl tenants add",
                       "Authorization: Bearer", "python3 openai_tour.py"] {
            #expect(all.contains(needed), "the README tour no longer shows \(needed)")
        }
        let scripts = DocExamples.scripts(readme, language: "python", section: section)
        #expect(scripts["openai_tour.py"]?.contains("from openai import OpenAI") == true)
        #expect(scripts["openai_tour.py"]?.contains("client.chat.completions.create") == true)
        let (daemon, realModel) = try Self.tourDaemon()
        try Self.run(commands, scripts: scripts, daemon: daemon, realModel: realModel)
    }

    @Test func apiDocExamplesRunAsWritten() throws {
        let commands = DocExamples.commands(try Self.read("docs/api.md"), file: "docs/api.md", section: nil)
        #expect(commands.count >= 20)
        try Self.run(commands)
    }

    /// Every path of docs/openapi.yaml has a curl example in docs/api.md (a `{name}` matches any segment).
    @Test func apiDocCoversEveryEndpoint() throws {
        let openapi = try Self.read("docs/openapi.yaml")
        let paths = openapi.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  /"), line.hasSuffix(":") else { return nil }
            return String(line.dropFirst(2).dropLast())
        }
        #expect(paths.count >= 10)
        let commands = DocExamples.commands(try Self.read("docs/api.md"), file: "docs/api.md", section: nil)
        let curled = commands.filter { $0.firstWord == "curl" }.compactMap { c -> String? in
            guard let r = c.command.range(of: #"http://[^/ ]+(/[^ ?'"\\]*)"#, options: .regularExpression) else { return nil }
            let url = String(c.command[r])
            return String(url[url.index(url.startIndex, offsetBy: 7)...].drop { $0 != "/" })
        }
        for path in paths {
            let pattern = "^" + path.replacingOccurrences(of: #"\{[a-z]+\}"#, with: "[^/]+", options: .regularExpression) + "$"
            #expect(curled.contains { $0.range(of: pattern, options: .regularExpression) != nil },
                    "docs/api.md has no curl example for \(path)")
        }
    }

    /// The parser itself, on a small document.
    @Test func examplesAreReadFromConsoleBlocks() {
        let doc = """
            ## Other
            ```console
            $ loractl status
            hidden
            ```
            ## Tour
            ```console
            output of another terminal
            $ curl -s http://localhost/x \\
                -d '{}'
            {"a": 1}
            $ loractl adapters list
            NAME  RANK

            ```
            ```python
            # t.py: a script
            print(1)
            ```
            """
        let commands = DocExamples.commands(doc, file: "d.md", section: "Tour")
        #expect(commands.map(\.command) == ["curl -s http://localhost/x \\\n    -d '{}'", "loractl adapters list"])
        #expect(commands.map(\.expected) == [["{\"a\": 1}"], ["NAME  RANK", ""]])
        #expect(commands.first?.location == "d.md:9")
        #expect(DocExamples.scripts(doc, language: "python", section: "Tour")["t.py"] == "# t.py: a script\nprint(1)\n")
        #expect(OutputMatch.problem(expected: ["{\"a\": 1, \"b\": [{\"c\": 2}]}"], actual: "{\"a\": 7, \"b\": [{\"c\": null}]}",
                                    command: "curl") == nil)
        #expect(OutputMatch.problem(expected: ["{\"a\": 1}"], actual: "{\"b\": 1}", command: "curl") != nil)
        #expect(OutputMatch.problem(expected: ["NAME  RANK", "sql   8"], actual: "NAME RANK\nsql 16\n", command: "loractl") == nil)
        #expect(OutputMatch.problem(expected: ["NAME  RANK", "sql   8"], actual: "NAME RANK\n", command: "loractl") != nil)
    }
}
