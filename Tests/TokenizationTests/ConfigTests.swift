import Foundation
import Testing
import TestSupport
@testable import Tokenization

/// tokenizer_config.json: BOS/EOS, add_bos_token/add_eos_token, chat templates.
@Suite("tokenizer_config.json")
struct ConfigTests {
    static let spmJSON = try! Data(contentsOf: Fixtures.tokenizers.appendingPathComponent("spm-llama2/tokenizer.json"))
    static let llama3JSON = try! Data(contentsOf: Fixtures.tokenizers.appendingPathComponent("bytelevel-llama3/tokenizer.json"))

    func spm(_ config: String) throws -> Tokenizer {
        try Tokenizer(tokenizerJSON: ConfigTests.spmJSON, configJSON: Data(config.utf8))
    }

    @Test("add_bos_token and add_eos_token rebuild the template")
    func addBosEos() throws {
        let plain = Fixture.tokenizer("spm-llama2").encode("Hello", addSpecialTokens: false)
        let both = try spm(#"{"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true, "add_eos_token": true}"#)
        #expect(both.encode("Hello") == [1] + plain + [2])
        #expect(both.encode("Hello", addSpecialTokens: false) == plain)
        let none = try spm(#"{"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": false}"#)
        #expect(none.encode("Hello") == plain)
        let eosOnly = try spm(#"{"bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": "</s>", "add_eos_token": true}"#)
        #expect(eosOnly.encode("Hello") == [1] + plain + [2])   // add_bos_token absent: the template's BOS stays
        #expect(eosOnly.bosTokenId == 1 && eosOnly.eosTokenId == 2)
    }

    @Test("chat templates")
    func chatTemplates() throws {
        #expect(try spm(#"{"chat_template": "{{ messages }}"}"#).chatTemplate == "{{ messages }}")
        let list = #"{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}"#
        #expect(try spm(list).chatTemplate == "D")
        #expect(try spm("{}").chatTemplate == nil)
        #expect(try spm("{}").bosTokenId == nil)
    }

    @Test("load reads chat_template.jinja when the config has none")
    func jinjaFile() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ConfigTests.llama3JSON.write(to: dir.appendingPathComponent("tokenizer.json"))
        #expect(try Tokenizer.load(directory: dir).chatTemplate == nil)
        #expect(try Tokenizer.load(directory: dir).bosTokenId == nil)   // no tokenizer_config.json
        try Data("{% for m in messages %}{{ m }}{% endfor %}".utf8).write(to: dir.appendingPathComponent("chat_template.jinja"))
        #expect(try Tokenizer.load(directory: dir).chatTemplate == "{% for m in messages %}{{ m }}{% endfor %}")
    }
}

/// Odds and ends: lookups, thread safety, the UTF-8 repairer.
@Suite("Tokenizer basics")
struct BasicsTests {
    @Test("lookups compare bytes, not canonical equivalence")
    func byteExactLookups() throws {
        let json = #"{"model": {"type": "BPE", "vocab": {"\u00e9": 0, "e\u0301": 1, "e": 2, "\u0301": 3}, "merges": [["e", "\u0301"]]}}"#
        let t = try makeTokenizer(json)
        #expect(t.id(forToken: "\u{e9}") == 0)
        #expect(t.id(forToken: "e\u{301}") == 1)
        #expect(t.encode("\u{e9}e\u{301}") == [0, 1])
    }

    @Test("shared tokenizer encodes concurrently")
    func concurrent() async {
        let t = Fixture.tokenizer("bytelevel-llama3")
        let texts = Fixture.file.cases.map(\.text)
        let expected = texts.map { t.encode($0) }
        await withTaskGroup(of: Bool.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var ok = true
                    for round in 0..<20 {
                        let i = (worker * 13 + round * 7) % texts.count
                        ok = ok && t.encode(texts[i]) == expected[i]
                    }
                    return ok
                }
            }
            for await ok in group { #expect(ok) }
        }
    }

    @Test("incremental UTF-8 repair equals whole-string repair")
    func utf8Repair() {
        // Known answers (Python bytes.decode("utf-8", "replace"), which follows the same maximal-subpart rule).
        #expect(UTF8Repairer.decode([0xF0, 0x9F, 0x41]) == "\u{FFFD}A")
        #expect(UTF8Repairer.decode([0xC0, 0xAF]) == "\u{FFFD}\u{FFFD}")
        #expect(UTF8Repairer.decode([0xED, 0xA0, 0x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}")
        #expect(UTF8Repairer.decode([0xE2, 0x82]) == "\u{FFFD}")
        #expect(UTF8Repairer.decode([0xF4, 0x90, 0x80, 0x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")
        var rng = SplitMix64(seed: 11)
        let interesting: [UInt8] = [0x41, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF,
                                    0xF0, 0xF4, 0xF5, 0xFF]
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...12, using: &rng)).map { _ in interesting.randomElement(using: &rng)! }
            #expect(UTF8Repairer.decode(bytes) == String(decoding: bytes, as: UTF8.self), "\(bytes)")
        }
    }

    @Test("no decoder joins tokens with spaces; unknown ids are skipped")
    func noDecoder() throws {
        let t = try makeTokenizer(MalformedTests.doc())
        #expect(t.encode("abba") == [2, 1, 0])
        #expect(t.decode([2, 1, 99, 0]) == "ab b a")
        #expect(t.vocabularySize == 4)
        #expect(t.encode("") == [])
    }
}
