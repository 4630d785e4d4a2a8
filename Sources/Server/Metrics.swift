import Engine
import Foundation

/// Prometheus text exposition of the daemon's counters.
extension APIService {
    /// An admin sees every series; a tenant sees the per-tenant series of its own tenant only (other tenants'
    /// names and counts are theirs), beside the daemon-wide ones.
    func metricsText(for identity: Identity) -> String {
        var s = engine.statistics
        var c = counters.withLock { $0 }
        if !identity.isAdmin {
            c.byTenant = c.byTenant.filter { $0.key == identity.tenant }
            s.activeByTenant = s.activeByTenant.filter { $0.key == identity.tenant }
        }
        let r = residency.counts
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(value)\n" }
        }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
        }
        metric("lorad_model_info", "gauge", "The served base model and its weight type (value 1).",
               [("model=\"\(esc(modelId))\",weight_type=\"\(esc(engine.model.transformer.weights.weightType))\"", "1")])
        metric("lorad_requests_total", "counter", "HTTP requests answered, by endpoint and status.",
               c.byStatus.sorted { $0.key < $1.key }.map { key, n in
                   let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
                   return ("path=\"\(esc(parts[0]))\",status=\"\(parts.count > 1 ? parts[1] : "")\"", String(n))
               })
        metric("lorad_sequences_running", "gauge", "Sequences in the running batch.", [("", String(s.running))])
        metric("lorad_sequences_waiting", "gauge", "Requests queued for admission.", [("", String(s.waiting))])
        metric("lorad_tokens_generated_total", "counter", "Tokens generated.", [("", String(s.tokensGenerated))])
        metric("lorad_prompt_tokens_total", "counter", "Prompt tokens prefilled.", [("", String(s.promptTokens))])
        metric("lorad_steps_total", "counter", "Forward passes run.", [("", String(s.steps))])
        metric("lorad_preemptions_total", "counter", "Sequences whose KV cache was freed for others and recomputed.",
               [("", String(s.preemptions))])
        metric("lorad_lookahead_rows_total", "counter", "Lookahead rows (window and candidates) run next to input rows.",
               [("", String(s.lookaheadRows))])
        metric("lorad_lookahead_extra_tokens_total", "counter", "Tokens accepted beyond one per sequence and step.",
               [("", String(s.lookaheadExtraTokens))])
        var buckets: [(String, String)] = []
        for (i, bound) in EngineStats.stepBuckets.enumerated() { buckets.append(("le=\"\(bound)\"", String(s.stepBucketCounts[i]))) }
        buckets.append(("le=\"+Inf\"", String(s.steps)))
        out += "# HELP lorad_step_seconds Wall time of one engine step.\n# TYPE lorad_step_seconds histogram\n"
        for (l, v) in buckets { out += "lorad_step_seconds_bucket{\(l)} \(v)\n" }
        out += "lorad_step_seconds_sum \(s.stepSecondsSum)\nlorad_step_seconds_count \(s.steps)\n"
        let pool = residency.pool
        metric("lorad_pool_pages", "gauge", "Memory pool pages, by use (kv, adapter, free).",
               [("kind=\"kv\"", String(pool.pagesInUse(.kv))), ("kind=\"adapter\"", String(pool.pagesInUse(.adapter))),
                ("kind=\"free\"", String(pool.freePages))])
        metric("lorad_pool_page_bytes", "gauge", "Bytes per pool page.", [("", String(pool.pageBytes))])
        metric("lorad_pool_budget_bytes", "gauge", "The pool's byte budget (--pool-memory).", [("", String(pool.budgetBytes))])
        metric("lorad_adapters_resident", "gauge", "Adapters loaded in memory.", [("", String(r.resident))])
        metric("lorad_adapter_loads_total", "counter", "Adapter loads from the store.", [("", String(r.loads))])
        metric("lorad_adapter_evictions_total", "counter", "Adapters dropped from memory.", [("", String(r.evictions))])
        metric("lorad_adapter_load_seconds_total", "counter", "Time spent paging adapters in from the store.",
               [("", String(r.loadSeconds))])
        metric("lorad_tenant_requests_total", "counter", "Generation requests accepted, by tenant.",
               c.byTenant.sorted { $0.key < $1.key }.map { ("tenant=\"\(esc($0.key))\"", String($0.value)) })
        metric("lorad_tenant_active", "gauge", "Requests queued or running, by tenant.",
               s.activeByTenant.sorted { $0.key < $1.key }.map { ("tenant=\"\(esc($0.key))\"", String($0.value)) })
        metric("lorad_requests_finished_total", "counter", "Generation requests finished, by reason.",
               s.requestsFinished.sorted { $0.key.rawValue < $1.key.rawValue }.map { ("reason=\"\($0.key.rawValue)\"", String($0.value)) })
        out += servingMetricsText(compat: serving.metricsCompat)
        return out
    }
}
