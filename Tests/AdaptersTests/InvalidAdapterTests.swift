import Adapters
import Foundation
import Model
import Safetensors
import Testing
import TestSupport

/// Adapters lorad must refuse, each with a message naming what is wrong, and PEFT config forms it must accept.
@Suite struct InvalidAdapterTests {
    static let config: ModelConfig = {
        do { return try ModelConfig.load(directory: Fixtures.tinyLlama) } catch { fatalError("\(error)") }
    }()
    static let source = Fixtures.tinyLlama.appendingPathComponent("adapters/a1-r8-qv")

    /// The a1-r8-qv fixture's config and tensors, to be edited by each case.
    static func fixture() throws -> (config: [String: Any], tensors: [(name: String, shape: [Int], values: [Float])]) {
        let data = try Data(contentsOf: source.appendingPathComponent("adapter_config.json"))
        let config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let store = try TensorStore(files: [SafetensorsFile(url: source.appendingPathComponent("adapter_model.safetensors"))])
        let tensors = try store.names.sorted().map { name -> (String, [Int], [Float]) in
            let (shape, values) = try store.floats(name)
            return (name, shape, values)
        }
        return (config, tensors)
    }

    /// Writes an adapter directory and loads it; returns the error text, or nil when it loads.
    static func load(config: [String: Any], tensors: [(name: String, shape: [Int], values: [Float])],
                     dtype: DType = .f32) throws -> (error: String?, adapter: PeftAdapter?) {
        let dir = try Fixtures.temporaryDirectory("adapter")
        defer { try? FileManager.default.removeItem(at: dir) }
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("adapter_config.json"))
        try SafetensorsWriter.write(to: dir.appendingPathComponent("adapter_model.safetensors"), tensors: tensors,
                                    dtype: dtype)
        do {
            return (nil, try PeftAdapter(directory: dir, name: "bad", model: Self.config))
        } catch {
            return ("\(error)", nil)
        }
    }

    static func expectError(_ config: [String: Any], _ tensors: [(name: String, shape: [Int], values: [Float])],
                            contains text: String) throws {
        let (error, _) = try load(config: config, tensors: tensors)
        #expect(error?.contains(text) == true, "expected an error containing \"\(text)\", got \(error ?? "no error")")
        #expect(error?.contains("adapter \"bad\"") == true)
    }

    @Test func wrongHiddenSize() throws {
        var (config, tensors) = try Self.fixture()
        config["target_modules"] = ["q_proj"]
        tensors = [("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", [8, 128], [Float](repeating: 0.1, count: 8 * 128)),
                   ("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", [64, 8], [Float](repeating: 0.1, count: 64 * 8))]
        try Self.expectError(config, tensors, contains: "expects hidden size 128 for q_proj, the base model has 64")
    }

    @Test func unknownModule() throws {
        var (config, tensors) = try Self.fixture()
        config["target_modules"] = ["qkv_proj"]
        tensors = tensors.map { ($0.name.replacingOccurrences(of: "q_proj", with: "qkv_proj"), $0.shape, $0.values) }
        try Self.expectError(config, tensors, contains: "unknown module \"qkv_proj\"")
    }

    @Test func unexpectedTensor() throws {
        var (config, tensors) = try Self.fixture()
        tensors.append(("base_model.model.lm_head.weight", [4, 4], [Float](repeating: 0, count: 16)))
        try Self.expectError(config, tensors, contains: "unexpected tensor \"base_model.model.lm_head.weight\"")
        config["target_modules"] = ["q_proj", "v_proj"]
    }

    @Test func refusedOptions() throws {
        let (config, tensors) = try Self.fixture()
        var c = config
        c["modules_to_save"] = ["lm_head"]
        try Self.expectError(c, tensors, contains: "modules_to_save (lm_head) is not supported")
        c = config
        c["use_dora"] = true
        try Self.expectError(c, tensors, contains: "DoRA adapters (use_dora) are not supported")
        c = config
        c["bias"] = "all"
        try Self.expectError(c, tensors, contains: "bias \"all\" is not supported")
        c = config
        c["peft_type"] = "PREFIX_TUNING"
        try Self.expectError(c, tensors, contains: "peft_type \"PREFIX_TUNING\" is not supported")
        c = config
        c["r"] = 4
        try Self.expectError(c, tensors, contains: "lora_A has rank 8, adapter_config.json says 4")
        c = config
        c["target_modules"] = ["q_proj"]
        try Self.expectError(c, tensors, contains: "which target_modules does not name")
        c = config
        c["layers_to_transform"] = [0]
        try Self.expectError(c, tensors, contains: "layer 1, which layers_to_transform excludes")
        c = config
        c["target_modules"] = "(unclosed"
        try Self.expectError(c, tensors, contains: "does not compile")
        c = config
        c.removeValue(forKey: "r")
        try Self.expectError(c, tensors, contains: "has no \"r\"")
    }

    @Test func brokenTensors() throws {
        let (config, tensors) = try Self.fixture()
        let onlyA = tensors.filter { !$0.name.contains("layers.1.self_attn.v_proj.lora_B") }
        try Self.expectError(config, onlyA, contains: "has lora_A but not lora_B")
        let deep = tensors.map { ($0.name.replacingOccurrences(of: "layers.1.", with: "layers.7."), $0.shape, $0.values) }
        try Self.expectError(config, deep, contains: "has weights for layer 7, the base model has 2 layers")
        var nan = tensors
        nan[0].values[3] = .nan
        try Self.expectError(config, nan, contains: "non-finite")
        let dora = tensors + [("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector", [64], [Float](repeating: 1, count: 64))]
        try Self.expectError(config, dora, contains: "DoRA weights")
    }

    @Test func missingFilesAndPickles() throws {
        let dir = try Fixtures.temporaryDirectory("adapter-files")
        defer { try? FileManager.default.removeItem(at: dir) }
        func error() -> String {
            do { _ = try PeftAdapter(directory: dir, name: "bad", model: Self.config); return "no error" } catch { return "\(error)" }
        }
        #expect(error().contains("has no adapter_config.json"))
        try Data("{\"r\": 8, \"lora_alpha\": 16, \"target_modules\": [\"q_proj\"]}".utf8)
            .write(to: dir.appendingPathComponent("adapter_config.json"))
        #expect(error().contains("has no adapter_model.safetensors"))
        try Data([0x80, 0x02]).write(to: dir.appendingPathComponent("adapter_model.bin"))
        #expect(error().contains("adapter_model.bin is a pickle, which lorad never loads"))
        let missing = dir.appendingPathComponent("nope")
        do { _ = try PeftAdapter(directory: missing, model: Self.config); Issue.record("loaded a missing directory") }
        catch { #expect("\(error)".contains("is not a directory")) }
        try Data("not json".utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
        #expect(error().contains("adapter_config.json is not a JSON object"))
    }

    /// target_modules as a regex, rank_pattern/alpha_pattern and narrow dtypes load with the right ranks and scales.
    @Test func acceptedForms() throws {
        let (config, tensors) = try Self.fixture()
        var c = config
        c["target_modules"] = "model\\.layers\\.\\d+\\.self_attn\\.(q_proj|v_proj)"
        let regex = try Self.load(config: c, tensors: tensors)
        #expect(regex.error == nil, "\(regex.error ?? "")")
        #expect(regex.adapter?.targets == [.q, .v])

        // v_proj at rank 4 through rank_pattern, with its own alpha.
        c = config
        c["rank_pattern"] = ["v_proj": 4]
        c["alpha_pattern"] = ["v_proj": 2]
        let narrowed = tensors.map { t -> (name: String, shape: [Int], values: [Float]) in
            guard t.name.contains("v_proj") else { return t }
            if t.name.contains("lora_A") { return (t.name, [4, t.shape[1]], Array(t.values.prefix(4 * t.shape[1]))) }
            let out = t.shape[0]
            return (t.name, [out, 4], (0..<out).flatMap { row in t.values[(row * 8)..<(row * 8 + 4)] })
        }
        let patterned = try Self.load(config: c, tensors: narrowed)
        #expect(patterned.error == nil, "\(patterned.error ?? "")")
        #expect(patterned.adapter?.weights.pair(layer: 0, .v)?.rank == 4)
        #expect(patterned.adapter?.weights.pair(layer: 0, .v)?.scale == 0.5)
        #expect(patterned.adapter?.weights.pair(layer: 0, .q)?.scale == 2)

        for dtype in [DType.bf16, .f16] {
            let narrow = try Self.load(config: config, tensors: tensors, dtype: dtype)
            #expect(narrow.error == nil)
            #expect(narrow.adapter?.rank == 8)
        }
    }
}

/// Regexes in adapter_config.json run in bounded work (issue 21, item 7): a backtracking bomb is refused at once
/// with the pattern named, instead of seconds of CPU at every registration and cold load.
@Suite struct HostileRegexTests {
    @Test(arguments: ["rank_pattern", "alpha_pattern", "target_modules"])
    func catastrophicPatternIsRefusedQuickly(field: String) throws {
        var (config, tensors) = try InvalidAdapterTests.fixture()
        let bomb = "([a-z_.0-9]|[a-z_.0-9])*Q"
        switch field {
        case "target_modules": config["target_modules"] = bomb
        case "rank_pattern": config["rank_pattern"] = [bomb: 4]
        default: config["alpha_pattern"] = [bomb: 4.0]
        }
        let start = ContinuousClock.now
        let (error, _) = try InvalidAdapterTests.load(config: config, tensors: tensors)
        let took = ContinuousClock.now - start
        #expect(error?.contains("regex \"\(bomb)\" takes too many matching steps") == true, "\(error ?? "no error")")
        #expect(error?.contains("adapter \"bad\"") == true)
        #expect(took < .seconds(2), "the match was not bounded: \(took)")   // unbounded: ~16 s per module name
    }

    @Test func ordinaryPatternsStillMatch() throws {
        var (config, tensors) = try InvalidAdapterTests.fixture()
        config["target_modules"] = #".*\.(q_proj|v_proj)"#
        config["rank_pattern"] = [#"layers\.\d+\.self_attn\.q_proj"#: 8]
        let (error, adapter) = try InvalidAdapterTests.load(config: config, tensors: tensors)
        #expect(error == nil, "\(error ?? "")")
        #expect(adapter != nil)
    }
}
