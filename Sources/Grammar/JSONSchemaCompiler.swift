#if canImport(Tokenization)   // the fuzz build compiles Tokenization's JSON files into this module
import Tokenization
#endif

/// JSON Schema (the subset OpenAI's structured outputs accept) to grammar rules whose sentences are exactly JSON
/// texts that validate: type (one or a list) object/array/string/number/integer/boolean/null, properties, required,
/// additionalProperties, items, minItems/maxItems, enum, const, anyOf, allOf of one schema, $ref to #, #/$defs/NAME
/// or #/definitions/NAME, string minLength/maxLength, pattern and format (date, time, date-time, uuid, ipv4).
/// Annotations (title, description, default, examples, ...) are ignored; any other keyword is an error naming it, so
/// nothing a client asks for is silently dropped.
///
/// Properties come out in the schema's order. Without `additionalProperties: false` an object still gets only its
/// declared properties (the output validates either way). In strict mode (OpenAI `strict: true`) every object must
/// list all its properties in `required` and set `additionalProperties: false`, as OpenAI demands.
struct JSONSchemaCompiler {
    private var rules = GrammarRules(root: "root")
    private let document: JSONValue
    private let strict: Bool
    /// At most one space between tokens (tool calls: machine-read, and a model cannot spend its tokens on
    /// indentation); otherwise the bounded whitespace of `JSONText.space`.
    private let compact: Bool
    private var refRules: [String: String] = [:]
    private var pending: [(name: String, schema: JSONValue, path: String)] = []
    private var counter = 0

    static let annotations: Set<String> = ["title", "description", "default", "examples", "$schema", "$id",
                                           "$comment", "deprecated", "readOnly", "writeOnly", "$defs",
                                           "definitions"]

    static func compile(_ schema: JSONValue, strict: Bool, compact: Bool = false) throws -> GrammarRules {
        var c = JSONSchemaCompiler(document: schema, strict: strict, compact: compact)
        let root = try c.expr(schema, path: "#")
        c.rules.add("root", root)
        while let next = c.pending.popLast() {
            c.rules.add(next.name, try c.expr(next.schema, path: next.path))
        }
        return c.rules
    }

    private init(document: JSONValue, strict: Bool, compact: Bool) {
        self.document = document
        self.strict = strict
        self.compact = compact
    }

    private func error(_ path: String, _ message: String) -> GrammarError {
        GrammarError("JSON schema at \"\(path)\": \(message)")
    }

    /// A named rule for a shared piece (whitespace, generic values), added once.
    private mutating func shared(_ name: String, _ make: (inout JSONSchemaCompiler) -> GrammarExpr) -> GrammarExpr {
        if !rules.contains(name) {
            rules.add(name, .empty)     // placeholder first: `make` may refer to the rule itself
            let body = make(&self)
            let index = rules.rules.firstIndex { $0.name == name }!
            rules.rules[index].expr = body
        }
        return .ref(name)
    }

    private mutating func space() -> GrammarExpr {
        shared("ws") { c in c.compact ? .optional(.text(" ")) : JSONText.space }
    }

    private mutating func stringValue() -> GrammarExpr {
        shared("string") { _ in .sequence([.text("\""), .star(JSONText.stringCharacter), .text("\"")]) }
    }

    /// Any JSON value (a schema with no constraints, `json_object`'s member values).
    mutating func anyValue() -> GrammarExpr {
        shared("value") { c in
            .choice([c.anyObject(), c.anyArray(), c.stringValue(), c.shared("number") { _ in JSONText.number },
                     .text("true"), .text("false"), .text("null")])
        }
    }

    mutating func anyObject() -> GrammarExpr {
        shared("object") { c in c.mapObject(values: c.anyValue()) }
    }

    private mutating func anyArray() -> GrammarExpr {
        shared("array") { c in c.list(c.anyValue(), min: 0, max: nil) }
    }

    private mutating func mapObject(values: GrammarExpr) -> GrammarExpr {
        let ws = space()
        let member = GrammarExpr.sequence([stringValue(), ws, .text(":"), ws, values])
        return .sequence([.text("{"), ws, .optional(.sequence([member, .star(.sequence([ws, .text(","), ws, member]))])),
                          ws, .text("}")])
    }

    private mutating func list(_ item: GrammarExpr, min: Int, max: Int?) -> GrammarExpr {
        let ws = space()
        let more = GrammarExpr.sequence([ws, .text(","), ws, item])
        let tail = GrammarExpr.repeated(more, min: Swift.max(min - 1, 0), max: max.map { $0 - 1 })
        let items = GrammarExpr.sequence([item, tail])
        return .sequence([.text("["), ws, min == 0 ? .optional(items) : items, ws, .text("]")])
    }

    /// A subschema as its own rule (so recursion and sharing stay small).
    private mutating func rule(_ schema: JSONValue, path: String) -> GrammarExpr {
        counter += 1
        let name = "s\(counter)"
        pending.append((name, schema, path))
        return .ref(name)
    }

