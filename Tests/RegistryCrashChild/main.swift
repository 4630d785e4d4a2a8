// A child process for the registry crash tests: opens a registry and registers adapters, pausing at a named
// registration stage (printing "paused at STAGE") or looping until killed, so the test can SIGKILL it at a known
// or random point and check what the reopened registry holds.
//
//   registry-crash-child --data-dir D --model M --adapter-root R [--pause-at STAGE] register NAME PATH
//   registry-crash-child --data-dir D --model M --adapter-root R loop PATH...
import Foundation
import Model
import Registry
#if canImport(Glibc)
import Glibc
#endif

func say(_ line: String) {
    print(line)
    fflush(nil)  // all streams: `stdout` is a C global Swift 6 will not touch
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("registry-crash-child: \(message)\n".utf8))
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
var options: [String: String] = [:]
while let first = arguments.first, first.hasPrefix("--") {
    guard arguments.count >= 2 else { fail("\(first) needs a value") }
    options[String(first.dropFirst(2))] = arguments[1]
    arguments.removeFirst(2)
}
guard let dataDir = options["data-dir"], let model = options["model"], let root = options["adapter-root"] else {
    fail("usage: --data-dir D --model M --adapter-root R [--pause-at STAGE] (register NAME PATH | loop PATH...)")
}
let pauseAt = options["pause-at"]
if let pauseAt, RegistrationStage(rawValue: pauseAt) == nil { fail("unknown stage \"\(pauseAt)\"") }

do {
    let modelURL = URL(fileURLWithPath: model)
    let config = try ModelConfig.load(directory: modelURL)
    let registry = try Registry(
        dataDirectory: URL(fileURLWithPath: dataDir), baseModel: ModelFingerprint(modelDirectory: modelURL),
        adapterRoots: [URL(fileURLWithPath: root)], modelConfig: config,
        options: RegistryOptions(stageHook: { stage in
            guard stage.rawValue == pauseAt else { return }
            say("paused at \(stage.rawValue)")
            while true { sleep(3600) }
        }))
    say("ready")
    switch arguments.first {
    case "register":
        guard arguments.count == 3 else { fail("register NAME PATH") }
        let record = try registry.registerAdapter(name: arguments[1], sourcePath: arguments[2])
        say("registered \(record.name) \(record.sha256)")
    case "loop":
        let sources = Array(arguments.dropFirst())
        guard !sources.isEmpty else { fail("loop PATH...") }
        for i in 0..<100_000 {
            let record = try registry.registerAdapter(name: "n\(i)", sourcePath: sources[i % sources.count])
            say("registered \(record.name)")
            if i % 3 == 2 {
                try registry.deleteAdapter(name: "n\(i - 1)", by: "default")
                say("deleted n\(i - 1)")
            }
        }
    default:
        fail("expected register or loop")
    }
} catch {
    fail("\(error)")
}
