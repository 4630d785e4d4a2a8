// Public data model for chat-template variables: Python/JSON-like values.

/// A value passed into a chat template: the JSON-like data Python's jinja2 sees (str, int, float, bool, list, dict, None).
public enum JinjaValue: Sendable, Equatable {
    /// Jinja's `Undefined`: renders as "", is falsy, and `is defined` is false.
    case undefined
    /// Python `None` (JSON `null`).
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([JinjaValue])
    case dict(JinjaDict)
}

extension JinjaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JinjaValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, JinjaValue)...) { self = .dict(JinjaDict(elements)) }
    public init(nilLiteral: ()) { self = .none }
}

extension JinjaValue {
    /// The string payload, if this is a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// An insertion-ordered dictionary with string keys, like a Python dict built from JSON.
public struct JinjaDict: Sendable, Equatable, ExpressibleByDictionaryLiteral, Sequence {
    /// Keys in insertion order.
    public private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]

    public init() {}

    /// Builds a dictionary from pairs; a repeated key keeps its first position and takes the last value (as Python).
    public init(_ pairs: [(String, JinjaValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public init(dictionaryLiteral elements: (String, JinjaValue)...) { self.init(elements) }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Reads a value; assigning `nil` removes the key.
    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public func makeIterator() -> AnyIterator<(key: String, value: JinjaValue)> {
        var index = 0
        return AnyIterator {
            guard index < keys.count else { return nil }
            let key = keys[index]
            index += 1
            return (key, storage[key] ?? .undefined)
        }
    }

    /// Python dict equality: the same keys with equal values, in any order.
    public static func == (lhs: JinjaDict, rhs: JinjaDict) -> Bool {
        lhs.storage == rhs.storage
    }
}

/// One chat message: a role, optional content, and extra keys (name, tool_calls, ...) passed through to the template.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    /// Usually `.string`; `.none` for JSON null; `.undefined` when the message has no content key; a list for parts.
    public var content: JinjaValue
    /// Further keys, in order, after "role" and "content".
    public var extra: JinjaDict

    public init(role: String, content: String?, extra: JinjaDict = [:]) {
        self.role = role
        self.content = content.map { .string($0) } ?? .none
        self.extra = extra
    }

    public init(role: String, contentValue: JinjaValue, extra: JinjaDict = [:]) {
        self.role = role
        self.content = contentValue
        self.extra = extra
    }

    /// The message as the dict a template sees: `role`, `content` (unless undefined), then `extra`.
    public var jinjaValue: JinjaValue {
        var dict = JinjaDict()
        dict["role"] = .string(role)
        if content != .undefined { dict["content"] = content }
        for (key, value) in extra where key != "role" && key != "content" { dict[key] = value }
        return .dict(dict)
    }
}
