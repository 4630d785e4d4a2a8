import Foundation
import Model
import Safetensors

/// The embedded demo: a small Llama-shaped model with seeded random weights, its byte-level tokenizer, and a few
/// PEFT adapters with descriptions (so `auto` routing has something to choose between). Deterministic: the same
/// version writes the same bytes.
public enum DemoModel {
    /// Bumped whenever the generator's output changes, so cached copies are rebuilt.
    public static let version = 1
    public static let seed: UInt64 = 20_261_121

    public struct AdapterSpec: Sendable {
        public let name: String
        public let rank: Int
        public let alpha: Double
        public let targets: [String]
        public let description: String
    }

    public static let adapters: [AdapterSpec] = [
        AdapterSpec(name: "sql", rank: 8, alpha: 16, targets: ["q_proj", "k_proj", "v_proj", "o_proj"],
                    description: "Writes SQL queries: SELECT statements, joins, GROUP BY and ORDER BY over tables."),
        AdapterSpec(name: "french", rank: 16, alpha: 16,
                    targets: ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"],
                    description: "Translates English sentences into French and answers in French."),
        AdapterSpec(name: "python", rank: 4, alpha: 8,
                    targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                    description: "Writes Python code: functions, classes, loops and unit tests."),
    ]

    /// Writes the model into `directory` and the adapters into `directory/adapters/NAME`.
    public static func write(to directory: URL) throws {
        try ModelWriter.writeModel(shape: .demo, dtype: .f32, seed: seed, to: directory)
        for (i, spec) in adapters.enumerated() {
            let dir = directory.appendingPathComponent("adapters").appendingPathComponent(spec.name)
            try ModelWriter.writeAdapter(shape: .demo, rank: spec.rank, alpha: spec.alpha, targets: spec.targets,
                                         seed: seed &+ UInt64(i + 1), deltaStd: 0.2, to: dir)
            try ModelWriter.writeJSON(["name": spec.name, "description": spec.description],
                                      to: dir.appendingPathComponent("lorad.json"))
        }
    }

    /// The demo model directory in the user's cache, written on first use (atomically, so concurrent first uses
    /// are safe).
    public static func cachedDirectory() throws -> URL {
        let env = ProcessInfo.processInfo.environment
        let cacheRoot: URL
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty {
            cacheRoot = URL(fileURLWithPath: xdg)
        } else if let home = env["HOME"], !home.isEmpty {
            cacheRoot = URL(fileURLWithPath: home).appendingPathComponent(".cache")
        } else {
            cacheRoot = URL(fileURLWithPath: "/tmp/lorad-cache-\(getuid())")
        }
        let root = cacheRoot.appendingPathComponent("lorad")
        let target = root.appendingPathComponent("demo-v\(version)")
        let fm = FileManager.default
        if fm.fileExists(atPath: target.appendingPathComponent("model.safetensors").path) { return target }
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        let staging = root.appendingPathComponent(".demo-v\(version)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try write(to: staging)
        if rename(staging.path, target.path) != 0 {
            // Another process won the race: use its copy.
            try? fm.removeItem(at: staging)
            guard fm.fileExists(atPath: target.appendingPathComponent("model.safetensors").path) else {
                throw ModelError("cannot install the demo model into \(target.path)")
            }
        }
        return target
    }
}
