import Foundation
import TestSupport

/// One `$ command` of a ```console block in a Markdown file, with the output the document shows under it.
struct DocCommand: CustomStringConvertible {
    /// The command; continuation lines (after a trailing `\`) are kept, joined with newlines.
    var command: String
    /// The output lines the document shows, up to the next `$ ` line or the end of the block.
    var expected: [String]
    /// Where the command starts: "README.md:42".
    var location: String

    var firstWord: String { String(command.split(separator: " ").first ?? "") }
    var description: String { "\(location): `\(command.split(separator: "\n").first ?? "")`" }
}

/// Reads the examples out of a Markdown file: ```console blocks as commands with their output, and other fenced
/// blocks by language.
enum DocExamples {
    /// The fenced blocks of `language` in the `## section` (nil: the whole file): (first line number, lines).
    static func blocks(_ markdown: String, language: String, section: String?) -> [(line: Int, lines: [String])] {
        var out: [(Int, [String])] = []
        var inSection = section == nil
        var current: (Int, [String])?
        var fence: String?
        for (i, line) in markdown.components(separatedBy: "\n").enumerated() {
            if let open = fence {
                if line.trimmingCharacters(in: .whitespaces) == "```" {
                    if open == language, inSection, let c = current { out.append(c) }
                    fence = nil
                    current = nil
                } else {
                    current?.1.append(line)
                }
                continue
            }
            if line.hasPrefix("```") {
                fence = String(line.dropFirst(3)).trimmingCharacters(in: .whitespaces)
                current = (i + 2, [])
            } else if line.hasPrefix("## "), let section {
                inSection = line.dropFirst(3).trimmingCharacters(in: .whitespaces) == section
            }
        }
        return out
    }

    /// The `$ ` commands of the ```console blocks, each with the output shown under it. Lines of a block before its
    /// first `$ ` (output of a command in another terminal) belong to no command.
    static func commands(_ markdown: String, file: String, section: String?) -> [DocCommand] {
        var out: [DocCommand] = []
        for block in blocks(markdown, language: "console", section: section) {
            var current: DocCommand?
            var continuing = false
            for (offset, line) in block.lines.enumerated() {
                if continuing {
                    current?.command += "\n" + line
                    continuing = line.hasSuffix("\\")
                } else if line.hasPrefix("$ ") {
                    if let c = current { out.append(c) }
                    current = DocCommand(command: String(line.dropFirst(2)), expected: [],
                                         location: "\(file):\(block.line + offset)")
                    continuing = line.hasSuffix("\\")
                } else {
                    current?.expected.append(line)
                }
            }
            if let c = current { out.append(c) }
        }
        return out
    }

    /// Scripts in fenced blocks of `language` whose first line is a comment naming the file: `# name.py: ...`.
    static func scripts(_ markdown: String, language: String, section: String?) -> [String: String] {
        var out: [String: String] = [:]
        for block in blocks(markdown, language: language, section: section) {
            guard let first = block.lines.first, first.hasPrefix("# "),
                  let name = first.dropFirst(2).split(separator: ":").first, name.contains(".") else { continue }
            out[String(name)] = block.lines.joined(separator: "\n") + "\n"
        }
        return out
    }
}

/// Runs documented commands against a test daemon, the way a reader would type them in the repository root: the
/// document's socket, TCP port and tokens are replaced by the daemon's, `export` lines carry over to later
/// commands, and the built loractl comes first on PATH.
final class DocRunner {
    /// What the documents use: the tour's socket and TCP listener.
    static let documentedSocket = "/tmp/lorad-tour.sock"
    static let documentedTCP = "127.0.0.1:8080"
    static let tokenPattern = try! NSRegularExpression(pattern: "lrd_[A-Za-z0-9_-]{16,}")

    let daemon: TestDaemon
    let tcpPort: Int?
    let scripts: [String: String]
    let scriptDirectory: URL
    let productDirectory = Fixtures.builtProduct("loractl").deletingLastPathComponent()
    private(set) var environment: [String: String]
    /// Document token -> the token this daemon issued in its place.
    private var tokens: [String: String] = [:]
    /// Commands not run, with the reason (shown when a test fails).
    private(set) var skipped: [String] = []

    /// Nil when the project's python3 has the `openai` client, else what is missing.
    static let missingOpenAIClient: String? = TestPython.missing("openai")

    /// The daemon serves the real model (SmolLM2), not the demo: generated text is checked too.
    let realModel: Bool

