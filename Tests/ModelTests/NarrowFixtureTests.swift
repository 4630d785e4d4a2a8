import Foundation
import Kernels
import Model
import Safetensors
import Testing
import TestSupport

/// The tiny-llama fixture with every tensor rounded to BF16, and to F16 (made here, from the F32 fixture): served on
/// the narrow weights directly, it must compute exactly the F32 math over the rounded weights, and stay near
/// transformers' F32 outputs by no more than the rounding explains.
@Suite(.serialized) struct NarrowFixtureTests {
    /// The three loads of one rounding: the narrow file as stored (narrow projections), the narrow file widened to
    /// F32, and the rounded values written as an F32 file.
    struct Models: Sendable {
        let narrow: LoadedModel
        let widened: LoadedModel
        let roundedF32: LoadedModel
    }

    static let bf16 = makeModels(.bf16)
    static let f16 = makeModels(.f16)
    static func models(_ dtype: DType) -> Models { dtype == .bf16 ? bf16 : f16 }
    static let refs = References.tinyLlama

    static func makeModels(_ dtype: DType) -> Models {
        do {
            let narrow = try Fixtures.temporaryDirectory("\(dtype.rawValue)-fixture")
            let f32 = try Fixtures.temporaryDirectory("\(dtype.rawValue)-rounded-f32-fixture")
            defer {
                try? FileManager.default.removeItem(at: narrow)
                try? FileManager.default.removeItem(at: f32)
            }
            try writeRoundedCopy(of: Fixtures.tinyLlama, as: dtype, narrow: narrow, roundedF32: f32)
            return Models(narrow: try LoadedModel(directory: narrow),
                          widened: try LoadedModel(directory: narrow, precision: .f32),
                          roundedF32: try LoadedModel(directory: f32))
        } catch { fatalError("\(error)") }
    }

