import Foundation

/// Typed reads of a request's JSON fields. A present field of the wrong type or out of range is a 400 naming the
/// field (in `message` and `param`); absent and null fields read as nil. Unknown fields are the caller's to refuse
/// (`refuseUnknown`).
public struct Fields {
    public let object: [String: Any]
    /// Where this object sits in the request (`"messages[2]"`), prefixed to `param`; "" at the top.
    public let path: String
    public init(_ object: [String: Any], path: String = "") {
        self.object = object
        self.path = path
    }

    /// The `param` of a field of this object.
    public func param(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// A 400 about `key`, with `param` set.
    public func invalid(_ key: String, _ message: String, code: String = "invalid_value") -> APIError {
        APIError.invalid(message, code: code, param: param(key))
    }

    /// Refuses the first field not in `known` (sorted, so the answer is stable) as `unsupported_parameter`.
    public func refuseUnknown(_ known: Set<String>, what: String) throws {
        if let key = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError.unsupported(param(key), "\"\(param(key))\" is not supported by lorad's \(what); see docs/api.md for the fields lorad implements")
        }
    }

    private func present(_ key: String) -> Any? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        return v
    }

    /// NSNumber that is a JSON boolean (not 0/1 numbers).
    public static func isBool(_ v: Any) -> Bool {
        guard let n = v as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"   // JSON true/false arrive as char-typed NSNumbers
    }

    public func string(_ key: String) throws -> String? {
        guard let v = present(key) else { return nil }
        guard let s = v as? String else { throw invalid(key, "\"\(param(key))\" must be a string", code: "invalid_type") }
        return s
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let v = present(key) else { return nil }
        guard Self.isBool(v), let n = v as? NSNumber else {
            throw invalid(key, "\"\(param(key))\" must be true or false", code: "invalid_type")
        }
        return n.boolValue
    }

    public func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let v = present(key) else { return nil }
        guard let n = v as? NSNumber, !Self.isBool(v) else {
            throw invalid(key, "\"\(param(key))\" must be a number", code: "invalid_type")
        }
        let d = n.doubleValue
        guard d.isFinite, range.contains(d) else {
            throw invalid(key, "\"\(param(key))\" must be between \(Self.format(range.lowerBound)) and \(Self.format(range.upperBound)), got \(Self.format(d))")
        }
        return d
    }

    public func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = present(key) else { return nil }
        guard let n = v as? NSNumber, !Self.isBool(v) else {
            throw invalid(key, "\"\(param(key))\" must be an integer", code: "invalid_type")
        }
        // Integers the JSON parser kept as integers are read exactly (through a Double, a seed above 2^53 would be
        // rounded into another seed); numbers written with a fraction or an exponent arrive as Doubles.
        let exact: Int?, shown: String
        switch String(cString: n.objCType) {
        case "q", "l", "i", "s":
            exact = n.intValue
            shown = String(n.int64Value)
        case "Q", "L", "I", "S":
            let u = n.uint64Value
            exact = u <= UInt64(Int.max) ? Int(u) : nil
            shown = String(u)
        default:
            let d = n.doubleValue
            guard d.isFinite, d == d.rounded() else {
                throw invalid(key, "\"\(param(key))\" must be an integer", code: "invalid_type")
            }
            // Int(exactly:): 2^63 passes `d <= Double(Int.max)` (that Double rounds up to 2^63) but is no Int.
            exact = Int(exactly: d)
            shown = Self.format(d)
        }
        guard let i = exact, range.contains(i) else {
            throw invalid(key, "\"\(param(key))\" must be between \(range.lowerBound) and \(range.upperBound), got \(shown)")
        }
        return i
    }

    public func value(_ key: String) -> Any? { present(key) }

    static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }
}
