import Foundation

/// Paths to the repository's test fixtures (copied from the reference outputs; see Tests/Fixtures/README.md).
public enum Fixtures {
    /// The repository root, found from this file's location so tests run from any clone and any working directory.
    public static let repositoryRoot: URL = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    public static let directory = repositoryRoot.appendingPathComponent("Tests/Fixtures")
    public static let tinyLlama = directory.appendingPathComponent("tiny-llama")
    public static let tokenizers = directory.appendingPathComponent("tokenizers")
    public static let tokenizerCases = directory.appendingPathComponent("tokenizer_cases.json")

    /// A fresh temporary directory, removed by the caller (or left for the OS in /tmp).
    public static func temporaryDirectory(_ label: String = "lorad-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The built `lorad` / `loractl` binaries next to the test bundle (swift build puts them in the same folder).
    public static func builtProduct(_ name: String) -> URL {
        let bundle = Bundle.main.bundleURL
        var dir = bundle.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return repositoryRoot.appendingPathComponent(".build/debug/\(name)")
    }
}