    /// Writes `source`'s tensors as `dtype` (BF16 or F16, rounded to nearest even) into `narrow`, and the same
    /// rounded values as F32 into `roundedF32`, each with the source's config and tokenizer files.
    static func writeRoundedCopy(of source: URL, as dtype: DType, narrow: URL, roundedF32: URL) throws {
        let fm = FileManager.default
        func write(_ store: TensorStore, as type: DType, to dir: URL) throws {
            let tensors = try store.names.sorted().map { name in
                let (shape, values) = try store.floats(name)
                return (name: name, shape: shape, values: values)
            }
            try SafetensorsWriter.write(to: dir.appendingPathComponent("model.safetensors"), tensors: tensors,
                                        dtype: type)
            for file in ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"] {
                try fm.copyItem(at: source.appendingPathComponent(file), to: dir.appendingPathComponent(file))
            }
        }
        // The writer rounds to nearest even; reading the narrow file back gives the rounded values, widened.
        try write(try TensorStore.open(directory: source), as: dtype, to: narrow)
        try write(try TensorStore.open(directory: narrow), as: .f32, to: roundedF32)
    }

    /// Last-prompt-position logits of `model` for prompt `i`.
    static func logits(_ model: LoadedModel, prompt i: Int) throws -> [Float] {
        let t = model.transformer
        var batch = StepBatch()
        batch.append(refs.prompts[i].ids, cache: t.makeCache())
        return try t.forward(batch)
    }

    /// How far a logit may move from transformers' F32 value when every weight is rounded to `dtype`.
    ///
    /// BF16: rounding to nearest with 8 significant bits moves a weight by at most 2^-9 of itself, uniformly within
    /// that, so by ~2^-9/sqrt(3) ≈ 1.1e-3 relative RMS, independently from weight to weight. A logit's path crosses
    /// ~14 rounded tensors (embedding; per layer 2 norms, qkv, o, gate/up, down; final norm; head), whose relative
    /// errors add in quadrature: ~1.1e-3 · sqrt(14) ≈ 4e-3 of the logits' RMS (0.85 here), i.e. an RMS error of
    /// ~3.5e-3, and a maximum over 2048 logits of ~4 times that. Measured over the 12 prompts: RMS 4.6e-3 ... 8e-3,
    /// max 0.017 ... 0.027. The tolerance, 0.05, is twice the measured maximum (about 6 RMS of the worst prompt)
    /// and still far below the logits' spread, so a kernel that misreads a column or a bf16 half fails it.
    /// F16 keeps 11 significant bits, 3 more: every figure above shrinks 8 times (measured max 0.0021 ... 0.0031),
    /// and so does the tolerance.
    static func tolerance(_ dtype: DType) -> Float { dtype == .bf16 ? 0.05 : 0.05 / 8 }

    static let narrowTypes: [DType] = [.bf16, .f16]

    @Test(arguments: narrowTypes)
    func projectionsAreStoredNarrow(dtype: DType) {
        let m = Self.models(dtype)
        let narrow = m.narrow.transformer.weights, wide = m.widened.transformer.weights
        func projections(_ w: ModelWeights) -> [ProjectionWeights] {
            w.layers.flatMap { [$0.qkv, $0.output, $0.gateUp, $0.down] } + [w.lmHead]
        }
        let element: PackedWeights.Element = dtype == .bf16 ? .bf16 : .f16
        #expect(projections(narrow).allSatisfy { $0.element == element })
        #expect(projections(wide).allSatisfy { $0.element == .f32 })
        let narrowBytes = projections(narrow).reduce(0) { $0 + $1.byteCount }
        let wideBytes = projections(wide).reduce(0) { $0 + $1.byteCount }
        #expect(2 * narrowBytes == wideBytes)
        // What a decode step streams shrinks by exactly the projections' half.
        #expect(wide.bytesPerDecodedToken - narrow.bytesPerDecodedToken == wideBytes - narrowBytes)
    }

    /// Narrow weights are widened exactly and the kernel's arithmetic is the F32 one: bit-identical logits.
    @Test(arguments: narrowTypes, 0..<12)
    func narrowIsTheF32MathOverRoundedWeights(dtype: DType, promptIndex: Int) throws {
        let m = Self.models(dtype)
        let narrow = try Self.logits(m.narrow, prompt: promptIndex)
        let widened = try Self.logits(m.widened, prompt: promptIndex)
        let roundedF32 = try Self.logits(m.roundedF32, prompt: promptIndex)
        #expect(narrow == widened, "\(dtype) prompt \(promptIndex): narrow weights differ from the same widened")
        #expect(narrow == roundedF32, "\(dtype) prompt \(promptIndex): differs from an F32 file of the same values")
    }

    @Test(arguments: narrowTypes, 0..<12)
    func logitsStayNearTheReference(dtype: DType, promptIndex: Int) throws {
        let logits = try Self.logits(Self.models(dtype).narrow, prompt: promptIndex)
        let reference = Self.refs.variants["__base__"]![promptIndex].lastPromptLogits
        #expect(logits.count == reference.count)
        let maxDiff = zip(logits, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(maxDiff <= Self.tolerance(dtype), "\(dtype) prompt \(promptIndex): max |logit diff| \(maxDiff)")
    }

    /// Greedy tokens follow the reference up to the first step whose top-2 margin (in the reference) is within
    /// twice the tolerance, where rounding may legitimately swap the two (each can move by the tolerance).
    @Test(arguments: narrowTypes)
    func greedyTokensMatchWhileTheMarginIsClear(dtype: DType) throws {
        var compared = 0
        let clear = 2 * Double(Self.tolerance(dtype))
        for (i, prompt) in Self.refs.prompts.enumerated() {
            let reference = Self.refs.variants["__base__"]![i]
            let steps = reference.stepTop2Margin.firstIndex { $0 <= clear } ?? reference.greedyIds.count
            let g = try Generator(model: Self.models(dtype).narrow).generate(prompt: prompt.ids, maxTokens: steps,
                                                                             stopAtEOS: false)
            #expect(g.tokenIds == Array(reference.greedyIds.prefix(steps)), "\(dtype) prompt \(i), first \(steps)")
            compared += steps
        }
        #expect(compared >= 24, "\(dtype): only \(compared) tokens had a clear margin")
    }

    /// Teacher-forced over the reference's whole greedy continuation (one prefill of prompt + continuation): at
    /// every step whose reference margin is clear of twice the tolerance, the argmax is the reference token.
    @Test(arguments: narrowTypes, 0..<12)
    func teacherForcedArgmaxMatchesWhereTheMarginIsClear(dtype: DType, promptIndex: Int) throws {
        let prompt = Self.refs.prompts[promptIndex].ids, reference = Self.refs.variants["__base__"]![promptIndex]
        let t = Self.models(dtype).narrow.transformer, vocab = t.config.vocabSize
        var batch = StepBatch()
        batch.append(prompt + reference.greedyIds.dropLast(), cache: t.makeCache(), wantLogits: false)
        batch.logitRows = Array((prompt.count - 1)..<batch.rowCount)
        let logits = try t.forward(batch, commit: false)
        var clearSteps = 0
        let clear = 2 * Double(Self.tolerance(dtype))
        for (step, token) in reference.greedyIds.enumerated() where reference.stepTop2Margin[step] > clear {
            let row = logits[(step * vocab)..<((step + 1) * vocab)]
            #expect(row.withUnsafeBufferPointer { Sampler.argmax($0) } == token,
                    "\(dtype) prompt \(promptIndex), step \(step)")
            clearSteps += 1
        }
        #expect(clearSteps >= reference.greedyIds.count / 3,
                "\(dtype) prompt \(promptIndex): only \(clearSteps) clear steps")
    }
}
