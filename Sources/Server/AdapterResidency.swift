import Adapters
import Foundation
import Registry
import Synchronization

/// Which adapters are loaded in memory, keyed by content hash (two names with the same files share one copy).
/// Loads on demand, keeps pinned adapters, and evicts the least recently used unpinned ones beyond `maxResident`.
/// (The unified memory pool replaces the count bound with a byte budget.)
public final class AdapterResidency: Sendable {
    public enum State: String, Sendable { case disk, loading, resident }

    private struct Entry {
        var adapter: PeftAdapter?
        var pinned = false
        var loading = false
        var lastUsed: UInt64 = 0
    }
    private let entries = Mutex<[String: Entry]>([:])
    private let registry: Registry
    public let maxResident: Int
    private let clock = Mutex<UInt64>(0)
    private let loaded = Mutex<(loads: Int, evictions: Int)>((0, 0))

    public init(registry: Registry, maxResident: Int = 64) {
        self.registry = registry
        self.maxResident = max(1, maxResident)
    }

    public func state(of record: AdapterRecord) -> State {
        entries.withLock { e in
            guard let entry = e[record.sha256] else { return .disk }
            if entry.adapter != nil { return .resident }
            return entry.loading ? .loading : .disk
        }
    }

    public func isPinned(_ record: AdapterRecord) -> Bool { entries.withLock { $0[record.sha256]?.pinned ?? false } }

    public var counts: (resident: Int, loads: Int, evictions: Int) {
        let resident = entries.withLock { $0.values.filter { $0.adapter != nil }.count }
        let l = loaded.withLock { $0 }
        return (resident, l.loads, l.evictions)
    }

    /// The loaded adapter for `record`, loading it from the store when needed (on the calling thread).
    public func acquire(_ record: AdapterRecord) throws -> PeftAdapter {
        let tick = clock.withLock { c -> UInt64 in c += 1; return c }
        if let a = entries.withLock({ e -> PeftAdapter? in
            e[record.sha256]?.lastUsed = tick
            return e[record.sha256]?.adapter
        }) { return a }
        entries.withLock { $0[record.sha256, default: Entry()].loading = true }
        let adapter: PeftAdapter
        do {
            adapter = try registry.loadAdapter(record)
        } catch {
            entries.withLock { e in
                e[record.sha256]?.loading = false
                if e[record.sha256]?.adapter == nil && e[record.sha256]?.pinned == false { e[record.sha256] = nil }
            }
            throw error
        }
        loaded.withLock { $0.loads += 1 }
        entries.withLock { e in
            e[record.sha256, default: Entry()].adapter = adapter
            e[record.sha256]?.loading = false
            e[record.sha256]?.lastUsed = tick
        }
        evictBeyondBound()
        return adapter
    }

    public func pin(_ record: AdapterRecord) throws {
        _ = try acquire(record)
        entries.withLock { $0[record.sha256]?.pinned = true }
    }

    public func unpin(_ record: AdapterRecord) {
        entries.withLock { $0[record.sha256]?.pinned = false }
        evictBeyondBound()
    }

    /// Drops the in-memory copy (requests already running keep theirs until they finish).
    public func unload(_ record: AdapterRecord) {
        let removed = entries.withLock { e -> Bool in
            guard e[record.sha256]?.adapter != nil else { return false }
            e[record.sha256] = nil
            return true
        }
        if removed { loaded.withLock { $0.evictions += 1 } }
    }

    private func evictBeyondBound() {
        let evicted = entries.withLock { e -> Int in
            var resident = e.filter { $0.value.adapter != nil }
            var count = 0
            while resident.count > maxResident,
                  let victim = resident.filter({ !$0.value.pinned }).min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                e[victim.key] = nil
                resident[victim.key] = nil
                count += 1
            }
            return count
        }
        if evicted > 0 { loaded.withLock { $0.evictions += evicted } }
    }
}