    init(daemon: TestDaemon, scripts: [String: String] = [:], realModel: Bool = false) throws {
        self.daemon = daemon
        self.scripts = scripts
        self.realModel = realModel
        scriptDirectory = try Fixtures.temporaryDirectory("lorad-doc-scripts")
        tcpPort = Self.tcpPort(in: daemon.log)
        environment = ProcessInfo.processInfo.environment
        environment["LORAD_SOCKET"] = nil
        environment["LORAD_TOKEN"] = nil
        environment["PATH"] = productDirectory.path + ":" + TestPython.path(prepending: environment["PATH"])
        for (name, text) in scripts {
            try substituted(text).write(to: scriptDirectory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
    }

    /// The port of "tcp 127.0.0.1:PORT" in the daemon's ready line.
    static func tcpPort(in log: String) -> Int? {
        guard let range = log.range(of: #"tcp [0-9.]+:([0-9]+)"#, options: .regularExpression) else { return nil }
        return Int(log[range].split(separator: ":").last ?? "")
    }

    func substituted(_ text: String) -> String {
        var s = text.replacingOccurrences(of: Self.documentedSocket, with: daemon.socketPath)
        if let tcpPort { s = s.replacingOccurrences(of: Self.documentedTCP, with: "127.0.0.1:\(tcpPort)") }
        for (documented, actual) in tokens { s = s.replacingOccurrences(of: documented, with: actual) }
        for name in scripts.keys {
            s = s.replacingOccurrences(of: " \(name)", with: " " + scriptDirectory.appendingPathComponent(name).path)
        }
        return s
    }

    private static func tokensIn(_ text: String) -> [String] {
        tokenPattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range, in: text).map { String(text[$0]) }
        }
    }

    /// Runs `c` (unless it is one a test does not run: builds, installs, daemons) and returns what is wrong with
    /// its outcome, or nil.
    func check(_ c: DocCommand) throws -> String? {
        switch c.firstWord {
        case "loractl", "curl":
            break
        case "printf" where c.command.contains("| loractl "):
            // A prompt with newlines, piped into loractl.
            break
        case "export":
            return try export(c)
        case "python3" where scripts.keys.contains(where: { c.command.contains($0) }):
            // A documented step is run or fails the test: it is never skipped for a missing tool.
            if let missing = Self.missingOpenAIClient { return "\(c): \(missing)" }
        default:
            skipped.append("\(c): not run by tests")
            return nil
        }
        let result = try shell(substituted(c.command))
        let output = result.stdout + result.stderr
        // A token the document shows is the one this run printed in the same place.
        for (documented, actual) in zip(Self.tokensIn(c.expected.joined(separator: "\n")), Self.tokensIn(output)) {
            tokens[documented] = actual
        }
        guard result.status == 0 else { return "\(c) exited \(result.status):\n\(output)" }
        if let problem = OutputMatch.problem(expected: c.expected, actual: result.stdout, command: c.command,
                                             realModel: realModel) {
            return "\(c): \(problem)\n--- documented:\n\(c.expected.joined(separator: "\n"))\n--- printed:\n\(output)"
        }
        return nil
    }

    /// `export A=B ...`: evaluated by the shell; every variable it leaves carries over (PATH keeps the built
    /// products first, so the binaries under test run, not an older release build).
    private func export(_ c: DocCommand) throws -> String? {
        let result = try shell(substituted(c.command) + " && env -0")
        guard result.status == 0 else { return "\(c) exited \(result.status): \(result.stderr)" }
        var env: [String: String] = [:]
        for entry in result.stdout.split(separator: "\0") {
            guard let eq = entry.firstIndex(of: "=") else { continue }
            env[String(entry[..<eq])] = String(entry[entry.index(after: eq)...])
        }
        env["PATH"] = productDirectory.path + ":" + TestPython.path(prepending: env["PATH"])
        environment = env
        return nil
    }

    func shell(_ command: String) throws -> CommandResult {
        let root = Fixtures.repositoryRoot.path.replacingOccurrences(of: "'", with: "'\\''")
        var env = environment
        env["PWD"] = Fixtures.repositoryRoot.path
        return try runProduct("/bin/sh", ["-c", "cd '\(root)' && \(command)"], environment: env)
    }

    var skippedSummary: String { skipped.isEmpty ? "" : "\nnot run:\n" + skipped.joined(separator: "\n") }
}

/// Whether printed output matches the output a document shows, as far as it can stay the same from run to run:
/// ids, times, counts and the demo model's text change; JSON keys, table headers and row names do not. With the
/// real model (`realModel`), greedy text starts with the documented words and `auto` picks the documented adapter.
enum OutputMatch {
    static func problem(expected: [String], actual: String, command: String, realModel: Bool = false) -> String? {
        let shown = expected.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard !shown.isEmpty else { return nil }
        if command.contains("loractl") && command.contains(" generate") && json(shown.joined(separator: "\n")) == nil {
            // Generated text. The demo model's is noise that any change to the kernels' rounding may alter.
            let printed = actual.trimmingCharacters(in: .whitespacesAndNewlines)
            if printed.isEmpty { return "printed no text" }
            return realModel ? startProblem(shown.joined(separator: "\n"), printed) : nil
        }
        if shown.allSatisfy({ $0.hasPrefix("data: ") }) { return eventStreamProblem(shown, actual) }
        if let documented = json(shown.joined(separator: "\n")) {
            guard let printed = json(actual) else { return "printed no JSON" }
            if let problem = shapeProblem(documented, printed, path: "$") { return problem }
            return realModel ? valueProblem(documented, printed, path: "$") : nil
        }
        // A script's lines with the real model: the first two fields ("sql: SELECT"), else the first.
        let fields = realModel && command.hasPrefix("python3") ? 2 : 1
        let printedStarts = Set(actual.split(separator: "\n").map { $0.split(separator: " ").prefix(fields) })
        for line in shown {
            let start = line.split(separator: " ").prefix(fields)
            guard !start.isEmpty else { continue }
            if !printedStarts.contains(start) { return "no printed line starts with \"\(start.joined(separator: " "))\"" }
        }
        return nil
    }

