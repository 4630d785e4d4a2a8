// libFuzzer harness: PEFT adapter_config.json parsing (PeftConfig(json:adapter:)), compiled into a module named
// Adapters from PeftConfig.swift and AdapterError.swift only (they need nothing but Foundation). When the config
// is accepted, its target and rank/alpha lookups run for a few Llama module names, as adapter loading does.

import Foundation

enum PeftConfigFuzz {
    static let modules = ["model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj",
                          "base_model.model.model.layers.12.self_attn.v_proj", "lm_head"]
}

@_cdecl("LLVMFuzzerTestOneInput")
public func peftConfigFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let json = Data(fuzzInput(data, size))
    guard let config = try? PeftConfig(json: json, adapter: "fuzz") else { return 0 }
    fuzzCheck((1...4096).contains(config.rank), "rank \(config.rank)")
    fuzzCheck(config.alpha > 0 && config.alpha < 1e6, "lora_alpha \(config.alpha)")
    fuzzCheck(config.rankPattern.values.allSatisfy { (1...4096).contains($0) }, "rank_pattern \(config.rankPattern)")
    for module in PeftConfigFuzz.modules {
        _ = config.targets(module: module)
        let (rank, alpha) = config.rankAndAlpha(module: module)
        fuzzCheck((1...4096).contains(rank) && alpha > 0, "\(module): rank \(rank), alpha \(alpha)")
    }
    return 0
}
