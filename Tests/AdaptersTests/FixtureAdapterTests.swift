import Adapters
import Foundation
import Model
import Safetensors
import Testing
import TestSupport

/// Every fixture adapter reproduces transformers + PEFT alone, and inside one batch mixed with the others.
@Suite(.serialized) struct FixtureAdapterTests {
    static let model: LoadedModel = {
        do { return try LoadedModel(directory: Fixtures.tinyLlama) } catch { fatalError("\(error)") }
    }()
    static let refs = References.tinyLlama
    static let adapterNames = ["a0-r4-all", "a1-r8-qv", "a2-r16-all-rslora", "a3-r8-all-alpha24"]
    static let adapters: [String: PeftAdapter] = {
        var out: [String: PeftAdapter] = [:]
        for name in adapterNames {
            let dir = Fixtures.tinyLlama.appendingPathComponent("adapters").appendingPathComponent(name)
            do { out[name] = try PeftAdapter(directory: dir, model: model.config) } catch { fatalError("\(error)") }
        }
        return out
    }()

    @Test func adapterMetadata() throws {
        let a1 = try #require(Self.adapters["a1-r8-qv"])
        #expect(a1.rank == 8)
        #expect(a1.targets == [.q, .v])
        let a2 = try #require(Self.adapters["a2-r16-all-rslora"])
        #expect(a2.rank == 16 && a2.targets.count == 7)
        #expect(a2.weights.pair(layer: 0, .q)?.scale == 8)   // 32 / sqrt(16)
        #expect(Self.adapters["a3-r8-all-alpha24"]?.weights.pair(layer: 1, .down)?.scale == 3)
    }

    @Test(arguments: adapterNames)
    func logitsAndGreedyTokensMatch(adapterName: String) throws {
        let adapter = try #require(Self.adapters[adapterName])
        let t = Self.model.transformer
        let references = try #require(Self.refs.variants[adapterName])
        for (i, prompt) in Self.refs.prompts.enumerated() {
            let reference = references[i]
            var batch = StepBatch()
            batch.append(prompt.ids, cache: t.makeCache(), adapter: adapter.weights)
            let logits = try t.forward(batch)
            let maxDiff = zip(logits, reference.lastPromptLogits).map { abs($0 - $1) }.max() ?? .infinity
            #expect(maxDiff <= 1e-4, "\(adapterName) prompt \(i): max |logit diff| \(maxDiff)")
            let g = try Generator(model: Self.model)
                .generate(prompt: prompt.ids, maxTokens: 48, stopAtEOS: false, adapter: adapter.weights)
            #expect(g.tokenIds == reference.greedyIds, "\(adapterName) prompt \(i)")
        }
    }

    /// The fixture's batches: rows with different adapters (and base rows) decoded in one step each, exactly as
    /// each decodes alone.
    @Test func mixedBatchesMatchEachRowAlone() throws {
        let t = Self.model.transformer
        #expect(!Self.refs.batches.isEmpty)
        for (label, rows) in Self.refs.batches {
            // Group rows by adapter so each adapter's rows form one segment, as the engine does.
            let order = rows.indices.sorted { (rows[$0].adapter, $0) < (rows[$1].adapter, $1) }
            let caches = rows.map { _ in t.makeCache() }
            func adapter(_ row: Int) -> LoRAWeights? { Self.adapters[rows[row].adapter]?.weights }
            var batch = StepBatch()
            for r in order {
                let prompt = rows[r].promptIds ?? Self.refs.prompts[rows[r].promptIndex].ids
                batch.append(prompt, cache: caches[r], adapter: adapter(r))
            }
            #expect(batch.segments.count == Set(rows.map(\.adapter)).subtracting(["__base__"]).count)
            var logits = try t.forward(batch)
            var outputs = [[Int]](repeating: [], count: rows.count)
            let vocab = t.config.vocabSize
            for _ in 0..<48 {
                var next = StepBatch()
                for (k, r) in order.enumerated() {
                    let token = logits[(k * vocab)..<((k + 1) * vocab)].withUnsafeBufferPointer { Sampler.argmax($0) }
                    outputs[r].append(token)
                    next.append([token], cache: caches[r], adapter: adapter(r))
                }
                logits = try t.forward(next)
            }
            for r in rows.indices {
                #expect(outputs[r] == rows[r].generatedIds, "\(label) row \(r) (\(rows[r].adapter))")
            }
        }
    }

