import Foundation
import Testing
import TestSupport

/// `lorad run`, `make-demo` and their failures, through the built binary as a user runs them.
@Suite struct RunCommandTests {
    @Test func greedyRunMatchesReferenceUpToEOS() throws {
        let refs = References.tinyLlama
        for i in [0, 3, 11] {
            let prompt = refs.prompts[i].ids.map(String.init).joined(separator: ",")
            let r = try runProduct("lorad", ["run", "--model", Fixtures.tinyLlama.path, "--prompt-ids", prompt,
                                             "--max-tokens", "48", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let tokens = (json["token_ids"] as? [Int]) ?? []
            // `run` stops at the generation config's EOS ids (2038, 2046), keeping the EOS token.
            var expected = refs.variants["__base__"]![i].greedyIds
            if let stop = expected.firstIndex(where: { [2038, 2046].contains($0) }) {
                expected = Array(expected[...stop])
                #expect(json["finish_reason"] as? String == "stop")
            } else {
                #expect(json["finish_reason"] as? String == "length")
            }
            #expect(tokens == expected, "prompt \(i)")
            #expect(json["prompt_token_ids"] as? [Int] == refs.prompts[i].ids)
            // Lookahead (auto by default) never takes more steps than tokens.
            #expect((json["steps"] as? Int ?? 99) <= tokens.count)
        }
    }

    /// `--lookahead off` takes one step per token; any shape gives the same tokens in no more steps.
    @Test func lookaheadKeepsTheTokensAndReportsSteps() throws {
        let prompt = References.tinyLlama.prompts[6].ids.map(String.init).joined(separator: ",")
        func run(_ lookahead: String) throws -> (ids: [Int], steps: Int) {
            let r = try runProduct("lorad", ["run", "--model", Fixtures.tinyLlama.path, "--prompt-ids", prompt,
                                             "--max-tokens", "40", "--lookahead", lookahead, "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let json = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
            return ((json["token_ids"] as? [Int]) ?? [], (json["steps"] as? Int) ?? -1)
        }
        let off = try run("off")
        #expect(off.steps == off.ids.count)
        for shape in ["auto", "1,1,0", "5,4,5", "15,5,15"] {
            let la = try run(shape)
            #expect(la.ids == off.ids, "--lookahead \(shape)")
            #expect(la.steps >= 1 && la.steps <= off.steps)
        }
        let bad = try runProduct("lorad", ["run", "--model", Fixtures.tinyLlama.path, "--prompt-ids", "1,2",
                                           "--lookahead", "5,4"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--lookahead must be auto, off or W,N,G"))
    }

    @Test func seededSamplingIsReproducible() throws {
        let args = ["run", "--model", Fixtures.tinyLlama.path, "--prompt-ids", "2037,100,200", "--max-tokens", "24",
                    "--temperature", "0.9", "--top-p", "0.95", "--top-k", "50", "--seed", "42", "--json"]
        let a = try runProduct("lorad", args), b = try runProduct("lorad", args)
        #expect(a.status == 0 && b.status == 0)
        func ids(_ r: CommandResult) -> [Int] {
            ((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any])?["token_ids"] as? [Int] ?? []
        }
        #expect(ids(a) == ids(b))
        #expect(ids(a).count >= 1)
        var c = args
        c[c.count - 2] = "43"
        #expect(ids(try runProduct("lorad", c)) != ids(a))
    }

    @Test func makeDemoIsDeterministicAndRuns() throws {
        let a = try Fixtures.temporaryDirectory("demo-a"), b = try Fixtures.temporaryDirectory("demo-b")
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        #expect(try runProduct("lorad", ["make-demo", a.path]).status == 0)
        #expect(try runProduct("lorad", ["make-demo", b.path]).status == 0)
        for file in ["config.json", "model.safetensors", "tokenizer.json", "adapters/sql/adapter_model.safetensors"] {
            let da = try Data(contentsOf: a.appendingPathComponent(file))
            let db = try Data(contentsOf: b.appendingPathComponent(file))
            #expect(da == db, "\(file) differs between two make-demo runs")
        }
        let r = try runProduct("lorad", ["run", "--model", a.path, "--prompt-ids", "510,84,104,101", "--max-tokens", "5",
                                         "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"token_ids\""))
    }

    @Test func failuresAreClear() throws {
        let missing = try runProduct("lorad", ["run", "--model", "/nonexistent/model", "--prompt-ids", "1"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("model directory \"/nonexistent/model\" does not exist"))

        let flag = try runProduct("lorad", ["run", "--modle", "x"])
        #expect(flag.status == 2)
        #expect(flag.stderr.contains("unknown option --modle"))

        let ids = try runProduct("lorad", ["run", "--model", Fixtures.tinyLlama.path, "--prompt-ids", "1,x"])
        #expect(ids.status == 2)
        #expect(ids.stderr.contains("comma-separated integers"))

        let range = try runProduct("lorad", ["run", "--model", Fixtures.tinyLlama.path, "--prompt-ids", "5000"])
        #expect(range.status == 1)
        #expect(range.stderr.contains("outside the vocabulary"))

        let command = try runProduct("lorad", ["frobnicate"])
        #expect(command.status == 2)
        #expect(command.stderr.contains("unknown command \"frobnicate\""))

        let emptyDir = try Fixtures.temporaryDirectory("empty-model")
        defer { try? FileManager.default.removeItem(at: emptyDir) }
        let noConfig = try runProduct("lorad", ["run", "--model", emptyDir.path, "--prompt-ids", "1"])
        #expect(noConfig.status == 1)
        #expect(noConfig.stderr.contains("has no config.json"))
    }
}