    private mutating func expr(_ schema: JSONValue, path: String) throws -> GrammarExpr {
        switch schema {
        case .bool(true): return anyValue()
        case .bool(false): throw error(path, "the schema false allows no value")
        case .object(let o): return try objectSchema(o, path: path)
        default: throw error(path, "a schema must be an object or a boolean, not \(schema.typeName)")
        }
    }

    private mutating func objectSchema(_ o: JSONObject, path: String) throws -> GrammarExpr {
        let known: Set<String> = ["type", "properties", "required", "additionalProperties", "items", "minItems",
                                  "maxItems", "enum", "const", "anyOf", "allOf", "$ref", "minLength", "maxLength",
                                  "pattern", "format"]
        for (key, _) in o.members where !known.contains(key) && !JSONSchemaCompiler.annotations.contains(key) {
            throw error(path, "unsupported keyword \"\(key)\"")
        }
        if let ref = o["$ref"] {
            guard o.members.allSatisfy({ $0.key == "$ref" || JSONSchemaCompiler.annotations.contains($0.key) }) else {
                throw error(path, "$ref with other keywords beside it is not supported")
            }
            guard case .string(let target) = ref else { throw error(path, "$ref must be a string") }
            return try reference(target, path: path)
        }
        if let value = o["const"] { return .literal(JSONText.serialize(value)) }
        if let values = o["enum"] {
            guard case .array(let list) = values, !list.isEmpty else { throw error(path, "enum must be a non-empty array") }
            return .choice(list.map { .literal(JSONText.serialize($0)) })
        }
        if let anyOf = o["anyOf"] {
            guard case .array(let list) = anyOf, !list.isEmpty else { throw error(path, "anyOf must be a non-empty array") }
            guard o.members.allSatisfy({ $0.key == "anyOf" || JSONSchemaCompiler.annotations.contains($0.key) }) else {
                throw error(path, "anyOf with other keywords beside it is not supported")
            }
            return .choice(list.enumerated().map { rule($0.element, path: "\(path)/anyOf/\($0.offset)") })
        }
        if let allOf = o["allOf"] {
            guard case .array(let list) = allOf, list.count == 1 else {
                throw error(path, "allOf is supported with exactly one schema")
            }
            return rule(list[0], path: "\(path)/allOf/0")
        }
        var types: [String]
        switch o["type"] {
        case nil: types = []
        case .string(let t)?: types = [t]
        case .array(let list)?:
            types = try list.map { guard case .string(let t) = $0 else { throw error(path, "type must list strings") }; return t }
            guard !types.isEmpty else { throw error(path, "type must not be an empty list") }
        default: throw error(path, "type must be a string or a list of strings")
        }
        if types.isEmpty {
            if o["properties"] != nil || o["additionalProperties"] != nil { types = ["object"] }
            else if o["items"] != nil { types = ["array"] }
            else if o["pattern"] != nil || o["format"] != nil || o["minLength"] != nil || o["maxLength"] != nil {
                types = ["string"]
            } else { return anyValue() }
        }
        var options: [GrammarExpr] = []
        for type in types {
            switch type {
            case "object": options.append(try object(o, path: path))
            case "array": options.append(try array(o, path: path))
            case "string": options.append(try string(o, path: path))
            case "number": options.append(shared("number") { _ in JSONText.number })
            case "integer": options.append(shared("integer") { _ in JSONText.integer })
            case "boolean": options.append(.choice([.text("true"), .text("false")]))
            case "null": options.append(.text("null"))
            default: throw error(path, "unknown type \"\(type)\"")
            }
        }
        return options.count == 1 ? options[0] : .choice(options)
    }

    private mutating func reference(_ target: String, path: String) throws -> GrammarExpr {
        if let name = refRules[target] { return .ref(name) }
        var schema: JSONValue
        if target == "#" {
            schema = document
        } else {
            let parts = target.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, parts[0] == "#", parts[1] == "$defs" || parts[1] == "definitions",
                  case .object(let root) = document, case .object(let defs)? = root[parts[1]],
                  let found = defs[parts[2].replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")] else {
                throw error(path, "$ref \"\(target)\" does not name #, #/$defs/NAME or #/definitions/NAME in this schema")
            }
            schema = found
        }
        counter += 1
        let name = "ref\(counter)"
        refRules[target] = name
        pending.append((name, schema, target))
        return .ref(name)
    }

