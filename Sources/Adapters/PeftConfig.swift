import Foundation

/// `adapter_config.json` of a PEFT LoRA adapter, as far as serving needs it. Options lorad cannot serve
/// (DoRA, trained biases, modules_to_save, other PEFT types) are refused with the option named.
public struct PeftConfig: Sendable, Equatable {
    public enum Targets: Sendable, Equatable {
        case names([String])   // a module is targeted when its name is, or ends with ".", one of these
        case regex(String)     // a module is targeted when its full name matches the whole pattern
    }

    public var rank: Int
    public var alpha: Double
    public var useRslora: Bool
    public var targets: Targets
    /// Module-name pattern -> rank / alpha overrides (PEFT matches `(.*\.)?PATTERN$`).
    public var rankPattern: [String: Int]
    public var alphaPattern: [String: Double]
    public var layersToTransform: [Int]?
    public var fanInFanOut: Bool

    public init(json data: Data, adapter: String) throws {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw AdapterError("adapter \"\(adapter)\": adapter_config.json is not a JSON object")
        }
        func fail(_ message: String) -> AdapterError { AdapterError("adapter \"\(adapter)\": \(message)") }
        func present(_ key: String) -> Any? {
            guard let v = root[key], !(v is NSNull) else { return nil }
            return v
        }
        func number(_ key: String) throws -> Double? {
            guard let v = present(key) else { return nil }
            guard let n = v as? NSNumber, !(v is String), n.doubleValue.isFinite else {
                throw fail("\(key) must be a number")
            }
            return n.doubleValue
        }
        func bool(_ key: String) throws -> Bool {
            guard let v = present(key) else { return false }
            guard let n = v as? NSNumber, n.intValue == 0 || n.intValue == 1 else { throw fail("\(key) must be true or false") }
            return n.boolValue
        }
        if let type = present("peft_type") {
            guard let s = type as? String else { throw fail("peft_type must be a string") }
            guard s.uppercased() == "LORA" else { throw fail("peft_type \"\(s)\" is not supported (only LORA)") }
        }
        guard let r = try number("r") else { throw fail("adapter_config.json has no \"r\"") }
        guard r == r.rounded(), r >= 1, r <= 4096 else { throw fail("r = \(r) must be an integer in 1...4096") }
        rank = Int(r)
        alpha = try number("lora_alpha") ?? Double(rank)
        guard alpha > 0, alpha < 1e6 else { throw fail("lora_alpha = \(alpha) is out of range") }
        useRslora = try bool("use_rslora")
        if try bool("use_dora") { throw fail("DoRA adapters (use_dora) are not supported") }
        if let bias = present("bias") {
            guard let b = bias as? String else { throw fail("bias must be a string") }
            guard b == "none" else { throw fail("bias \"\(b)\" is not supported: lorad serves adapters trained with bias \"none\"") }
        }
        if try bool("lora_bias") { throw fail("lora_bias is not supported") }
        if let mts = present("modules_to_save") {
            guard let list = mts as? [Any] else { throw fail("modules_to_save must be a list") }
            if !list.isEmpty {
                let names = list.compactMap { $0 as? String }.joined(separator: ", ")
                throw fail("modules_to_save (\(names)) is not supported: the adapter replaces whole modules, not just LoRA pairs")
            }
        }
        switch present("target_modules") {
        case let list as [Any]:
            let names = list.compactMap { $0 as? String }
            guard names.count == list.count, !names.isEmpty else { throw fail("target_modules must be a list of names") }
            targets = .names(names)
        case let pattern as String:
            guard (try? NSRegularExpression(pattern: pattern)) != nil else {
                throw fail("target_modules regex \"\(pattern)\" does not compile")
            }
            targets = .regex(pattern)
        case nil:
            throw fail("adapter_config.json has no target_modules")
        default:
            throw fail("target_modules must be a list of names or a regex string")
        }
        var ranks: [String: Int] = [:]
        if let rp = present("rank_pattern") {
            guard let dict = rp as? [String: Any] else { throw fail("rank_pattern must be an object") }
            for (k, v) in dict {
                guard let n = v as? NSNumber, n.doubleValue >= 1, n.doubleValue <= 4096,
                      n.doubleValue == n.doubleValue.rounded() else { throw fail("rank_pattern[\"\(k)\"] must be a rank in 1...4096") }
                ranks[k] = n.intValue
            }
        }
        rankPattern = ranks
        var alphas: [String: Double] = [:]
        if let ap = present("alpha_pattern") {
            guard let dict = ap as? [String: Any] else { throw fail("alpha_pattern must be an object") }
            for (k, v) in dict {
                guard let n = v as? NSNumber, n.doubleValue > 0, n.doubleValue < 1e6 else {
                    throw fail("alpha_pattern[\"\(k)\"] must be a positive number")
                }
                alphas[k] = n.doubleValue
            }
        }
        alphaPattern = alphas
        switch present("layers_to_transform") {
        case nil: layersToTransform = nil
        case let n as NSNumber: layersToTransform = [n.intValue]
        case let list as [Any]:
            let ints = list.compactMap { ($0 as? NSNumber)?.intValue }
            guard ints.count == list.count else { throw fail("layers_to_transform must hold layer indices") }
            layersToTransform = ints
        default: throw fail("layers_to_transform must be an index or a list of indices")
        }
        fanInFanOut = try bool("fan_in_fan_out")
    }

    /// Whether `module` (e.g. "model.layers.3.self_attn.q_proj") is a target. Throws when the target_modules regex
    /// needs more matching work than a module name can justify (see `fullMatch`).
    public func targets(module: String) throws -> Bool {
        switch targets {
        case .names(let names):
            return names.contains { module == $0 || module.hasSuffix("." + $0) }
        case .regex(let pattern):
            return try Self.fullMatch(pattern, module, what: "target_modules")
        }
    }

    /// Rank and alpha for `module`, with rank_pattern / alpha_pattern applied (longest matching pattern wins,
    /// so a specific pattern beats a general one whatever the JSON key order).
    public func rankAndAlpha(module: String) throws -> (rank: Int, alpha: Double) {
        func lookup<V>(_ patterns: [String: V], _ what: String) throws -> V? {
            for key in patterns.keys.sorted(by: { $0.count != $1.count ? $0.count > $1.count : $0 < $1 })
            where try Self.fullMatch("(.*\\.)?(\(key))", module, what: what, shown: key) {
                return patterns[key]
            }
            return nil
        }
        return (try lookup(rankPattern, "rank_pattern") ?? rank, try lookup(alphaPattern, "alpha_pattern") ?? alpha)
    }

    /// ICU reports progress about every 10,000 backtracking steps; matching one module name may take this many
    /// reports. A real pattern needs a few hundred steps; `([a-z_.0-9]|[a-z_.0-9])*Q` needs billions.
    static let matchReports = 3

    /// Whether `pattern` matches all of `text`, in bounded work: past `matchReports` progress reports the match is
    /// abandoned and the adapter refused, naming the pattern (`what`).
    /// `shown`: the pattern as the config wrote it (`pattern` may wrap it).
    static func fullMatch(_ pattern: String, _ text: String, what: String, shown: String? = nil) throws -> Bool {
        guard let re = try? NSRegularExpression(pattern: "^(?:\(pattern))$") else { return false }
        var matched = false, reports = 0
        re.enumerateMatches(in: text, options: [.reportProgress], range: NSRange(text.startIndex..., in: text)) {
            match, _, stop in
            if match != nil { matched = true } else { reports += 1 }
            if matched || reports > matchReports { stop.pointee = true }
        }
        guard matched || reports <= matchReports else {
            throw AdapterError("\(what) regex \"\(shown ?? pattern)\" takes too many matching steps on module \"\(text)\" (more than \(matchReports * 10_000)); simplify it")
        }
        return matched
    }
}
