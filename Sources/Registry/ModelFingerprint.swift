import Foundation
import GGUF
import Model

/// Identifies a base model: the SHA-256 of its config.json bytes plus the shapes adapters depend on. Stored with
/// every adapter; an adapter whose fingerprint differs from the served model's is refused or marked broken.
public struct ModelFingerprint: Sendable, Equatable, Codable, CustomStringConvertible {
    /// SHA-256 of config.json as bytes on disk, 64 lowercase hex digits.
    public var configSHA256: String
    public var architecture: String
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var vocabSize: Int

    public init(configSHA256: String, architecture: String, hiddenSize: Int, intermediateSize: Int, layerCount: Int,
                headCount: Int, kvHeadCount: Int, headDim: Int, vocabSize: Int) {
        self.configSHA256 = configSHA256
        self.architecture = architecture
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.vocabSize = vocabSize
    }

    /// The fingerprint of a model whose config.json holds `configJSON` and parses to `config`.
    public init(configJSON: Data, config: ModelConfig) {
        var hasher = SHA256()
        configJSON.withUnsafeBytes { hasher.update($0) }
        self.init(configSHA256: hasher.hexDigest(), architecture: config.architecture, hiddenSize: config.hiddenSize,
                  intermediateSize: config.intermediateSize, layerCount: config.layerCount,
                  headCount: config.headCount, kvHeadCount: config.kvHeadCount, headDim: config.headDim,
                  vocabSize: config.vocabSize)
    }

    /// The fingerprint of a GGUF model: the SHA-256 of the file's header (metadata and tensor infos, which name
    /// every tensor's type and place), so another file of the same model, e.g. another weight type, has the same
    /// shapes but another hash.
    public init(gguf file: GGUFFile, config: ModelConfig) {
        var hasher = SHA256()
        hasher.update(file.headerBytes)
        self.init(configSHA256: hasher.hexDigest(), architecture: config.architecture, hiddenSize: config.hiddenSize,
                  intermediateSize: config.intermediateSize, layerCount: config.layerCount,
                  headCount: config.headCount, kvHeadCount: config.kvHeadCount, headDim: config.headDim,
                  vocabSize: config.vocabSize)
    }

    /// Reads and parses `directory/config.json`.
    public init(modelDirectory directory: URL) throws {
        let url = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RegistryError(.invalid, "\(directory.path) has no config.json")
        }
        let config: ModelConfig
        do { config = try ModelConfig(json: data) } catch {
            throw RegistryError(.invalid, "\(url.path): \(error)")
        }
        self.init(configJSON: data, config: config)
    }

    /// True when adapters trained for one fit the other: same architecture and shapes (config.json may differ).
    public func hasSameShapes(as other: ModelFingerprint) -> Bool {
        var a = self, b = other
        a.configSHA256 = ""
        b.configSHA256 = ""
        return a == b
    }

    /// True when this fingerprint describes `config`'s shapes.
    public func matches(_ config: ModelConfig) -> Bool {
        architecture == config.architecture && hiddenSize == config.hiddenSize
            && intermediateSize == config.intermediateSize && layerCount == config.layerCount
            && headCount == config.headCount && kvHeadCount == config.kvHeadCount && headDim == config.headDim
            && vocabSize == config.vocabSize
    }

    public var description: String {
        "\(architecture) hidden \(hiddenSize), intermediate \(intermediateSize), \(layerCount) layers, "
            + "\(headCount)/\(kvHeadCount) heads of \(headDim), vocab \(vocabSize), config.json \(configSHA256.prefix(12))"
    }

    /// The stored form: JSON with sorted keys, so equal fingerprints store equal text.
    func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> ModelFingerprint {
        do { return try JSONDecoder().decode(ModelFingerprint.self, from: Data(text.utf8)) } catch {
            throw RegistryError(.io, "registry database: stored base-model fingerprint does not parse: \(error)")
        }
    }
}