    /// Greedy text of the real model: the first two words as documented (later words may change with the
    /// kernels' rounding).
    static func startProblem(_ documented: String, _ printed: String) -> String? {
        let d = documented.split(whereSeparator: \.isWhitespace).prefix(2), p = printed.split(whereSeparator: \.isWhitespace).prefix(2)
        return d.elementsEqual(p) ? nil : "the text starts \"\(p.joined(separator: " "))\", documented \"\(d.joined(separator: " "))\""
    }

    /// The real model's answers: `adapter` (what `auto` chose) as documented; generated `text`/`content` starting as
    /// documented. Lists are compared by their first element, as in shapeProblem.
    static func valueProblem(_ documented: Any, _ printed: Any, path: String) -> String? {
        switch (documented, printed) {
        case (let d as [String: Any], let p as [String: Any]):
            for key in d.keys.sorted() {
                guard let dv = d[key], let pv = p[key] else { continue }
                if key == "adapter", let ds = dv as? String, ds != pv as? String {
                    return "\(path).adapter: printed \(pv), documented \(ds)"
                }
                if key == "text" || key == "content", let ds = dv as? String, let ps = pv as? String, !ds.isEmpty,
                   let problem = startProblem(ds, ps) {
                    return "\(path).\(key): \(problem)"
                }
                if let problem = valueProblem(dv, pv, path: "\(path).\(key)") { return problem }
            }
            return nil
        case (let d as [Any], let p as [Any]):
            guard let df = d.first, let pf = p.first else { return nil }
            return valueProblem(df, pf, path: "\(path)[0]")
        default:
            return nil
        }
    }

    static func json(_ text: String) -> Any? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.hasPrefix("{") || t.hasPrefix("[") else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(t.utf8), options: [.fragmentsAllowed])
    }

    /// Server-sent events: the last JSON event has the documented last event's keys, and [DONE] ends both.
    static func eventStreamProblem(_ shown: [String], _ actual: String) -> String? {
        let documented = shown.map { String($0.dropFirst(6)) }
        let printed = UnixHTTPClient.events(Array(actual.utf8))
        guard printed.count >= 2 else { return "printed \(printed.count) events" }
        if documented.last == "[DONE]" && printed.last != "[DONE]" { return "the stream does not end with [DONE]" }
        guard let d = documented.last(where: { $0 != "[DONE]" }).flatMap(json),
              let p = printed.last(where: { $0 != "[DONE]" }).flatMap(json) else { return "the events are not JSON" }
        return shapeProblem(d, p, path: "last event")
    }

    /// Objects keyed by data rather than by field name (top_logprobs: token -> logprob): any keys match.
    static let dataKeyedObjects: Set<String> = ["top_logprobs"]

    /// Objects must have the same keys, recursively; lists are compared by their first element.
    static func shapeProblem(_ documented: Any, _ printed: Any, path: String) -> String? {
        switch (documented, printed) {
        case (is [String: Any], is [String: Any])
            where dataKeyedObjects.contains { path.hasSuffix(".\($0)[0]") }:
            return nil
        case (let d as [String: Any], let p as [String: Any]):
            let dk = Set(d.keys), pk = Set(p.keys)
            if dk != pk {
                return "\(path): documented keys \(dk.subtracting(pk).sorted()) missing, printed keys \(pk.subtracting(dk).sorted()) not documented"
            }
            for key in dk.sorted() {
                if let problem = shapeProblem(d[key]!, p[key]!, path: "\(path).\(key)") { return problem }
            }
            return nil
        case (let d as [Any], let p as [Any]):
            guard let first = d.first else { return nil }
            guard let printedFirst = p.first else { return "\(path): documented a non-empty list, printed []" }
            return shapeProblem(first, printedFirst, path: "\(path)[0]")
        case (is [String: Any], _), (is [Any], _), (_, is [String: Any]), (_, is [Any]):
            return "\(path): documented \(type(of: documented)), printed \(type(of: printed))"
        default:
            return nil
        }
    }
}