    private mutating func object(_ o: JSONObject, path: String) throws -> GrammarExpr {
        var properties: [(String, JSONValue)] = []
        if let p = o["properties"] {
            guard case .object(let po) = p else { throw error(path, "properties must be an object") }
            properties = po.members.map { ($0.key, $0.value) }
        }
        var required = Set<String>()
        if let r = o["required"] {
            guard case .array(let list) = r else { throw error(path, "required must be an array of names") }
            for item in list {
                guard case .string(let name) = item else { throw error(path, "required must be an array of names") }
                guard properties.contains(where: { $0.0 == name }) else {
                    throw error(path, "required property \"\(name)\" is not in properties")
                }
                required.insert(name)
            }
        }
        let additional = o["additionalProperties"]
        var closed = false
        if case .bool(false)? = additional { closed = true }
        if strict {
            guard closed else { throw error(path, "strict mode needs \"additionalProperties\": false on every object") }
            if let missing = properties.first(where: { !required.contains($0.0) }) {
                throw error(path, "strict mode needs every property in \"required\"; \"\(missing.0)\" is not")
            }
        }
        if properties.isEmpty {
            if closed { return .sequence([.text("{"), space(), .text("}")]) }
            let values: GrammarExpr = additional.map { v -> GrammarExpr in
                if case .bool(true) = v { return anyValue() }
                return rule(v, path: "\(path)/additionalProperties")
            } ?? anyValue()
            return mapObject(values: values)
        }
        let ws = space()
        let members: [(GrammarExpr, Bool)] = properties.map { (key, schema) in
            let value = rule(schema, path: "\(path)/properties/\(key)")
            return (.sequence([.literal(JSONText.quoted(key)), ws, .text(":"), ws, value]), required.contains(key))
        }
        let comma = GrammarExpr.sequence([ws, .text(","), ws])
        // rest(i): the members from i on, each after a comma; first(i): the members from i on, the first without.
        var rest: [GrammarExpr] = Array(repeating: .empty, count: members.count + 1)
        var first: [GrammarExpr] = Array(repeating: .empty, count: members.count + 1)
        counter += 1
        let base = "o\(counter)"
        for i in stride(from: members.count - 1, through: 0, by: -1) {
            let (member, isRequired) = members[i]
            let restName = "\(base)-rest\(i)", firstName = "\(base)-first\(i)"
            let withComma = GrammarExpr.sequence([comma, member, rest[i + 1]])
            rules.add(restName, isRequired ? withComma : .choice([withComma, rest[i + 1]]))
            let leading = GrammarExpr.sequence([member, rest[i + 1]])
            rules.add(firstName, isRequired ? leading : .choice([leading, first[i + 1]]))
            rest[i] = .ref(restName)
            first[i] = .ref(firstName)
        }
        return .sequence([.text("{"), ws, first[0], ws, .text("}")])
    }

    private mutating func array(_ o: JSONObject, path: String) throws -> GrammarExpr {
        let minItems = try count(o, "minItems", path: path) ?? 0
        let maxItems = try count(o, "maxItems", path: path)
        if let maxItems, maxItems < minItems { throw error(path, "maxItems \(maxItems) is below minItems \(minItems)") }
        if maxItems == 0 { return .sequence([.text("["), space(), .text("]")]) }
        let item = o["items"].map { rule($0, path: "\(path)/items") } ?? anyValue()
        return list(item, min: minItems, max: maxItems)
    }

    private func count(_ o: JSONObject, _ key: String, path: String) throws -> Int? {
        guard let v = o[key] else { return nil }
        let n: Int
        switch v {
        case .int(let i): n = i
        case .double(let d) where Int(exactly: d) != nil: n = Int(d)
        default: throw error(path, "\(key) must be a non-negative integer")
        }
        guard n >= 0, n <= CompiledGrammar.maximumRepetition else {
            throw error(path, "\(key) must be between 0 and \(CompiledGrammar.maximumRepetition)")
        }
        return n
    }

    private mutating func string(_ o: JSONObject, path: String) throws -> GrammarExpr {
        let minLength = try count(o, "minLength", path: path)
        let maxLength = try count(o, "maxLength", path: path)
        var body: GrammarExpr
        if let pattern = o["pattern"] {
            guard case .string(let p) = pattern else { throw error(path, "pattern must be a string") }
            guard o["format"] == nil, minLength == nil, maxLength == nil else {
                throw error(path, "pattern together with format, minLength or maxLength is not supported")
            }
            body = try RegexParser.parse(p, output: .jsonString, anchoredByDefault: false, what: "JSON schema at \"\(path)\": pattern")
        } else if let format = o["format"] {
            guard case .string(let f) = format else { throw error(path, "format must be a string") }
            guard minLength == nil, maxLength == nil else {
                throw error(path, "format together with minLength or maxLength is not supported")
            }
            guard let regex = JSONSchemaCompiler.formats[f] else {
                throw error(path, "format \"\(f)\" is not supported (supported: \(JSONSchemaCompiler.formats.keys.sorted().joined(separator: ", ")))")
            }
            body = try RegexParser.parse(regex, output: .jsonString, anchoredByDefault: true, what: "format \(f)")
        } else {
            if let minLength, let maxLength, maxLength < minLength {
                throw error(path, "maxLength \(maxLength) is below minLength \(minLength)")
            }
            if minLength == nil && maxLength == nil { return stringValue() }
            body = .repeated(JSONText.stringCharacter, min: minLength ?? 0, max: maxLength)
        }
        return .sequence([.text("\""), body, .text("\"")])
    }

    static let formats: [String: String] = {
        let date = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
        let time = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
        let octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
        return ["date": date, "time": time, "date-time": "\(date)T\(time)",
                "uuid": "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
                "ipv4": "\(octet)\\.\(octet)\\.\(octet)\\.\(octet)"]
    }()
}
