import Foundation
import Testing
import TestSupport
@testable import Tokenization

/// Malformed or hostile tokenizer.json documents: each is a clear error naming the problem, never a crash.
@Suite("Malformed tokenizer.json")
struct MalformedTests {
    static let model = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<unk>": 3}, "merges": ["a b"]}"#

    static func doc(model: String = model, _ extra: String = "") -> String {
        #"{"model": \#(model)\#(extra.isEmpty ? "" : ", " + extra)}"#
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let json: String
        let message: String
        var testDescription: String { message }
    }

    static let cases: [Case] = [
        Case(json: "hello", message: "tokenizer.json is not valid JSON: unexpected character 'h' at byte 0"),
        Case(json: "", message: "tokenizer.json is not valid JSON: unexpected end of input"),
        Case(json: #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}"#, message: "unexpected end of input in an object"),
        Case(json: String(repeating: "[", count: 100_000), message: "nesting deeper than 128 levels"),
        Case(json: #"{"model": {"vocab": {"\ud800": 0}}}"#, message: "lone leading surrogate"),
        Case(json: "[1, 2]", message: "tokenizer.json must be an object, not an array"),
        Case(json: "{}", message: #"tokenizer.json has no "model""#),
        Case(json: #"{"model": 3}"#, message: #"tokenizer.json "model" must be an object, not a number"#),
        Case(json: doc(model: #"{"type": "WordPiece", "vocab": {}}"#), message: #"unsupported tokenizer model "WordPiece""#),
        Case(json: doc(model: #"{"type": "Unigram", "vocab": []}"#), message: #"unsupported tokenizer model "Unigram""#),
        Case(json: doc(model: #"{"type": "WordLevel", "vocab": {}}"#), message: #"unsupported tokenizer model "WordLevel""#),
        Case(json: doc(model: #"{"type": "Magic"}"#), message: #"unsupported tokenizer model "Magic" (unknown model type)"#),
        Case(json: doc(model: #"{"vocab": {}}"#), message: #"tokenizer.json model has no "type""#),
        Case(json: doc(model: #"{"type": "BPE", "merges": []}"#), message: #"tokenizer.json model is missing "vocab""#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": ["a"]}"#), message: #"tokenizer.json model "vocab" must be an object, not an array"#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": -1}}"#), message: #"vocab entry "a" has a negative id -1"#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 1e30}}"#), message: #"vocab entry "a" must be an integer"#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 99999999999}}"#), message: #"vocab entry "a" has id 99999999999, above the limit"#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 1.5}}"#), message: #"vocab entry "a" must be an integer, not 1.5"#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": "0"}}"#), message: #"vocab entry "a" must be an integer, not a string"#),
        Case(json: doc(model: "{\"type\": \"BPE\", \"vocab\": {\"a\": " + String(repeating: "9", count: 400) + "}}"),
             message: #"vocab entry "a" must be an integer, not inf"#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 0}}"#), message: #"vocab gives id 0 to two tokens, "a" and "b""#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a z"]}"#), message: #"merge 0 ("a" "z") names a token that is not in the vocabulary: "z""#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}"#), message: #"merge 0 ("a" "b") produces "ab", which is not in the vocabulary"#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["ab"]}"#), message: #"merge 0 "ab" must be two tokens separated by one space"#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a  b"]}"#), message: "must be two tokens separated by one space"),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 0}, "merges": [7]}"#), message: "merge 0 must be a string or a pair of strings, not a number"),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "a", "a"]]}"#), message: "merge 0 must be a pair of strings"),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 0}, "merges": {"a": "b"}}"#), message: #"tokenizer.json model "merges" must be an array, not an object"#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 0}, "unk_token": "<unk>"}"#), message: #"unk_token "<unk>" is not in the vocabulary"#),
        Case(json: doc(model: #"{"type": "BPE", "vocab": {"a": 0}, "byte_fallback": "yes"}"#), message: #"tokenizer.json model "byte_fallback" must be a boolean, not a string"#),
        Case(json: doc(#""pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}"#), message: #"tokenizer.json pre_tokenizer has an invalid regex "(unclosed""#),
        Case(json: doc(#""normalizer": {"type": "Replace", "pattern": {"Regex": "[z-a]"}, "content": ""}"#), message: #"invalid regex "[z-a]""#),
        Case(json: doc(#""pre_tokenizer": {"type": "Split", "pattern": {"Glob": "*"}, "behavior": "Isolated"}"#), message: #"pattern must have a "String" or "Regex" member"#),
        Case(json: doc(#""pre_tokenizer": {"type": "Split", "pattern": {"String": "-"}, "behavior": "Sideways"}"#), message: #"unknown split behavior "Sideways""#),
        Case(json: doc(#""normalizer": {"type": "Precompiled", "precompiled_charsmap": ""}"#), message: #"unsupported normalizer type "Precompiled" in tokenizer.json normalizer"#),
        Case(json: doc(#""normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "BertNormalizer"}]}"#), message: #"unsupported normalizer type "BertNormalizer" in tokenizer.json normalizer normalizers[1]"#),
        Case(json: doc(#""pre_tokenizer": {"type": "UnicodeScripts"}"#), message: #"unsupported pre-tokenizer type "UnicodeScripts""#),
        Case(json: doc(###""decoder": {"type": "WordPiece", "prefix": "##"}"###), message: #"unsupported decoder type "WordPiece""#),
        Case(json: doc(#""post_processor": {"type": "Mystery"}"#), message: #"unsupported post-processor type "Mystery""#),
        Case(json: doc(#""normalizer": {"lowercase": true}"#), message: #"tokenizer.json normalizer is missing "type""#),
        Case(json: doc(#""decoder": [1]"#), message: "tokenizer.json decoder must be an object, not an array"),
        Case(json: doc(#""pre_tokenizer": {"type": "Metaspace", "replacement": "ab"}"#), message: #""replacement" must be a single character"#),
        Case(json: doc(#""decoder": {"type": "Strip", "content": " ", "start": -1, "stop": 0}"#), message: #""start" and "stop" must not be negative"#),
        Case(json: doc(#""post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {}}"#), message: #"single template uses "<s>", which is not in special_tokens"#),
        Case(json: doc(#""added_tokens": {"id": 0}"#), message: #"tokenizer.json "added_tokens" must be an array, not an object"#),
        Case(json: doc(#""added_tokens": [{"id": -5, "content": "x"}]"#), message: "tokenizer.json added_tokens[0] has a negative id -5"),
        Case(json: doc(#""added_tokens": [{"id": 5}]"#), message: #"tokenizer.json added_tokens[0] is missing "content""#),
        Case(json: doc(#""added_tokens": [{"id": 5, "content": "x", "special": 1}]"#), message: #"added_tokens[0] "special" must be a boolean, not a number"#),
    ]

    @Test("clear errors", arguments: cases)
    func malformed(_ c: Case) {
        do {
            _ = try makeTokenizer(c.json)
            Issue.record("no error for \(c.json.prefix(200))")
        } catch let error as TokenizerError {
            #expect(error.description.contains(c.message), "got: \(error.description)")
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }

    @Test("invalid UTF-8 and BOM")
    func encoding() throws {
        var bad = Data(#"{"model": {"type": "BPE", "vocab": {"#.utf8)
        bad.append(contentsOf: [0x22, 0xFF, 0xFE, 0x22])
        bad.append(contentsOf: #": 0}}}"#.utf8)
        #expect(throws: TokenizerError.self) { try Tokenizer(tokenizerJSON: bad, configJSON: nil) }
        do {
            _ = try Tokenizer(tokenizerJSON: bad, configJSON: nil)
        } catch {
            #expect("\(error)".contains("string is not valid UTF-8"))
        }
        let bom = Data([0xEF, 0xBB, 0xBF]) + Data(MalformedTests.doc().utf8)
        #expect(try Tokenizer(tokenizerJSON: bom, configJSON: nil).encode("ab") == [2])
    }

    @Test("malformed tokenizer_config.json")
    func badConfig() {
        for (config, message) in [
            (#"{"bos_token": 3}"#, #"tokenizer_config.json "bos_token" must be a string or an object, not a number"#),
            (#"{"chat_template": 3}"#, #"tokenizer_config.json "chat_template" must be a string or a list"#),
            (#"{"add_bos_token": "yes"}"#, #"tokenizer_config.json "add_bos_token" must be a boolean"#),
            (#"{"add_bos_token": true, "bos_token": "<nope>"}"#, #"sets add_bos_token but bos_token "<nope>" is not a known token"#),
            ("{", "tokenizer_config.json is not valid JSON"),
        ] {
            do {
                _ = try makeTokenizer(MalformedTests.doc(), config: config)
                Issue.record("no error for \(config)")
            } catch {
                #expect("\(error)".contains(message), "got: \(error)")
            }
        }
    }

    @Test("missing directory")
    func missingDirectory() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: TokenizerError.self) { try Tokenizer.load(directory: dir) }
        do { _ = try Tokenizer.load(directory: dir) } catch {
            #expect("\(error)".contains("cannot read") && "\(error)".contains("tokenizer.json"))
        }
    }

    @Test("hostile but valid documents load and encode without trapping")
    func hostileButValid() throws {
        // Holes in the ids, a duplicated token (the later wins, as in HF), a huge but allowed id, added tokens
        // with wild ids (HF assigns its own), an empty added token (ignored).
        let json = #"""
        {"added_tokens": [{"id": 4000000000, "content": "<x>", "special": true}, {"id": 3, "content": "", "special": true}],
         "model": {"type": "BPE", "vocab": {"a": 0, "b": 7, "a": 5, "ab": 2000000}, "merges": [["a", "b"]]}}
        """#
        let t = try makeTokenizer(json)
        #expect(t.encode("ab<x>a") == [2_000_000, 3, 5])
        #expect(t.vocabularySize == 2_000_001)
        #expect(t.token(forId: 0) == nil)
        #expect(t.decode([5, 7, 3, 123, -1, Int.max]) == "a b <x>")
    }
}
