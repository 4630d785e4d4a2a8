// Values during a render: JinjaValue's data plus what only templates create (namespaces, macros, loops, methods).

/// A value inside the evaluator. Containers carry their nesting depth so deep structures are refused, not overflowed.
indirect enum Value {
    /// Jinja's default `Undefined`; the text is the UndefinedError message if the value is used.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list(ValueList)
    case dict(ValueDict)
    /// A `namespace()`: an index into the render's namespace table (no reference cycles).
    case namespace(Int)
    case loop(LoopState)
    case macro(MacroDefinition)
    case function(Builtin)
    /// `receiver.name` where `name` is a method (`str.strip`, `dict.items`, `loop.cycle`).
    case method(Value, String)

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// Python truthiness; Undefined is false.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let l): return !l.items.isEmpty
        case .dict(let d): return !d.isEmpty
        case .namespace, .loop, .macro, .function, .method: return true
        }
    }

    /// Container nesting: 0 for scalars.
    var depth: Int {
        switch self {
        case .list(let l): return l.depth
        case .dict(let d): return d.depth
        default: return 0
        }
    }

    /// Python's type name, for error messages (`'int' object is not iterable`).
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list(let l): return l.isTuple ? "tuple" : "list"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .loop: return "LoopContext"
        case .macro: return "Macro"
        case .function: return "builtin_function_or_method"
        case .method: return "method"
        }
    }

    static func list(_ items: [Value]) -> Value { .list(ValueList(items)) }
    static func tuple(_ items: [Value]) -> Value { .list(ValueList(items, isTuple: true)) }
}

/// An immutable list (or Python tuple: same behaviour, printed `(a, b)`, never equal to a list) with its depth.
struct ValueList {
    let items: [Value]
    let depth: Int
    let isTuple: Bool

    init(_ items: [Value], isTuple: Bool = false) {
        self.items = items
        self.isTuple = isTuple
        var d = 0
        for item in items { d = max(d, item.depth) }
        depth = d + 1
    }
}

/// A string key compared and hashed by code points, as Python does (Swift's String uses canonical equivalence).
struct PyKey: Hashable {
    let string: String

    static func == (a: PyKey, b: PyKey) -> Bool { a.string.utf8.elementsEqual(b.string.utf8) }

    func hash(into hasher: inout Hasher) {
        var copy = string
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// An insertion-ordered dictionary with string keys (Python dict semantics for JSON data).
struct ValueDict {
    private(set) var keys: [String] = []
    private(set) var values: [Value] = []
    private var positions: [PyKey: Int] = [:]
    private(set) var depth = 1

    init() {}

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }

    subscript(key: String) -> Value? {
        positions[PyKey(string: key)].map { values[$0] }
    }

    /// Sets a key; an existing key keeps its position.
    mutating func set(_ key: String, _ value: Value) {
        if let at = positions[PyKey(string: key)] {
            values[at] = value
        } else {
            positions[PyKey(string: key)] = keys.count
            keys.append(key)
            values.append(value)
        }
        depth = max(depth, value.depth + 1)
    }

    var pairs: Zip2Sequence<[String], [Value]> { zip(keys, values) }
}

/// `loop` inside a for loop. A class so `loop.changed()` can keep state and `{% set l = loop %}` sees updates.
final class LoopState {
    let items: [Value]
    var index0 = 0
    var lastChanged: [Value]? = nil

    init(items: [Value]) { self.items = items }

    var length: Int { items.count }
}

/// Global functions a template can call.
enum Builtin: String {
    case range, namespace, dict
    case raiseException = "raise_exception"
    case strftimeNow = "strftime_now"
    /// Jinja globals this renderer does not implement; calling them is `.unsupported`.
    case cycler, joiner, lipsum
}
