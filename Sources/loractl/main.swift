import Foundation

// loractl talks to a running `lorad serve` over its Unix socket. The daemon API arrives with issue 7 and the client
// commands with issue 8; until then every command says so and exits with the usage code.
let usage = """
    usage: loractl [--socket PATH] [--token TOKEN] [--json] COMMAND ...
      status | adapters ... | tenants ... | generate ...
    """

let args = Array(CommandLine.arguments.dropFirst())
if args.isEmpty || args.contains("--help") || args.contains("-h") {
    print(usage)
    exit(args.isEmpty ? 2 : 0)
}
FileHandle.standardError.write(Data("loractl: the daemon API is not available in this build yet\n".utf8))
exit(2)
