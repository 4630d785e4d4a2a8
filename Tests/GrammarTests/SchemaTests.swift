import Foundation
import Testing
import TestSupport
@testable import Grammar

@Suite("JSON Schema to grammar")
struct SchemaTests {
    static let schemas: [String] = [
        // Nested objects, enums, arrays with bounds.
        #"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"address":{"type":"object","properties":{"city":{"type":"string","maxLength":12},"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["city","zip"],"additionalProperties":false},"tags":{"type":"array","items":{"type":"string","enum":["red","green","blue"]},"minItems":1,"maxItems":3}},"required":["name","age","address","tags"],"additionalProperties":false}"#,
        // anyOf, null, number, boolean, const.
        #"{"type":"object","properties":{"value":{"anyOf":[{"type":"number"},{"type":"string"},{"type":"null"}]},"ok":{"type":"boolean"},"kind":{"const":"result"}},"required":["value","ok","kind"],"additionalProperties":false}"#,
        // $defs and recursion.
        ##"{"$defs":{"node":{"type":"object","properties":{"label":{"type":"string","maxLength":5},"children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["label","children"],"additionalProperties":false}},"$ref":"#/$defs/node"}"##,
        // Optional properties, type lists, formats.
        #"{"type":"object","properties":{"id":{"type":"string","format":"uuid"},"when":{"type":"string","format":"date"},"note":{"type":["string","null"]},"score":{"type":"number"}},"required":["id"]}"#,
        // Top-level array of enums of mixed types.
        #"{"type":"array","items":{"enum":[1,"two",null,true,{"x":[1,2]}]},"minItems":2}"#,
        // Open map.
        #"{"type":"object","additionalProperties":{"type":"integer"}}"#,
    ]

    @Test(arguments: schemas.indices)
    func walksValidate(index: Int) throws {
        let schema = SchemaTests.schemas[index]
        let grammar = try GrammarSpec.jsonSchema(schema, strict: false).compile()
        let validator = SchemaValidator(schema)
        for (seed, vocab) in [(1, TestVocabularies.small), (2, TestVocabularies.llama3), (3, TestVocabularies.llama2),
                              (4, TestVocabularies.small), (5, TestVocabularies.llama3)] {
            let ids = try #require(randomWalk(grammar, vocab, seed: UInt64(seed * 100 + index)), "walk \(seed) got stuck")
            let output = text(ids, vocab)
            #expect(validator.problem(output) == nil, "seed \(seed): \(output)")
        }
    }

    @Test func validDocumentsAreAcceptedInvalidRefused() throws {
        let schema = SchemaTests.schemas[0]
        let grammar = try GrammarSpec.jsonSchema(schema, strict: true).compile()
        let good = #"{"name": "Ann", "age": 41, "address": {"city": "Oslo", "zip": "01234"}, "tags": ["red", "blue"]}"#
        let bad = [
            #"{"name": "Ann", "age": 41.5, "address": {"city": "Oslo", "zip": "01234"}, "tags": ["red"]}"#,
            #"{"name": "Ann", "age": 41, "address": {"city": "Oslo", "zip": "0123"}, "tags": ["red"]}"#,
            #"{"name": "Ann", "age": 41, "address": {"city": "Oslo", "zip": "01234"}, "tags": []}"#,
            #"{"name": "Ann", "age": 41, "address": {"city": "Oslo", "zip": "01234"}, "tags": ["pink"]}"#,
            #"{"age": 41, "name": "Ann", "address": {"city": "Oslo", "zip": "01234"}, "tags": ["red"]}"#,
            #"{"name": "Ann", "age": 41, "address": {"city": "Oslo", "zip": "01234"}, "tags": ["red"], "x": 1}"#,
        ]
        let t = TestVocabularies.llama3Tokenizer
        func accepts(_ s: String) -> Bool {
            let m = GrammarMatcher(grammar: grammar, vocabulary: TestVocabularies.llama3)
            return t.encode(s, addSpecialTokens: false).allSatisfy { m.accept($0) } && m.canTerminate
        }
        #expect(accepts(good))
        for b in bad { #expect(!accepts(b), "\(b)") }
    }

    @Test func jsonObjectIsAnyObject() throws {
        let grammar = try GrammarSpec.jsonObject.compile()
        for seed in 0..<6 {
            let ids = try #require(randomWalk(grammar, TestVocabularies.llama3, seed: UInt64(seed)))
            let output = text(ids, TestVocabularies.llama3)
            let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8))
            #expect(parsed is [String: Any], "\(output)")
        }
    }

    static let errors: [(String, Bool, String)] = [
        (##"{"type":"strin"}"##, false, ##"at "#": unknown type "strin""##),
        (##"{"type":"object","properties":{"a":{"type":"string","minimum":3}}}"##, false, ##"at "#/properties/a": unsupported keyword "minimum""##),
        (#"{"type":"object","properties":{"a":{"type":"string"}}}"#, true, #"strict mode needs "additionalProperties": false"#),
        (#"{"type":"object","properties":{"a":{"type":"string"}},"required":[],"additionalProperties":false}"#, true, #"strict mode needs every property in "required"; "a" is not"#),
        (##"{"$ref":"#/$defs/missing"}"##, false, ##"$ref "#/$defs/missing" does not name"##),
        (#"{"type":"string","format":"email"}"#, false, #"format "email" is not supported"#),
        (#"{"type":"string","pattern":"(a"}"#, false, "pattern: missing )"),
        (#"{"type":"string","pattern":"(?=a)"}"#, false, "lookaround"),
        (#"{"type":"array","minItems":3,"maxItems":2}"#, false, "maxItems 2 is below minItems 3"),
        (#"{"type":"object","properties":{"a":{}},"required":["b"]}"#, false, #"required property "b" is not in properties"#),
        (#"{"oneOf":[{"type":"string"}]}"#, false, #"unsupported keyword "oneOf""#),
        (#"{"type":"object""#, false, "not valid JSON"),
        (#"[1]"#, false, "a schema must be an object or a boolean"),
        (##"{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}"##, false, "left-recursive"),
    ]

    @Test(arguments: errors.indices)
    func badSchemasNameTheProblem(index: Int) {
        let (schema, strict, expected) = SchemaTests.errors[index]
        do {
            _ = try GrammarSpec.jsonSchema(schema, strict: strict).compile()
            Issue.record("\(schema) compiled")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }
}
