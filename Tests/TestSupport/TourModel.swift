import Foundation

/// The real model `make run` serves, SmolLM2-135M-Instruct (Q4_1 GGUF), when `make model` / `make run` / `make test`
/// has fetched it into the cache; tests that can use it fall back to the demo model when it is not there (offline).
public enum TourModel {
    /// The cached GGUF file, asked of scripts/fetch_model.sh (`--cached`: never touches the network) so the tests
    /// look where `make run` puts it; nil when it is not cached.
    public static let cachedGGUF: URL? = {
        let script = Fixtures.repositoryRoot.appendingPathComponent("scripts/fetch_model.sh").path
        guard let r = try? runProduct("/bin/sh", [script, "--cached"]), r.status == 0 else { return nil }
        let path = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.fileExists(atPath: path) ? URL(fileURLWithPath: path) : nil
    }()

    /// The adapters trained for it (adapters/), and the demo model's random ones (adapters/demo/).
    public static let adapters = Fixtures.repositoryRoot.appendingPathComponent("adapters")
    public static let demoAdapters = adapters.appendingPathComponent("demo")
}
