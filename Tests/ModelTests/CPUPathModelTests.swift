import Foundation
import Kernels
import Model
import Testing
import TestSupport

/// The whole forward pass on every CPU path this machine has (paths it lacks are reported as skipped on standard
/// error): a prompt long enough for several attention chunks (Flash-Decoding splits the context every 256
/// positions) matches the Double reference in one step and through the cache, and a row's logits do not depend on
/// the rows that share its step.
@Suite struct CPUPathModelTests {
    static func longSpec() -> ModelSpec {
        var s = ModelSpec(hidden: 64, kvHeads: 2)
        s.config["max_position_embeddings"] = 2048
        s.promptLength = 600
        s.seed = 5
        return s
    }

    /// The long-context model written to a temporary directory and loaded, or nil (reported as skipped) when the
    /// CPU lacks `path`.
    static func model(for path: CPUPath, _ test: String) throws -> (t: Transformer, weights: [String: [Float]], dir: URL)? {
        guard CPUPath.supported.contains(path) else {
            FileHandle.standardError.write(Data("\(test): CPU path \(path) skipped (this CPU's best is \(CPUPath.best))\n".utf8))
            return nil
        }
        let dir = try Fixtures.temporaryDirectory("cpu-path-\(test.replacingOccurrences(of: " ", with: "-"))-\(path)")
        let weights = try ModelBuilder.write(longSpec(), to: dir)
        return (try LoadedModel(directory: dir).transformer, weights, dir)
    }

    @Test(arguments: CPUPath.allCases)
    func longContextMatchesReference(path: CPUPath) throws {
        guard let m = try Self.model(for: path, "long context") else { return }
        let (t, weights, dir) = m
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = Self.longSpec()
        let tokens = ModelBuilder.prompt(spec)
        let expected = ReferenceForward.logits(spec.reference, weights: weights, tokens: tokens)
        _ = try CPUPath.on(path) {
            let full = try Run.fullPrompt(t, tokens)
            let fullDiff = Run.maxDiff(full, expected)
            #expect(fullDiff <= ConfigVariantTests.tolerance, "\(path) one step: max |diff| \(fullDiff)")
            // Prefill chunks that end inside and on attention chunks, then decode past the next boundary.
            let cached = try Run.incremental(t, tokens, chunks: [200, 56, 300])
            let cachedDiff = Run.maxDiff(cached, expected)
            #expect(cachedDiff <= ConfigVariantTests.tolerance, "\(path) cached: max |diff| \(cachedDiff)")
        }
    }

    /// Decode rows at different context lengths (one past 512) in one step give the bits each gets alone.
    @Test(arguments: CPUPath.allCases)
    func decodeRowsAreBatchInvariant(path: CPUPath) throws {
        guard let m = try Self.model(for: path, "batch invariance") else { return }
        let (t, dir) = (m.t, m.dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokens = ModelBuilder.prompt(Self.longSpec())
        _ = try CPUPath.on(path) {
            let lengths = [3, 40, 257, 520]
            func prefilled() throws -> [KVCache] {
                try lengths.map { n in
                    let cache = t.makeCache()
                    var b = StepBatch()
                    b.append(Array(tokens[0..<n]), cache: cache, wantLogits: false)
                    _ = try t.forward(b)
                    return cache
                }
            }
            let vocab = t.config.vocabSize
            var alone: [[Float]] = []
            for (i, cache) in try prefilled().enumerated() {
                var b = StepBatch()
                b.append([tokens[lengths[i]]], cache: cache)
                alone.append(try t.forward(b))
            }
            var together = StepBatch()
            for (i, cache) in try prefilled().enumerated() { together.append([tokens[lengths[i]]], cache: cache) }
            let all = try t.forward(together)
            for i in lengths.indices {
                #expect(Array(all[(i * vocab)..<((i + 1) * vocab)]) == alone[i], "\(path): row at context \(lengths[i])")
            }
        }
    }
}
