import Foundation
import Kernels

/// A usage error: printed with the command's usage, exit code 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// A failure the user must see (bad model directory, bad input): printed as `lorad: message`, exit code 1.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Minimal `--flag value` / `--switch` parser. Every flag a command accepts is declared up front, so an unknown or
/// misspelt flag is a usage error instead of being silently ignored.
struct Arguments {
    private var values: [String: [String]] = [:]
    private(set) var positional: [String] = []

    /// - options: flags that take a value (`--model DIR`); repeatable flags keep every value.
    /// - switches: flags without a value (`--json`).
    init(_ args: [String], options: Set<String>, switches: Set<String>) throws {
        var i = 0
        while i < args.count {
            let arg = args[i]
            if arg == "--" {
                positional.append(contentsOf: args[(i + 1)...])
                break
            }
            if arg.hasPrefix("--") {
                var name = String(arg.dropFirst(2))
                var inlineValue: String?
                if let eq = name.firstIndex(of: "=") {
                    inlineValue = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                if switches.contains(name) {
                    guard inlineValue == nil else { throw UsageError("--\(name) takes no value") }
                    values[name, default: []].append("true")
                } else if options.contains(name) {
                    if let v = inlineValue {
                        values[name, default: []].append(v)
                    } else {
                        guard i + 1 < args.count else { throw UsageError("--\(name) needs a value") }
                        i += 1
                        values[name, default: []].append(args[i])
                    }
                } else {
                    throw UsageError("unknown option --\(name)")
                }
            } else {
                positional.append(arg)
            }
            i += 1
        }
    }

    func has(_ name: String) -> Bool { values[name] != nil }
    func string(_ name: String) -> String? { values[name]?.last }
    func strings(_ name: String) -> [String] { values[name] ?? [] }

    func int(_ name: String) throws -> Int? {
        guard let s = string(name) else { return nil }
        guard let v = Int(s) else { throw UsageError("--\(name) expects an integer, got \"\(s)\"") }
        return v
    }

    func double(_ name: String) throws -> Double? {
        guard let s = string(name) else { return nil }
        guard let v = Double(s), v.isFinite else { throw UsageError("--\(name) expects a number, got \"\(s)\"") }
        return v
    }

    /// A comma-separated list of integers, e.g. `--prompt-ids 1,2,3`.
    func intList(_ name: String) throws -> [Int]? {
        guard let s = string(name) else { return nil }
        var out: [Int] = []
        for part in s.split(separator: ",", omittingEmptySubsequences: false) {
            let t = part.trimmingCharacters(in: .whitespaces)
            guard let v = Int(t) else { throw UsageError("--\(name) expects comma-separated integers, got \"\(t)\"") }
            out.append(v)
        }
        return out
    }
}

/// Standard error output, one line per call.
func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// JSON output for `--json`: sorted keys so scripts and tests see stable text.
/// A benchmark's JSON report, with the CPU path its kernels ran on ("cpu_path": "avx512" / "avx2" / "scalar").
func printBenchJSON(_ result: [String: Any]) throws {
    var result = result
    result["cpu_path"] = CPUPath.current.description
    try printJSON(result)
}

func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}
