// Python operator semantics: int/float/bool arithmetic without overflow traps, str and list `+` and `*`,
// `~`, equality and ordering, `in`.

import Foundation

extension Renderer {
    private func numbers(_ a: Value, _ b: Value) -> (Int, Int)? {
        guard let x = a.intValue, let y = b.intValue else { return nil }
        return (x, y)
    }

    private func doubles(_ a: Value, _ b: Value) -> (Double, Double)? {
        func d(_ v: Value) -> Double? {
            switch v {
            case .double(let x): return x
            case .int(let i): return Double(i)
            case .bool(let b): return b ? 1 : 0
            default: return nil
            }
        }
        guard let x = d(a), let y = d(b) else { return nil }
        return (x, y)
    }

    private func overflow(_ op: BinaryOp) -> ChatTemplateError {
        .limit("integer result of '\(op.rawValue)' exceeds 64 bits", nil)
    }

    private func unsupportedOperands(_ op: BinaryOp, _ a: Value, _ b: Value) throws -> Never {
        if case .undefined(let message) = a { throw ChatTemplateError.render(message, nil) }
        if case .undefined(let message) = b { throw ChatTemplateError.render(message, nil) }
        throw ChatTemplateError.render(
            "unsupported operand type(s) for \(op.rawValue): '\(a.typeName)' and '\(b.typeName)'", nil)
    }

    func binary(_ op: BinaryOp, _ a: Value, _ b: Value, line: Int) throws -> Value {
        switch op {
        case .concat:
            let s = try str(a), t = try str(b)
            try charge(bytes: s.utf8.count + t.utf8.count)
            return .string(s + t)
        case .add:
            if let (x, y) = numbers(a, b) {
                let (r, o) = x.addingReportingOverflow(y)
                if o { throw overflow(op) }
                return .int(r)
            }
            if let (x, y) = doubles(a, b) { return .double(x + y) }
            switch (a, b) {
            case (.string(let s), .string(let t)):
                try charge(bytes: s.utf8.count + t.utf8.count)
                return .string(s + t)
            case (.list(let l), .list(let m)) where l.isTuple == m.isTuple:
                try charge(items: l.items.count + m.items.count)
                return .list(ValueList(l.items + m.items, isTuple: l.isTuple))
            default:
                try unsupportedOperands(op, a, b)
            }
        case .subtract:
            if let (x, y) = numbers(a, b) {
                let (r, o) = x.subtractingReportingOverflow(y)
                if o { throw overflow(op) }
                return .int(r)
            }
            if let (x, y) = doubles(a, b) { return .double(x - y) }
            try unsupportedOperands(op, a, b)
        case .multiply:
            if let (x, y) = numbers(a, b) {
                let (r, o) = x.multipliedReportingOverflow(by: y)
                if o { throw overflow(op) }
                return .int(r)
            }
            if let (x, y) = doubles(a, b) { return .double(x * y) }
            if let r = try repeatSequence(a, b) ?? repeatSequence(b, a) { return r }
            try unsupportedOperands(op, a, b)
        case .divide:
            guard let (x, y) = doubles(a, b) else { try unsupportedOperands(op, a, b) }
            guard y != 0 else { throw ChatTemplateError.render("division by zero", nil) }
            return .double(x / y)
        case .floorDivide, .modulo:
            return try floorDivideOrModulo(op, a, b)
        case .power:
            return try power(a, b)
        }
    }

    /// `str * int`, `list * int`; nil when `a` is not a sequence or `b` not an int.
    private func repeatSequence(_ a: Value, _ b: Value) throws -> Value? {
        guard let n = b.intValue else { return nil }
        let times = max(0, n)
        switch a {
        case .string(let s):
            let (bytes, o) = s.utf8.count.multipliedReportingOverflow(by: times)
            try charge(bytes: o ? Int.max : bytes)
            return .string(String(repeating: s, count: times))
        case .list(let l):
            let (count, o) = l.items.count.multipliedReportingOverflow(by: times)
            try charge(items: o ? Int.max : count)
            var items: [Value] = []
            items.reserveCapacity(count)
            for _ in 0..<times { items.append(contentsOf: l.items) }
            return .list(ValueList(items, isTuple: l.isTuple))
        default:
            return nil
        }
    }

    private func floorDivideOrModulo(_ op: BinaryOp, _ a: Value, _ b: Value) throws -> Value {
        if case .string = a, op == .modulo {
            throw ChatTemplateError.unsupported("unsupported string formatting with '%'", nil)
        }
        if let (x, y) = numbers(a, b) {
            guard y != 0 else { throw ChatTemplateError.render("integer division or modulo by zero", nil) }
            if x == Int.min && y == -1 {
                if op == .modulo { return .int(0) }
                throw overflow(op)
            }
            var q = x / y, r = x % y
            if r != 0 && ((r < 0) != (y < 0)) {
                q -= 1
                r += y
            }
            return .int(op == .floorDivide ? q : r)
        }
        guard let (x, y) = doubles(a, b) else { try unsupportedOperands(op, a, b) }
        guard y != 0 else { throw ChatTemplateError.render("float division by zero", nil) }
        var r = x.truncatingRemainder(dividingBy: y)
        if r != 0 && ((r < 0) != (y < 0)) { r += y }
        if op == .modulo { return .double(r == 0 ? (y < 0 ? -0.0 : 0.0) : r) }
        return .double(((x - r) / y).rounded())
    }

