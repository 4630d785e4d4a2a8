import Foundation
import Kernels
import Model
import Testing
import TestSupport

/// GGUF files made from the tiny-llama fixture by llama.cpp's convert_hf_to_gguf.py (Tests/Fixtures/gguf/README.md):
/// the F32 file must compute exactly what the safetensors model computes (so the Q/K row order llama.cpp writes is
/// undone), and the BF16 file what its values widened to F32 compute.
@Suite(.serialized) struct GGUFModelTests {
    static let directory = Fixtures.directory.appendingPathComponent("gguf")
    static func load(_ name: String, precision: WeightPrecision = .asStored) -> LoadedModel {
        do { return try LoadedModel(directory: directory.appendingPathComponent(name), precision: precision) }
        catch { fatalError("\(error)") }
    }
    static let safetensors: LoadedModel = {
        do { return try LoadedModel(directory: Fixtures.tinyLlama) } catch { fatalError("\(error)") }
    }()
    static let f32 = load("tiny-llama-f32.gguf")
    static let bf16 = load("tiny-llama-bf16.gguf")
    static let bf16Widened = load("tiny-llama-bf16.gguf", precision: .f32)
    static let refs = References.tinyLlama

    static func logits(_ model: LoadedModel, prompt i: Int) throws -> [Float] {
        let t = model.transformer
        var batch = StepBatch()
        batch.append(refs.prompts[i].ids, cache: t.makeCache())
        return try t.forward(batch)
    }

    @Test func configComesFromTheArchKeys() {
        let a = Self.f32.config, b = Self.safetensors.config
        #expect(a.architecture == "LlamaForCausalLM")
        #expect(a.hiddenSize == b.hiddenSize && a.intermediateSize == b.intermediateSize && a.layerCount == b.layerCount)
        #expect(a.headCount == b.headCount && a.kvHeadCount == b.kvHeadCount && a.headDim == b.headDim)
        #expect(a.vocabSize == b.vocabSize && a.maxPositions == b.maxPositions && a.ropeTheta == b.ropeTheta)
        #expect(a.rmsNormEps == b.rmsNormEps && !a.tieWordEmbeddings && !a.qkvBias)
        #expect(a.bosTokenId == 2037 && a.eosTokenIds.first == 2038)
        #expect(Self.bf16.transformer.weights.layers[0].qkv.typeName == "bf16")
        #expect(Self.bf16Widened.transformer.weights.layers[0].qkv.typeName == "f32")
    }

    @Test(arguments: 0..<12)
    func f32FileComputesTheSafetensorsModelExactly(prompt: Int) throws {
        let a = try Self.logits(Self.f32, prompt: prompt), b = try Self.logits(Self.safetensors, prompt: prompt)
        #expect(a == b, "prompt \(prompt): max diff \(zip(a, b).map { abs($0 - $1) }.max() ?? 0)")
    }

    @Test(arguments: 0..<12)
    func f32FileGivesTransformersGreedyTokens(prompt: Int) throws {
        let g = try Generator(model: Self.f32).generate(prompt: Self.refs.prompts[prompt].ids, maxTokens: 48,
                                                         stopAtEOS: false)
        #expect(g.tokenIds == Self.refs.variants["__base__"]![prompt].greedyIds)
    }

    /// BF16 weights are used narrow and widened exactly: identical logits; within the BF16 rounding of F32's.
    @Test(arguments: 0..<12)
    func bf16FileIsItsValuesWidened(prompt: Int) throws {
        let narrow = try Self.logits(Self.bf16, prompt: prompt)
        let widened = try Self.logits(Self.bf16Widened, prompt: prompt)
        // Bit-identical on one instruction-set path; KernelsTests force other paths process-wide while suites run
        // in parallel, and the AVX2 and AVX-512 sums round differently, so allow float noise here.
        let gap = zip(narrow, widened).map { abs($0 - $1) }.max() ?? .infinity
        #expect(gap <= 1e-4, "prompt \(prompt): narrow and widened BF16 differ by \(gap)")
        let reference = Self.refs.variants["__base__"]![prompt].lastPromptLogits
        let maxDiff = zip(narrow, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(maxDiff < 0.05, "prompt \(prompt): max |logit diff| \(maxDiff) from transformers' F32")
    }

    @Test func aDirectoryHoldingOneGGUFFileLoads() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: Self.directory.appendingPathComponent("tiny-llama-bf16.gguf"),
                                         to: dir.appendingPathComponent("m.gguf"))
        #expect(try LoadedModel(directory: dir).config.hiddenSize == 64)
        try FileManager.default.copyItem(at: Self.directory.appendingPathComponent("tiny-llama-f32.gguf"),
                                         to: dir.appendingPathComponent("n.gguf"))
        let e = #expect(throws: ModelError.self) { _ = try LoadedModel(directory: dir) }
        #expect(e?.description.contains("holds 2 GGUF files") == true)
    }
}
