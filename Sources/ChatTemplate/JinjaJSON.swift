// JinjaValue from JSON: from JSONSerialization output, or parsed from text keeping key order as Python's json does.

import Foundation

extension JinjaValue {
    /// Converts `JSONSerialization.jsonObject` output (or plain Swift values). NSNumber booleans become `.bool`,
    /// integral numbers `.int`, others `.double`. `[String: Any]` has no key order, so keys are sorted;
    /// use `init(jsonData:)` to keep the order of the JSON text. Nesting past 512 levels and unknown types are `.none`.
    public init(json: Any) {
        self.init(json: json, level: 0)
    }

    private init(json: Any, level: Int) {
        guard level < 512 else { self = .none; return }
        let type = Swift.type(of: json)
        if type == Bool.self, let b = json as? Bool { self = .bool(b); return }
        if type == Int.self, let i = json as? Int { self = .int(i); return }
        if type == Double.self, let d = json as? Double { self = .double(d); return }
        switch json {
        case let v as JinjaValue:
            self = v
        case is NSNull:
            self = .none
        case let n as NSNumber:
            switch String(cString: n.objCType) {
            case "c", "B": self = .bool(n.boolValue)
            case "d", "f": self = .double(n.doubleValue)
            case "Q", "L", "I", "S", "C":
                self = n.uint64Value <= UInt64(Int.max) ? .int(Int(n.uint64Value)) : .double(n.doubleValue)
            default: self = .int(n.intValue)
            }
        case let s as String:
            self = .string(s)
        case let items as [Any]:
            self = .list(items.map { JinjaValue(json: $0, level: level + 1) })
        case let d as [String: Any]:
            self = .dict(JinjaDict(d.keys.sorted().map { ($0, JinjaValue(json: d[$0]!, level: level + 1)) }))
        default:
            self = .none
        }
    }

    /// Parses JSON text, keeping object key order (as `json.loads` does; `tojson` output follows it).
    /// Throws `ChatTemplateError` `.syntax` naming the byte offset of the problem.
    public init(jsonData: Data) throws {
        var parser = JSONTextParser(bytes: [UInt8](jsonData))
        self = try parser.parseDocument()
    }

    public init(jsonString: String) throws {
        try self.init(jsonData: Data(jsonString.utf8))
    }
}

/// A strict RFC 8259 parser producing JinjaValue; nesting is bounded so hostile input cannot overflow the stack.
private struct JSONTextParser {
    let bytes: [UInt8]
    var i = 0
    var depth = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ what: String) -> ChatTemplateError { .syntax("invalid JSON at byte \(i): \(what)", nil) }

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func parseDocument() throws -> JinjaValue {
        let v = try parseValue()
        skipSpace()
        guard i == bytes.count else { throw fail("trailing characters") }
        return v
    }

    mutating func literal(_ word: String, _ value: JinjaValue) throws -> JinjaValue {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw fail("unexpected character") }
        i += w.count
        return value
    }

    mutating func parseValue() throws -> JinjaValue {
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            return try nested { try $0.parseObject() }
        case UInt8(ascii: "["):
            return try nested { try $0.parseArray() }
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .none)
        default: return try parseNumber()
        }
    }

    /// Steps into `{` or `[`, refusing nesting deeper than 512 levels.
    mutating func nested(_ body: (inout JSONTextParser) throws -> JinjaValue) throws -> JinjaValue {
        i += 1
        depth += 1
        guard depth <= 512 else { throw fail("nesting deeper than 512 levels") }
        defer { depth -= 1 }
        return try body(&self)
    }

    mutating func parseObject() throws -> JinjaValue {
        var d = JinjaDict()
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .dict(d) }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            d[key] = try parseValue()
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            guard bytes[i] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            i += 1
            return .dict(d)
        }
    }

    mutating func parseArray() throws -> JinjaValue {
        var items: [JinjaValue] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .list(items) }
        while true {
            items.append(try parseValue())
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            guard bytes[i] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            i += 1
            return .list(items)
        }
    }

    mutating func parseNumber() throws -> JinjaValue {
        let start = i
        var isFloat = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        func digits(_ p: inout JSONTextParser) -> Int {
            let s = p.i
            while p.i < p.bytes.count, (0x30...0x39).contains(p.bytes[p.i]) { p.i += 1 }
            return p.i - s
        }
        let intDigits = digits(&self)
        guard intDigits > 0 else { throw fail("unexpected character") }
        if intDigits > 1 && bytes[i - intDigits] == UInt8(ascii: "0") { throw fail("leading zero") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            isFloat = true
            guard digits(&self) > 0 else { throw fail("expected digits after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            isFloat = true
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw fail("expected exponent digits") }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if !isFloat, let v = Int(text) { return .int(v) }
        guard let d = Double(text) else { throw fail("bad number") }
        return .double(d)
    }

    mutating func parseString() throws -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let b = bytes[i]
            i += 1
            if b == UInt8(ascii: "\"") { break }
            if b < 0x20 { throw fail("control character in string") }
            guard b == UInt8(ascii: "\\") else { out.append(b); continue }
            guard i < bytes.count else { throw fail("unterminated string") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"),
                   bytes[i + 1] == UInt8(ascii: "u")
                {
                    let save = i
                    i += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        i = save
                    }
                }
                // A lone surrogate cannot be a Swift String scalar; it becomes U+FFFD.
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw fail("bad escape")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw fail("bad \\u escape")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }
}
