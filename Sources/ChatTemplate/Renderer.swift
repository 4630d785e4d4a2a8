// One render of a parsed template: variable scopes, the namespace table, output buffers and resource counters.
// Statements run here; expressions are in Evaluator.swift.

import Foundation

/// The mutable state of a single `ChatTemplate.render` call; never shared between renders or threads.
final class Renderer {
    let limits: ChatTemplateLimits
    let now: Date
    /// Variable scopes, innermost last. `frames[0]` holds the context and top-level `{% set %}`s.
    var frames: [[String: Value]]
    var namespaces: [ValueDict] = []
    private var buffers: [String] = [""]
    /// The value a filter section (`{% filter %}`, `{% set x | f %}`) applies its first filter to.
    var sectionValue: Value? = nil
    private var steps = 0
    private var iterations = 0
    private var depth = 0

    enum Flow { case normal, breakLoop, continueLoop }

    init(context: [String: Value], limits: ChatTemplateLimits, now: Date) {
        self.limits = limits
        self.now = now
        frames = [context]
    }

    func render(_ body: [Stmt]) throws -> String {
        _ = try execute(body)
        return buffers[0]
    }

    // MARK: limits

    func step(_ line: Int) throws {
        steps += 1
        if steps > limits.maxSteps {
            throw ChatTemplateError.limit("template exceeded \(limits.maxSteps) evaluation steps", line)
        }
    }

    /// Charges the work of building `bytes` of text (one step per 64 bytes) and refuses strings over the output bound.
    func charge(bytes: Int, line: Int? = nil) throws {
        if bytes > limits.maxOutputBytes {
            throw ChatTemplateError.limit("template built a string of \(bytes) bytes, more than the \(limits.maxOutputBytes)-byte limit", line)
        }
        steps += bytes >> 6
        if steps > limits.maxSteps {
            throw ChatTemplateError.limit("template exceeded \(limits.maxSteps) evaluation steps", line)
        }
    }

    /// Charges building a list of `count` items; lists are bounded by the loop-iteration limit.
    func charge(items count: Int, line: Int? = nil) throws {
        if count > limits.maxLoopIterations {
            throw ChatTemplateError.limit("template built a list of \(count) items, more than the \(limits.maxLoopIterations)-item limit", line)
        }
        try charge(bytes: count * 8, line: line)
    }

    func checkDepth(_ v: Value, line: Int? = nil) throws -> Value {
        if v.depth > limits.maxDepth {
            throw ChatTemplateError.limit("data nested deeper than \(limits.maxDepth) levels", line)
        }
        return v
    }

    func enter(_ line: Int) throws {
        depth += 1
        if depth > limits.maxDepth {
            throw ChatTemplateError.limit("template evaluation nested deeper than \(limits.maxDepth) levels (recursive macro?)", line)
        }
    }

    func leave() { depth -= 1 }

    // MARK: output

    func write(_ s: String, line: Int) throws {
        let total = buffers[buffers.count - 1].utf8.count + s.utf8.count
        if total > limits.maxOutputBytes {
            throw ChatTemplateError.limit("rendered output exceeds \(limits.maxOutputBytes) bytes", line)
        }
        buffers[buffers.count - 1] += s
    }

    /// Runs `body` into a fresh buffer and returns what it wrote.
    func capture(_ body: () throws -> Void) throws -> String {
        buffers.append("")
        defer { buffers.removeLast() }
        try body()
        return buffers[buffers.count - 1]
    }

    // MARK: variables

    func lookup(_ name: String) -> Value {
        for frame in frames.reversed() {
            if let v = frame[name] { return v }
        }
        if let b = Builtin(rawValue: name) { return .function(b) }
        return .undefined("'\(name)' is undefined")
    }

    func assign(_ target: AssignTarget, _ value: Value, line: Int) throws {
        switch target {
        case .name(let n):
            frames[frames.count - 1][n] = value
        case .names(let names):
            let items = try iterate(value, line: line)
            guard items.count == names.count else {
                throw ChatTemplateError.render(
                    items.count > names.count ? "too many values to unpack (expected \(names.count))"
                        : "not enough values to unpack (expected \(names.count), got \(items.count))", line)
            }
            for (n, v) in zip(names, items) { frames[frames.count - 1][n] = v }
        case .namespaceAttribute(let ns, let attr):
            guard case .namespace(let i) = lookup(ns) else {
                throw ChatTemplateError.render("cannot assign attribute \"\(attr)\" on \"\(ns)\", which is not a namespace", line)
            }
            namespaces[i].set(attr, value)
            if namespaces[i].depth > limits.maxDepth {
                throw ChatTemplateError.limit("data nested deeper than \(limits.maxDepth) levels", line)
            }
        }
    }

    // MARK: statements

