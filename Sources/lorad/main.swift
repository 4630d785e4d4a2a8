import Foundation
import Kernels

let usage = """
    usage: lorad COMMAND [options]

    commands:
      serve             the daemon: OpenAI-compatible API and adapter management over a Unix socket
      run               one-shot generation without a daemon
      tokenize          token ids of a text
      detokenize        text of token ids
      make-demo DIR     write the demo model and demo adapters
      make-bench-model DIR   write a random model of a real model's shape
      perplexity        perplexity of a text file, as llama-perplexity computes it
      bench SCENARIO    benchmarks (decode, mixed, serve, matmul, tokenizer)

    Run `lorad COMMAND --help` for a command's options.
    """

func dispatch(_ args: [String]) throws {
    guard let command = args.first else { throw UsageError("missing command") }
    let rest = Array(args.dropFirst())
    switch command {
    case "serve": try serveCommand(rest)
    case "run": try runCommand(rest)
    case "tokenize": try tokenizeCommand(rest)
    case "detokenize": try detokenizeCommand(rest)
    case "make-demo": try makeDemoCommand(rest)
    case "make-bench-model": try makeBenchModelCommand(rest)
    case "bench": try benchCommand(rest)
    case "perplexity": try perplexityCommand(rest)
    case "--help", "-h", "help":
        print(usage)
    default:
        throw UsageError("unknown command \"\(command)\"")
    }
}

do {
    try dispatch(Array(CommandLine.arguments.dropFirst()))
    exit(0)
} catch let error as UsageError {
    log("lorad: \(error.description)")
    log(usage)
    exit(2)
} catch {
    log("lorad: \(error)")
    exit(1)
}
