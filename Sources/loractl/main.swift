import Foundation
import Wire
#if canImport(Glibc)
import Glibc
#endif

// loractl: manages a running `lorad serve` over its Unix socket, through the wire protocol only.
// Exit codes: 0 ok, 1 the daemon answered with an error, 2 usage error, 3 cannot connect (130 after Ctrl-C).

let usage = """
    usage: loractl [--socket PATH] [--token TOKEN] [--json] COMMAND ...

    commands:
      status                                     the daemon's health, model, load and adapters in memory
      adapters list                              adapters you may use
      adapters add NAME PATH [--tenant T] [--public] [--description TEXT] [--scale S]
      adapters show NAME | rm NAME | load NAME | unload NAME | pin NAME | unpin NAME
      tenants list                               (admin)
      tenants add NAME [--uid UID] [--token] [--max-concurrent N] [--max-adapters N] [--default-adapter A]
      tenants rm NAME
      tenants token NAME [--hash-only]           a new token (--hash-only: no daemon; the tenants-file line)
      generate [--adapter NAME] [--max-tokens N] [--temperature T] [--seed S] [--no-stream] [--ignore-eos] PROMPT
                                                 (PROMPT - reads stdin)

    global options:
      --socket PATH   the daemon's socket (default $LORAD_SOCKET, else $XDG_RUNTIME_DIR/lorad/lorad.sock,
                      else /tmp/lorad-$UID/lorad.sock)
      --token TOKEN   a bearer token (default $LORAD_TOKEN)
      --json          print the daemon's JSON instead of tables

    example: loractl generate --adapter sql "SELECT name FROM"
    Run `loractl COMMAND --help` for a command's usage.
    """

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The daemon answered with an error (exit 1).
struct DaemonError: Error, CustomStringConvertible {
    let description: String
}

/// Flags after the command: declared up front so a misspelt flag is a usage error.
struct Flags {
    var values: [String: String] = [:]
    var positional: [String] = []

    init(_ args: [String], options: Set<String>, switches: Set<String>) throws {
        var i = 0
        while i < args.count {
            let arg = args[i]
            if arg == "--" {
                positional += args[(i + 1)...]
                break
            }
            if arg.hasPrefix("--") && arg.count > 2 {
                var name = String(arg.dropFirst(2))
                var inline: String?
                if let eq = name.firstIndex(of: "=") {
                    inline = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                if switches.contains(name) {
                    guard inline == nil else { throw UsageError("--\(name) takes no value") }
                    values[name] = "true"
                } else if options.contains(name) {
                    if let inline { values[name] = inline } else {
                        guard i + 1 < args.count else { throw UsageError("--\(name) needs a value") }
                        i += 1
                        values[name] = args[i]
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

    func has(_ n: String) -> Bool { values[n] != nil }
    func int(_ n: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let s = values[n] else { return nil }
        guard let v = Int(s), range.contains(v) else { throw UsageError("--\(n) expects an integer in \(range.lowerBound)...\(range.upperBound), got \"\(s)\"") }
        return v
    }
    func double(_ n: String) throws -> Double? {
        guard let s = values[n] else { return nil }
        guard let v = Double(s), v.isFinite else { throw UsageError("--\(n) expects a number, got \"\(s)\"") }
        return v
    }
}

/// Global options, then the command and its arguments.
struct Invocation {
    var socket: String
    var token: String?
    var json = false
    var command: [String] = []

    init(_ args: [String]) throws {
        let env = ProcessInfo.processInfo.environment
        var socket: String?
        token = env["LORAD_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        var i = 0
        while i < args.count {
            let a = args[i]
            if command.isEmpty, a == "--socket" || a == "--token" {
                guard i + 1 < args.count else { throw UsageError("\(a) needs a value") }
                if a == "--socket" { socket = args[i + 1] } else { token = args[i + 1] }
                i += 2
                continue
            }
            if a == "--json" {
                json = true
            } else if command.isEmpty, a.hasPrefix("--socket=") {
                socket = String(a.dropFirst(9))
            } else if command.isEmpty, a.hasPrefix("--token=") {
                token = String(a.dropFirst(8))
            } else {
                command.append(a)
            }
            i += 1
        }
        if let socket { self.socket = socket } else if let s = env["LORAD_SOCKET"], !s.isEmpty {
            self.socket = s
        } else if let r = env["XDG_RUNTIME_DIR"], !r.isEmpty {
            self.socket = r + "/lorad/lorad.sock"
        } else {
            self.socket = "/tmp/lorad-\(getuid())/lorad.sock"
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("loractl: \(message)\n".utf8))
}

let invocation: Invocation
do { invocation = try Invocation(Array(CommandLine.arguments.dropFirst())) } catch {
    printError("\(error)")
    print(usage)
    exit(2)
}
if invocation.command.isEmpty || ["--help", "-h", "help"].contains(invocation.command[0]) {
    print(usage)
    exit(invocation.command.isEmpty ? 2 : 0)
}
let client = DaemonClient(socketPath: invocation.socket, token: invocation.token)
let commands = Commands(client: client, json: invocation.json)
do {
    try commands.run(invocation.command)
    exit(0)
} catch let e as UsageError {
    printError(e.description)
    FileHandle.standardError.write(Data("run `loractl --help` for usage\n".utf8))
    exit(2)
} catch let e as ConnectError {
    printError(e.description)
    exit(3)
} catch let e as DaemonError {
    printError(e.description)
    exit(1)
} catch {
    printError("\(error)")
    exit(1)
}
