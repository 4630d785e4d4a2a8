// Global functions: jinja's `range`, `namespace`, `dict`, and transformers' `raise_exception`, `strftime_now`.

extension Renderer {
    func callBuiltin(_ b: Builtin, _ args: [Value], _ kwargs: [(String, Value)], line: Int) throws -> Value {
        switch b {
        case .range:
            return try range(args, kwargs, line: line)
        case .namespace, .dict:
            guard args.count <= 1 else {
                throw ChatTemplateError.render("\(b.rawValue)() takes at most 1 positional argument, \(args.count) given", line)
            }
            var d = ValueDict()
            switch args.first {
            case nil: break
            case .dict(let source)?:
                for (k, v) in source.pairs { d.set(k, v) }
            case let other?:
                for pair in try iterate(other, line: line) {
                    guard case .list(let kv) = pair, kv.items.count == 2, case .string(let k) = kv.items[0] else {
                        throw ChatTemplateError.render("\(b.rawValue)() needs a dict or (str, value) pairs", line)
                    }
                    d.set(k, kv.items[1])
                }
            }
            for (k, v) in kwargs { d.set(k, v) }
            if d.depth > limits.maxDepth {
                throw ChatTemplateError.limit("data nested deeper than \(limits.maxDepth) levels", line)
            }
            if b == .dict { return .dict(d) }
            try charge(items: namespaces.count + 1, line: line)
            namespaces.append(d)
            return .namespace(namespaces.count - 1)
        case .raiseException:
            let message = try args.first.map { try str($0) } ?? ""
            throw ChatTemplateError(.raised, message, line: line)
        case .strftimeNow:
            guard args.count == 1, kwargs.isEmpty, case .string(let format) = args[0] else {
                throw ChatTemplateError.render("strftime_now() takes one format string", line)
            }
            try charge(bytes: format.utf8.count * 16, line: line)
            return .string(Strftime.format(format, now))
        case .cycler, .joiner, .lipsum:
            throw ChatTemplateError.unsupported("unsupported function \"\(b.rawValue)\"", line)
        }
    }

    /// `range(stop)`, `range(start, stop[, step])`, refused past the loop-iteration limit before it is built.
    private func range(_ args: [Value], _ kwargs: [(String, Value)], line: Int) throws -> Value {
        guard kwargs.isEmpty else { throw ChatTemplateError.render("range() takes no keyword arguments", line) }
        let ints = try args.map { v -> Int in
            guard let i = v.intValue else {
                if case .undefined(let message) = v { throw ChatTemplateError.render(message, line) }
                throw ChatTemplateError.render("'\(v.typeName)' object cannot be interpreted as an integer", line)
            }
            return i
        }
        let start: Int, stop: Int, step: Int
        switch ints.count {
        case 1: (start, stop, step) = (0, ints[0], 1)
        case 2: (start, stop, step) = (ints[0], ints[1], 1)
        case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
        default: throw ChatTemplateError.render("range expected 1 to 3 arguments, got \(ints.count)", line)
        }
        guard step != 0 else { throw ChatTemplateError.render("range() arg 3 must not be zero", line) }
        let (span, overflow) = step > 0 ? stop.subtractingReportingOverflow(start) : start.subtractingReportingOverflow(stop)
        let stride = step.magnitude
        let count = overflow ? UInt.max : span <= 0 ? 0 : (UInt(span) + stride - 1) / stride
        guard count <= UInt(limits.maxLoopIterations) else {
            throw ChatTemplateError.limit("range() of \(count) items exceeds the \(limits.maxLoopIterations)-iteration limit", line)
        }
        try charge(items: Int(count), line: line)
        var items: [Value] = []
        items.reserveCapacity(Int(count))
        var i = start
        for _ in 0..<Int(count) {
            items.append(.int(i))
            i &+= step
        }
        return .list(items)
    }
}
