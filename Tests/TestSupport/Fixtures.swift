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

/// The Python tools the tests use (the `openai` client, PyYAML) live in the project's own virtual environment,
/// `.build/venv`, which `make test` creates from the pinned list in the Makefile; the system Python is never changed.
public enum TestPython {
    /// The virtual environment's bin directory.
    public static let binDirectory = Fixtures.repositoryRoot.appendingPathComponent(".build/venv/bin")

    /// `path` with the virtual environment's bin directory first, so `python3` is the project's.
    public static func path(prepending path: String?) -> String {
        binDirectory.path + ":" + (path ?? "/usr/bin:/bin")
    }

    /// The environment a Python step runs in.
    public static var environment: [String: String] {
        ["PATH": path(prepending: ProcessInfo.processInfo.environment["PATH"])]
    }

    /// Nil when `python3` (the project's) imports `module`, else a message naming what is missing and how to get it.
    public static func missing(_ module: String) -> String? {
        let r = try? runProduct("/usr/bin/env", ["python3", "-c", "import \(module)"], environment: environment)
        if r?.status == 0 { return nil }
        return "python3 cannot import \(module): run `make test` (or `make venv`), which installs the pinned Python "
            + "tools into .build/venv"
    }
}