    private func power(_ a: Value, _ b: Value) throws -> Value {
        if let (base, exp) = numbers(a, b), exp >= 0 {
            var result = 1, factor = base, e = exp
            while e > 0 {
                if e & 1 == 1 {
                    let (r, o) = result.multipliedReportingOverflow(by: factor)
                    if o { throw overflow(.power) }
                    result = r
                }
                e >>= 1
                if e > 0 {
                    let (f, o) = factor.multipliedReportingOverflow(by: factor)
                    if o { throw overflow(.power) }
                    factor = f
                }
            }
            return .int(result)
        }
        guard let (x, y) = doubles(a, b) else { try unsupportedOperands(.power, a, b) }
        if x == 0 && y < 0 { throw ChatTemplateError.render("0.0 cannot be raised to a negative power", nil) }
        if x < 0 && y != y.rounded() {
            throw ChatTemplateError.unsupported("unsupported complex result of '**'", nil)
        }
        return .double(pow(x, y))
    }

    func negate(_ v: Value) throws -> Value {
        switch v {
        case .int(let i):
            guard i != Int.min else { throw overflow(.subtract) }
            return .int(-i)
        case .bool(let b): return .int(b ? -1 : 0)
        case .double(let d): return .double(-d)
        case .undefined(let message): throw ChatTemplateError.render(message, nil)
        default: throw ChatTemplateError.render("bad operand type for unary -: '\(v.typeName)'", nil)
        }
    }

    // MARK: comparison

    func compare(_ op: CompareOp, _ a: Value, _ b: Value) throws -> Bool {
        switch op {
        case .eq: return try pyEqual(a, b)
        case .ne: return !(try pyEqual(a, b))
        case .lt: return try pyLess(a, b)
        case .gt: return try pyLess(b, a)
        case .le: return try pyLess(a, b) || pyEqual(a, b)
        case .ge: return try pyLess(b, a) || pyEqual(a, b)
        case .in: return try contains(b, a)
        case .notIn: return !(try contains(b, a))
        }
    }

    /// Python `==`; ints and floats compare exactly, bools are ints, lists and dicts compare by content.
    func pyEqual(_ a: Value, _ b: Value) throws -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let s), .string(let t)): return s.pyEquals(t)
        case (.double(let x), .double(let y)): return x == y
        case (.double(let x), _):
            guard let y = b.intValue else { return false }
            return x == Double(y) && Double(y).exactlyIntegral(y)
        case (_, .double): return try pyEqual(b, a)
        case (.list(let l), .list(let m)):
            guard l.isTuple == m.isTuple, l.items.count == m.items.count else { return false }
            for (x, y) in zip(l.items, m.items) where !(try pyEqual(x, y)) { return false }
            return true
        case (.dict(let d), .dict(let e)):
            guard d.count == e.count else { return false }
            for (k, v) in d.pairs {
                guard let w = e[k], try pyEqual(v, w) else { return false }
            }
            return true
        case (.namespace(let i), .namespace(let j)): return i == j
        case (.loop(let x), .loop(let y)): return x === y
        case (.macro(let x), .macro(let y)): return x === y
        case (.function(let x), .function(let y)): return x == y
        default:
            if let x = a.intValue, let y = b.intValue { return x == y }
            return false
        }
    }

    func pyLess(_ a: Value, _ b: Value) throws -> Bool {
        if case .undefined(let message) = a { throw ChatTemplateError.render(message, nil) }
        if case .undefined(let message) = b { throw ChatTemplateError.render(message, nil) }
        if let x = a.intValue, let y = b.intValue { return x < y }
        if let (x, y) = doubles(a, b) { return x < y }
        switch (a, b) {
        case (.string(let s), .string(let t)): return s.pyLess(t)
        case (.list(let l), .list(let m)):
            for (x, y) in zip(l.items, m.items) where !(try pyEqual(x, y)) { return try pyLess(x, y) }
            return l.items.count < m.items.count
        default:
            throw ChatTemplateError.render("'<' not supported between instances of '\(a.typeName)' and '\(b.typeName)'", nil)
        }
    }

    /// `needle in haystack`.
    func contains(_ haystack: Value, _ needle: Value) throws -> Bool {
        switch haystack {
        case .string(let s):
            guard case .string(let t) = needle else {
                throw ChatTemplateError.render("'in <string>' requires string as left operand, not \(needle.typeName)", nil)
            }
            return t.isEmpty || s.utf8.firstRange(of: t.utf8) != nil
        case .list(let l):
            for item in l.items where try pyEqual(item, needle) { return true }
            return false
        case .dict(let d):
            guard case .string(let k) = needle else { return false }
            return d[k] != nil
        case .undefined:
            return false
        case .namespace, .loop, .macro, .function, .method, .none, .bool, .int, .double:
            throw ChatTemplateError.render("argument of type '\(haystack.typeName)' is not iterable", nil)
        }
    }
}

private extension Double {
    /// Whether this double equals the integer `i` exactly (2**53 + 1 != 2.0**53, as in Python).
    func exactlyIntegral(_ i: Int) -> Bool {
        Int(exactly: self) == i
    }
}
