import Foundation

/// A JSON Schema validator for the subset the compiler accepts, written independently of the compiler (from the
/// JSON Schema 2020-12 text), so generated output is checked against what the schema means, not how it compiles.
public struct SchemaValidator {
    let root: Any

    public init(_ schemaText: String) {
        root = try! JSONSerialization.jsonObject(with: Data(schemaText.utf8), options: [.fragmentsAllowed])
    }

    /// nil when valid, else the first problem.
    public func problem(_ jsonText: String) -> String? {
        guard let value = try? JSONSerialization.jsonObject(with: Data(jsonText.utf8), options: [.fragmentsAllowed]) else {
            return "not JSON: \(jsonText)"
        }
        return check(value, root, "$")
    }

    private func isInteger(_ v: Any) -> Bool {
        guard let n = v as? NSNumber, !SchemaValidator.isBool(n) else { return false }
        return n.doubleValue.rounded() == n.doubleValue
    }

    static func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    private func typeMatches(_ v: Any, _ type: String) -> Bool {
        switch type {
        case "object": return v is [String: Any]
        case "array": return v is [Any]
        case "string": return v is String
        case "boolean": return (v as? NSNumber).map(SchemaValidator.isBool) ?? false
        case "number": return (v as? NSNumber).map { !SchemaValidator.isBool($0) } ?? false
        case "integer": return isInteger(v)
        case "null": return v is NSNull
        default: return false
        }
    }

    private func equal(_ a: Any, _ b: Any) -> Bool {
        (a as? NSObject)?.isEqual(b) ?? false
    }

    func check(_ v: Any, _ schemaAny: Any, _ path: String) -> String? {
        if let b = schemaAny as? Bool { return b ? nil : "\(path): schema false" }
        guard let s = schemaAny as? [String: Any] else { return "\(path): bad schema" }
        if let ref = s["$ref"] as? String {
            let target: Any
            if ref == "#" { target = root } else {
                let parts = ref.split(separator: "/").map(String.init)
                target = ((root as! [String: Any])[parts[1]] as! [String: Any])[parts[2]]!
            }
            return check(v, target, path)
        }
        if let c = s["const"], !equal(v, c) { return "\(path): not the const" }
        if let e = s["enum"] as? [Any], !e.contains(where: { equal(v, $0) }) { return "\(path): not in enum" }
        if let any = s["anyOf"] as? [Any], !any.contains(where: { check(v, $0, path) == nil }) { return "\(path): no anyOf branch" }
        if let all = s["allOf"] as? [Any] { for sub in all { if let p = check(v, sub, path) { return p } } }
        if let t = s["type"] {
            let types = (t as? [String]) ?? [t as! String]
            if !types.contains(where: { typeMatches(v, $0) }) { return "\(path): not of type \(types)" }
        }
        if let o = v as? [String: Any] {
            let props = s["properties"] as? [String: Any] ?? [:]
            for r in s["required"] as? [String] ?? [] where o[r] == nil { return "\(path): missing \(r)" }
            for (k, value) in o {
                if let sub = props[k] { if let p = check(value, sub, "\(path).\(k)") { return p } }
                else if let add = s["additionalProperties"] { if let p = check(value, add, "\(path).\(k)") { return p } }
            }
        }
        if let a = v as? [Any] {
            if let min = s["minItems"] as? Int, a.count < min { return "\(path): fewer than \(min) items" }
            if let max = s["maxItems"] as? Int, a.count > max { return "\(path): more than \(max) items" }
            if let items = s["items"] { for (i, x) in a.enumerated() { if let p = check(x, items, "\(path)[\(i)]") { return p } } }
        }
        if let str = v as? String {
            let n = str.unicodeScalars.count
            if let min = s["minLength"] as? Int, n < min { return "\(path): shorter than \(min)" }
            if let max = s["maxLength"] as? Int, n > max { return "\(path): longer than \(max)" }
            if let pattern = s["pattern"] as? String {
                let re = try! NSRegularExpression(pattern: pattern)
                if re.firstMatch(in: str, range: NSRange(str.startIndex..., in: str)) == nil { return "\(path): pattern \(pattern) does not match \(str.debugDescription)" }
            }
            if let format = s["format"] as? String {
                let formats = ["date": "^\\d{4}-\\d{2}-\\d{2}$", "uuid": "^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$",
                               "date-time": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$"]
                if let f = formats[format], str.range(of: f, options: .regularExpression) == nil { return "\(path): not a \(format)" }
            }
        }
        return nil
    }
}
