/// A grammar lowered to bytes, immutable and shared by every sequence that uses it: each rule is a list of
/// alternatives, each alternative a run of elements in `code` ending in `end`. An element is a byte set or a rule
/// reference. Matching (GrammarMatcher) keeps stacks of positions in `code`, as llama.cpp's GBNF engine does.
public final class CompiledGrammar: Sendable {
    /// Elements: >= 0 a byte set (index into `sets`), `end` closes an alternative, <= -2 the rule -(code + 2).
    let code: [Int32]
    let sets: [ByteSet]
    /// Start positions in `code` of each rule's alternatives.
    let alternatives: [[Int32]]
    let ruleNames: [String]
    let root: Int32

    static let end: Int32 = -1
    static let maximumElements = 2_000_000
    static let maximumRepetition = 100_000

    init(code: [Int32], sets: [ByteSet], alternatives: [[Int32]], ruleNames: [String], root: Int32) {
        self.code = code
        self.sets = sets
        self.alternatives = alternatives
        self.ruleNames = ruleNames
        self.root = root
    }

    /// Number of elements (a size measure for limits and tests).
    public var elementCount: Int { code.count }

    /// Lowers named rules to bytes; undefined references, left recursion and oversize grammars are errors.
    static func compile(_ rules: GrammarRules) throws -> CompiledGrammar {
        var lowering = Lowering()
        return try lowering.run(rules)
    }
}

/// Turns `GrammarExpr` rules into `CompiledGrammar` elements, adding anonymous rules for nested choices, classes
/// that span several UTF-8 lengths, and repetitions.
private struct Lowering {
    enum Atom: Equatable { case set(Int32), rule(Int32) }

    var ids: [String: Int32] = [:]
    var names: [String] = []
    var bodies: [[[Atom]]] = []
    var sets: [ByteSet] = []
    var setIndex: [ByteSet: Int32] = [:]
    var size = 0

    mutating func run(_ rules: GrammarRules) throws -> CompiledGrammar {
        for (name, _) in rules.rules {
            guard ids[name] == nil else { throw GrammarError("rule \"\(name)\" is defined twice") }
            _ = newRule(name)
        }
        guard let root = ids[rules.root] else { throw GrammarError("the grammar has no rule \"\(rules.root)\"") }
        for (name, expr) in rules.rules {
            bodies[Int(ids[name]!)] = try alternatives(expr, in: name)
        }
        try checkLeftRecursion()
        var code: [Int32] = []
        code.reserveCapacity(size + bodies.count)
        var starts: [[Int32]] = []
        for body in bodies {
            var ruleStarts: [Int32] = []
            for alt in body {
                ruleStarts.append(Int32(code.count))
                for atom in alt {
                    switch atom {
                    case .set(let s): code.append(s)
                    case .rule(let r): code.append(-(r + 2))
                    }
                }
                code.append(CompiledGrammar.end)
            }
            starts.append(ruleStarts)
        }
        return CompiledGrammar(code: code, sets: sets, alternatives: starts, ruleNames: names, root: root)
    }

    mutating func newRule(_ name: String) -> Int32 {
        let id = Int32(names.count)
        names.append(name)
        bodies.append([])
        ids[name] = id
        return id
    }

    mutating func anonymous(_ parent: String, _ body: [[Atom]]) throws -> Int32 {
        let id = newRule("\(parent)#\(names.count)")
        bodies[Int(id)] = body
        try grow(body.reduce(1) { $0 + $1.count + 1 })
        return id
    }

    mutating func grow(_ n: Int) throws {
        size += n
        guard size <= CompiledGrammar.maximumElements else {
            throw GrammarError("the grammar is too large (over \(CompiledGrammar.maximumElements) elements)")
        }
    }

    mutating func set(_ s: ByteSet) -> Int32 {
        if let i = setIndex[s] { return i }
        let i = Int32(sets.count)
        sets.append(s)
        setIndex[s] = i
        return i
    }

    mutating func alternatives(_ e: GrammarExpr, in rule: String) throws -> [[Atom]] {
        if case .choice(let options) = e { return try options.map { try sequence($0, in: rule) } }
        return [try sequence(e, in: rule)]
    }

    mutating func sequence(_ e: GrammarExpr, in rule: String) throws -> [Atom] {
        var out: [Atom] = []
        try append(e, in: rule, to: &out)
        return out
    }