    /// adapter_scale 0 is the base model; the scale multiplies the delta.
    @Test func adapterScaleMultipliesTheDelta() throws {
        let t = Self.model.transformer
        let adapter = try #require(Self.adapters["a0-r4-all"])
        let prompt = Self.refs.prompts[2].ids
        func logits(_ scale: Float?) throws -> [Float] {
            var b = StepBatch()
            if let scale { b.append(prompt, cache: t.makeCache(), adapter: adapter.weights, adapterScale: scale) }
            else { b.append(prompt, cache: t.makeCache()) }
            return try t.forward(b)
        }
        let base = try logits(nil), zero = try logits(0), one = try logits(1)
        #expect(zip(base, zero).map { abs($0 - $1) }.max()! < 1e-5)
        #expect(zip(base, one).map { abs($0 - $1) }.max()! > 0.01)
    }

    /// `source` (a fixture adapter) written again with its tensors in `dtype` (rounded to it), in a new folder.
    static func rewritten(_ source: URL, as dtype: DType) throws -> URL {
        let store = try TensorStore(files: [SafetensorsFile(url: source.appendingPathComponent("adapter_model.safetensors"))])
        let tensors = try store.names.sorted().map { name -> (name: String, shape: [Int], values: [Float]) in
            let (shape, values) = try store.floats(name)
            return (name, shape, values)
        }
        let dir = try Fixtures.temporaryDirectory("adapter-\(dtype.rawValue)").appendingPathComponent(source.lastPathComponent)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source.appendingPathComponent("adapter_config.json"),
                                         to: dir.appendingPathComponent("adapter_config.json"))
        try SafetensorsWriter.write(to: dir.appendingPathComponent("adapter_model.safetensors"), tensors: tensors,
                                    dtype: dtype)
        return dir
    }

    /// An adapter saved in BF16 or F16 is held in that type (half the bytes) and gives bit for bit the logits of the
    /// same values saved in F32, alone and with other adapters in one batch.
    @Test(arguments: [DType.bf16, .f16])
    func narrowAdaptersGiveTheLogitsOfTheirValuesWidened(dtype: DType) throws {
        let t = Self.model.transformer
        let narrowDir = try Self.rewritten(Fixtures.tinyLlama.appendingPathComponent("adapters/a2-r16-all-rslora"), as: dtype)
        let wideDir = try Self.rewritten(narrowDir, as: .f32)
        let narrow = try PeftAdapter(directory: narrowDir, model: Self.model.config)
        let wide = try PeftAdapter(directory: wideDir, model: Self.model.config)
        #expect(narrow.byteCount * 2 == wide.byteCount)
        let other = try #require(Self.adapters["a1-r8-qv"])
        func logits(_ adapter: PeftAdapter) throws -> [Float] {
            var b = StepBatch()
            b.append(Self.refs.prompts[1].ids, cache: t.makeCache(), adapter: other.weights)
            b.append(Self.refs.prompts[0].ids, cache: t.makeCache(), adapter: adapter.weights)
            return try t.forward(b)
        }
        let got = try logits(narrow), want = try logits(wide)
        #expect(got == want)
        // The rounding to the narrow type changed the adapter, so the delta is not the F32 fixture's exactly: it
        // is still close to transformers' logits.
        let reference = try #require(Self.refs.variants["a2-r16-all-rslora"])[0].lastPromptLogits
        let vocab = t.config.vocabSize
        let diff = zip(got[vocab...], reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(diff < 0.05, "max |logit diff| \(diff)")
    }
}
