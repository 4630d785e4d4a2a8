import Foundation
import Model
import Registry
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A scratch world for one test: a data directory, an adapter root holding writable copies of the tiny-llama
/// fixture adapters, and the tiny-llama base model's config and fingerprint.
struct RegistryEnvironment {
    static let adapterNames = ["a0-r4-all", "a1-r8-qv", "a2-r16-all-rslora", "a3-r8-all-alpha24"]
    static let config: ModelConfig = {
        do { return try ModelConfig.load(directory: Fixtures.tinyLlama) } catch { fatalError("tiny-llama config: \(error)") }
    }()
    static let fingerprint: ModelFingerprint = {
        do { return try ModelFingerprint(modelDirectory: Fixtures.tinyLlama) } catch { fatalError("tiny-llama fingerprint: \(error)") }
    }()

    let base: URL
    let data: URL
    let root: URL
    var store: URL { data.appendingPathComponent("adapters") }

    init() throws {
        base = try Fixtures.temporaryDirectory("lorad-registry")
        data = base.appendingPathComponent("data")
        root = base.appendingPathComponent("root")
        for name in Self.adapterNames {
            try Self.copyAdapter(Fixtures.tinyLlama.appendingPathComponent("adapters/\(name)"),
                                 to: root.appendingPathComponent(name))
        }
    }

    /// Copies bytes (not permissions: the fixtures are read-only) into a fresh writable directory.
    static func copyAdapter(_ source: URL, to target: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: target, withIntermediateDirectories: true)
        for file in try fm.contentsOfDirectory(atPath: source.path) {
            try Data(contentsOf: source.appendingPathComponent(file)).write(to: target.appendingPathComponent(file))
        }
    }

    func path(_ adapter: String) -> String { root.appendingPathComponent(adapter).path }

    func open(_ options: RegistryOptions = RegistryOptions(), baseModel: ModelFingerprint = fingerprint,
              config: ModelConfig = config, roots: [URL]? = nil) throws -> Registry {
        try Registry(dataDirectory: data, baseModel: baseModel, adapterRoots: roots ?? [root], modelConfig: config,
                     options: options)
    }

    /// Names in the store directory other than the lock file.
    func storeEntries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: store.path).filter { $0 != ".lock" }.sorted()
    }

    func removeAll() { try? FileManager.default.removeItem(at: base) }

    /// The documented content address, computed independently of the store code.
    static func expectedHash(of directory: URL) throws -> (sha256: String, size: Int) {
        var hasher = SHA256()
        var total = 0
        for name in ["adapter_config.json", "adapter_model.safetensors", "lorad.json"] {
            guard let bytes = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else { continue }
            hasher.update(Array(name.utf8) + [0])
            let size = UInt64(bytes.count)
            hasher.update((0..<8).map { UInt8(truncatingIfNeeded: size >> (56 - 8 * UInt64($0))) })
            hasher.update([UInt8](bytes))
            total += bytes.count
        }
        return (hasher.hexDigest(), total)
    }
}

/// Runs `body` and returns the RegistryError it throws (failing the test if it throws nothing or something else).
func registryError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> RegistryError? {
    do {
        try body()
        Issue.record("expected a RegistryError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let e as RegistryError {
        return e
    } catch {
        Issue.record("expected a RegistryError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