    mutating func append(_ e: GrammarExpr, in rule: String, to out: inout [Atom]) throws {
        switch e {
        case .literal(let bytes):
            try grow(bytes.count)
            for b in bytes { out.append(.set(set(ByteSet([b...b])))) }
        case .byteRanges(let ranges):
            try grow(1)
            let s = ByteSet(ranges)
            guard !s.isEmpty else { throw GrammarError("an empty byte class in rule \"\(rule)\" matches nothing") }
            out.append(.set(set(s)))
        case .chars(let ranges, let negated):
            let seqs = UTF8Ranges.sequences(ranges, negated: negated)
            guard !seqs.isEmpty else { throw GrammarError("a character class in rule \"\(rule)\" matches nothing") }
            if seqs.allSatisfy({ $0.count == 1 }) {
                try grow(1)
                out.append(.set(set(ByteSet(seqs.map { $0[0] }))))
            } else {
                let body = seqs.map { $0.map { Atom.set(set(ByteSet([$0]))) } }
                out.append(.rule(try anonymous(rule, body)))
            }
        case .ref(let name):
            guard let id = ids[name] else { throw GrammarError("rule \"\(name)\" (used in \"\(rule)\") is not defined") }
            try grow(1)
            out.append(.rule(id))
        case .sequence(let items):
            for item in items { try append(item, in: rule, to: &out) }
        case .choice(let options):
            if options.count == 1 { return try append(options[0], in: rule, to: &out) }
            out.append(.rule(try anonymous(rule, try options.map { try sequence($0, in: rule) })))
        case .repeated(let item, let min, let max):
            try appendRepetition(item, min: min, max: max, in: rule, to: &out)
        }
    }

    mutating func appendRepetition(_ item: GrammarExpr, min: Int, max: Int?, in rule: String,
                                   to out: inout [Atom]) throws {
        let bound = max ?? min
        guard min >= 0, bound >= min, bound <= CompiledGrammar.maximumRepetition else {
            throw GrammarError("repetition {\(min),\(max.map(String.init) ?? "")} in rule \"\(rule)\" is out of range "
                               + "(0 <= min <= max <= \(CompiledGrammar.maximumRepetition))")
        }
        var unit = try sequence(item, in: rule)
        if unit.count > 1 { unit = [.rule(try anonymous(rule, [unit]))] }
        guard !unit.isEmpty else { return }
        try grow(min * unit.count)
        for _ in 0..<min { out.append(contentsOf: unit) }
        if let max {
            // rest_k ::= unit rest_(k-1) | (empty), built from the innermost out.
            var tail: Atom?
            for _ in 0..<(max - min) {
                tail = .rule(try anonymous(rule, [unit + (tail.map { [$0] } ?? []), []]))
            }
            if let tail { out.append(tail) }
        } else {
            let id = newRule("\(rule)#\(names.count)")
            bodies[Int(id)] = [unit + [.rule(id)], []]
            try grow(unit.count + 3)
            out.append(.rule(id))
        }
    }

    /// A rule that can reach itself without consuming a byte would make matching loop; refuse it.
    func checkLeftRecursion() throws {
        var nullable = [Bool](repeating: false, count: bodies.count)
        var changed = true
        while changed {
            changed = false
            for (r, body) in bodies.enumerated() where !nullable[r] {
                if body.contains(where: { alt in alt.allSatisfy { if case .rule(let s) = $0 { nullable[Int(s)] } else { false } } }) {
                    nullable[r] = true
                    changed = true
                }
            }
        }
        var edges = [[Int32]](repeating: [], count: bodies.count)
        for (r, body) in bodies.enumerated() {
            for alt in body {
                for atom in alt {
                    guard case .rule(let s) = atom else { break }
                    edges[r].append(s)
                    if !nullable[Int(s)] { break }
                }
            }
        }
        // Iterative depth-first search: 0 unvisited, 1 on the path, 2 done.
        var color = [UInt8](repeating: 0, count: bodies.count)
        for start in bodies.indices where color[start] == 0 {
            var stack: [(Int, Int)] = [(start, 0)]
            color[start] = 1
            while let (node, next) = stack.last {
                if next < edges[node].count {
                    stack[stack.count - 1].1 += 1
                    let s = Int(edges[node][next])
                    if color[s] == 1 {
                        let name = names[s].split(separator: "#").first.map(String.init) ?? names[s]
                        throw GrammarError("rule \"\(name)\" is left-recursive or repeats something that can be "
                                           + "empty (it can reach itself without consuming input)")
                    }
                    if color[s] == 0 {
                        color[s] = 1
                        stack.append((s, 0))
                    }
                } else {
                    color[node] = 2
                    stack.removeLast()
                }
            }
        }
    }
}
