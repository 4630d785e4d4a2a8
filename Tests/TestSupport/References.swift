import Foundation

/// `Tests/Fixtures/tiny-llama/refs.json`: prompts and the reference outputs made with transformers + PEFT.
public struct References: Sendable {
    public struct Prompt: Sendable {
        public let text: String
        public let ids: [Int]
    }
    public struct Variant: Sendable {
        public let promptIndex: Int
        public let lastPromptLogits: [Float]
        public let greedyIds: [Int]
        public let stepTop2Margin: [Double]
    }
    public struct BatchRow: Sendable {
        public let promptIndex: Int
        public let adapter: String
        public let generatedIds: [Int]
        /// The row's own prompt when the batch truncated it (the equal-length control), else nil.
        public let promptIds: [Int]?
    }

    public let prompts: [Prompt]
    /// "__base__" and each adapter name -> one entry per prompt.
    public let variants: [String: [Variant]]
    public let batches: [(label: String, rows: [BatchRow])]

    public static let tinyLlama: References = {
        let url = Fixtures.tinyLlama.appendingPathComponent("refs.json")
        guard let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            fatalError("cannot read \(url.path)")
        }
        return References(root)
    }()

    init(_ root: [String: Any]) {
        func ints(_ v: Any?) -> [Int] { (v as? [NSNumber])?.map(\.intValue) ?? [] }
        prompts = (root["prompts"] as? [[String: Any]] ?? []).map {
            Prompt(text: $0["text"] as? String ?? "", ids: ints($0["ids"]))
        }
        var variants: [String: [Variant]] = [:]
        for (name, list) in root["variants"] as? [String: Any] ?? [:] {
            variants[name] = (list as? [[String: Any]] ?? []).map {
                Variant(promptIndex: ($0["prompt_index"] as? NSNumber)?.intValue ?? -1,
                        lastPromptLogits: (($0["last_prompt_logits"] as? [NSNumber]) ?? []).map(\.floatValue),
                        greedyIds: ints($0["greedy_ids"]),
                        stepTop2Margin: (($0["step_top2_margin"] as? [NSNumber]) ?? []).map(\.doubleValue))
            }
        }
        self.variants = variants
        batches = (root["batches"] as? [[String: Any]] ?? []).map { b in
            (b["label"] as? String ?? "", (b["rows"] as? [[String: Any]] ?? []).map {
                BatchRow(promptIndex: ($0["prompt_index"] as? NSNumber)?.intValue ?? -1,
                         adapter: $0["adapter"] as? String ?? "", generatedIds: ints($0["generated_ids"]),
                         promptIds: $0["prompt_ids"] == nil ? nil : ints($0["prompt_ids"]))
            })
        }
    }
}
