import Foundation
import Registry

/// The series an inference gateway's endpoint picker reads (the Gateway API Inference Extension's model-server
/// protocol): queue length, KV-cache utilisation, and which adapters are loaded or waiting. Names are lorad's;
/// `MetricsCompat.vllm` also writes them under the vLLM names the picker reads by default.
public enum MetricsCompat: String, Sendable {
    case none
    case vllm
}

/// One snapshot of what the picker needs, taken at scrape time.
struct ServingSnapshot {
    var waiting: Int
    var running: Int
    /// Pool pages holding KV blocks, adapter weights, and all pages.
    var kvPages: Int
    var adapterPages: Int
    var totalPages: Int
    /// The adapters' `max_lora`: `--max-loras`, else how many adapters of the resident ones' mean size the pool holds.
    var maxLora: Int
    /// Names of resident adapters, and of adapters being loaded for waiting requests (sorted, no duplicates).
    var runningAdapters: [String]
    var waitingAdapters: [String]
    /// Seconds since the epoch, the value of the info series ("last updated").
    var timestamp: Double

    var kvRatio: Double { totalPages == 0 ? 0 : Double(kvPages) / Double(totalPages) }
    var adapterRatio: Double { totalPages == 0 ? 0 : Double(adapterPages) / Double(totalPages) }
}

extension APIService {
    func servingSnapshot() -> ServingSnapshot {
        let s = engine.statistics
        let pool = residency.pool
        let keys = residency.keys
        // Names by content key: two names with the same files are both served by one resident copy.
        var names: [String: [String]] = [:]
        for record in (try? registry.adapters(visibleTo: Tenant.defaultName, isAdmin: true)) ?? [] {
            names[record.sha256, default: []].append(record.name)
        }
        func adapterNames(_ keys: [String]) -> [String] { Array(Set(keys.flatMap { names[$0] ?? [] })).sorted() }
        let maxLora: Int
        if let limit = residency.maxResident {
            maxLora = limit
        } else if let mean = residency.meanResidentPages, mean > 0 {
            maxLora = Int(Double(pool.pageCount) / mean)
        } else {
            maxLora = 0
        }
        return ServingSnapshot(waiting: s.waiting, running: s.running, kvPages: pool.pagesInUse(.kv),
                               adapterPages: pool.pagesInUse(.adapter), totalPages: pool.pageCount, maxLora: maxLora,
                               runningAdapters: adapterNames(keys.resident), waitingAdapters: adapterNames(keys.loading),
                               timestamp: Date().timeIntervalSince1970)
    }

    /// The picker-facing series in Prometheus text: lorad's names, plus vLLM's with `compat == .vllm`.
    func servingMetricsText(compat: MetricsCompat) -> String {
        ServingMetricsText.render(servingSnapshot(), modelName: modelId, compat: compat)
    }
}

enum ServingMetricsText {
    static func render(_ s: ServingSnapshot, modelName: String, compat: MetricsCompat) -> String {
        var out = ""
        func gauge(_ name: String, _ help: String, _ labels: String, _ value: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(value)\n"
        }
        // Adapter names match [a-z0-9][a-z0-9._-]*: no quoting needed, and the picker splits on "," without trimming.
        let info = "max_lora=\"\(s.maxLora)\",running_lora_adapters=\"\(s.runningAdapters.joined(separator: ","))\","
            + "waiting_lora_adapters=\"\(s.waitingAdapters.joined(separator: ","))\""
        let timestamp = String(format: "%.3f", s.timestamp)
        gauge("lorad_pool_kv_usage_ratio", "Share of the memory pool's pages holding KV cache (0..1).", "",
              String(s.kvRatio))
        gauge("lorad_pool_adapter_usage_ratio", "Share of the memory pool's pages holding adapter weights (0..1).", "",
              String(s.adapterRatio))
        gauge("lorad_lora_requests_info",
              "Adapters resident (running_lora_adapters) and being loaded for waiting requests (waiting_lora_adapters), and how many can be resident (max_lora); the value is the time of the reading (seconds since the epoch).",
              info, timestamp)
        guard compat == .vllm else { return out }
        let model = "model_name=\"\(escape(modelName))\""
        gauge("vllm:num_requests_waiting", "Requests waiting to be processed (lorad_sequences_waiting).", model,
              String(s.waiting))
        gauge("vllm:num_requests_running", "Requests in the running batch (lorad_sequences_running).", model,
              String(s.running))
        gauge("vllm:gpu_cache_usage_perc", "KV-cache usage, 1 = full (lorad_pool_kv_usage_ratio).", model,
              String(s.kvRatio))
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage, 1 = full (lorad_pool_kv_usage_ratio).", model,
              String(s.kvRatio))
        gauge("vllm:lora_requests_info", "As lorad_lora_requests_info.", info, timestamp)
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