    func execute(_ body: [Stmt]) throws -> Flow {
        for stmt in body {
            let flow = try execute(stmt)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func execute(_ stmt: Stmt) throws -> Flow {
        try step(stmt.line)
        switch stmt.kind {
        case .text(let s):
            try write(s, line: stmt.line)
        case .output(let e):
            try write(try str(try eval(e)), line: e.line)
        case .if(let branches, let otherwise):
            for branch in branches where try eval(branch.test).isTruthy {
                return try nested(branch.body, stmt.line)
            }
            return try nested(otherwise, stmt.line)
        case .for(let loop):
            try runLoop(loop, line: stmt.line)
        case .set(let target, let e):
            try assign(target, try eval(e), line: stmt.line)
        case .setBlock(let target, let filter, let body):
            var value = Value.string(try capture { _ = try nested(body, stmt.line) })
            if let filter { value = try applySection(filter, to: value) }
            try assign(target, value, line: stmt.line)
        case .macro(let definition):
            frames[frames.count - 1][definition.name] = .macro(definition)
        case .filterBlock(let filter, let body):
            let text = try capture { _ = try nested(body, stmt.line) }
            try write(try str(try applySection(filter, to: .string(text))), line: stmt.line)
        case .break:
            return .breakLoop
        case .continue:
            return .continueLoop
        }
        return .normal
    }

    private func nested(_ body: [Stmt], _ line: Int) throws -> Flow {
        try enter(line)
        defer { leave() }
        return try execute(body)
    }

    private func applySection(_ filter: Expr, to value: Value) throws -> Value {
        let saved = sectionValue
        sectionValue = value
        defer { sectionValue = saved }
        return try eval(filter)
    }

    /// A for loop: each iteration starts a fresh scope over the enclosing one (jinja does not carry `{% set %}`
    /// values from one iteration to the next; namespaces are how templates do that).
    private func runLoop(_ loop: ForLoop, line: Int) throws {
        var items = try iterate(try eval(loop.iterable), line: loop.iterable.line)
        frames.append([:])
        defer { frames.removeLast() }
        if let condition = loop.condition {
            var kept: [Value] = []
            for item in items {
                try countIteration(line)
                try assign(loop.target, item, line: line)
                if try eval(condition).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            frames[frames.count - 1] = [:]
            _ = try nested(loop.otherwise, line)
            return
        }
        let state = LoopState(items: items)
        try enter(line)
        defer { leave() }
        for (i, item) in items.enumerated() {
            try countIteration(line)
            state.index0 = i
            frames[frames.count - 1] = [:]
            try assign(loop.target, item, line: line)
            frames[frames.count - 1]["loop"] = .loop(state)
            if try execute(loop.body) == .breakLoop { break }
        }
    }

    private func countIteration(_ line: Int) throws {
        iterations += 1
        if iterations > limits.maxLoopIterations {
            throw ChatTemplateError.limit("template exceeded \(limits.maxLoopIterations) loop iterations", line)
        }
    }

    /// Python iteration: lists, strings (code points), dict keys; Undefined iterates as empty.
    func iterate(_ v: Value, line: Int? = nil) throws -> [Value] {
        switch v {
        case .list(let l): return l.items
        case .dict(let d): return d.keys.map { .string($0) }
        case .string(let s): return s.unicodeScalars.map { .string(String(Character($0))) }
        case .undefined: return []
        default: throw ChatTemplateError.render("'\(v.typeName)' object is not iterable", line)
        }
    }

    // MARK: macros

    func callMacro(_ m: MacroDefinition, _ args: [Value], _ kwargs: [(String, Value)], line: Int) throws -> Value {
        var frame: [String: Value] = [:]
        var bound = Set<String>()
        for (i, arg) in args.enumerated() where i < m.parameters.count {
            frame[m.parameters[i]] = arg
            bound.insert(m.parameters[i])
        }
        if args.count > m.parameters.count && !m.acceptsVarargs {
            throw ChatTemplateError.render("macro '\(m.name)' takes not more than \(m.parameters.count) argument(s)", line)
        }
        if m.acceptsVarargs { frame["varargs"] = .tuple(Array(args.dropFirst(m.parameters.count))) }
        var extra = ValueDict()
        for (name, value) in kwargs {
            if m.parameters.contains(name) {
                if bound.contains(name) {
                    throw ChatTemplateError.render("macro '\(m.name)' got multiple values for argument '\(name)'", line)
                }
                frame[name] = value
                bound.insert(name)
            } else if m.acceptsKwargs {
                extra.set(name, value)
            } else {
                throw ChatTemplateError.render("macro '\(m.name)' takes no keyword argument '\(name)'", line)
            }
        }
        if m.acceptsKwargs { frame["kwargs"] = .dict(extra) }
        let saved = frames
        frames = [frames[0], frame]
        defer { frames = saved }
        try enter(line)
        defer { leave() }
        let firstDefault = m.parameters.count - m.defaults.count
        for (i, p) in m.parameters.enumerated() where !bound.contains(p) {
            frames[1][p] = i >= firstDefault ? try eval(m.defaults[i - firstDefault])
                : .undefined("parameter '\(p)' was not provided")
        }
        return .string(try capture { _ = try execute(m.body) })
    }
}
