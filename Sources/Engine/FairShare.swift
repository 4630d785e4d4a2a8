/// Per-tenant virtual token counters (S-LoRA's Virtual Token Counter): each tenant is charged for the tokens the
/// engine spends on it (prompt tokens at `prefillWeight`, generated tokens at `decodeWeight`); the tenant with the
/// smallest counter is served first. A tenant that was idle is lifted to the smallest counter among active tenants,
/// so it cannot bank credit while away, and a flooding tenant cannot starve anyone.
struct FairShare {
    let prefillWeight: Double
    let decodeWeight: Double
    private(set) var counters: [String: Double] = [:]

    init(prefillWeight: Double = 1, decodeWeight: Double = 2) {
        self.prefillWeight = prefillWeight
        self.decodeWeight = decodeWeight
    }

    /// Called when `tenant` gets work after having none; `active` are tenants that currently have work.
    mutating func activate(_ tenant: String, active: some Sequence<String>) {
        let floor = active.compactMap { $0 == tenant ? nil : counters[$0] }.min() ?? (counters[tenant] ?? 0)
        counters[tenant] = max(counters[tenant] ?? 0, floor)
    }

    mutating func charge(_ tenant: String, prefill: Int, decode: Int) {
        counters[tenant, default: 0] += prefillWeight * Double(prefill) + decodeWeight * Double(decode)
    }

    func counter(_ tenant: String) -> Double { counters[tenant] ?? 0 }

    /// `tenants` ordered least-served first (name breaks ties, for determinism).
    func order(_ tenants: [String]) -> [String] {
        tenants.sorted { (counter($0), $0) < (counter($1), $1) }
    }

    /// Forget tenants without work whose counters no longer matter (keeps the table small).
    mutating func prune(keeping active: Set<String>) {
        if counters.count > 4 * max(active.count, 16) {
            counters = counters.filter { active.contains($0.key) }
        }
    }
}
