import Adapters
import Foundation
import Model
import Registry
import Synchronization

/// Which adapters are paged into the unified memory pool, keyed by content hash (two names with the same files
/// share one copy). Loads on demand page by page, counts the requests using each adapter (an adapter in use is
/// never evicted), keeps pinned adapters, and evicts idle unpinned ones least recently used first when the pool
/// needs pages (for another adapter, or for KV cache through `reclaim`).
public final class AdapterResidency: Sendable {
    public enum State: String, Sendable { case disk, loading, resident }

    private struct Entry {
        var adapter: PooledAdapter?
        /// The registered names (sharing these files) that pinned it; pinned while any does.
        var pinnedBy: Set<String> = []
        var loading = false
        var users = 0
        var lastUsed: UInt64 = 0
    }
    private struct Counters {
        var loads = 0
        var evictions = 0
        var loadSeconds = 0.0
    }
    private let entries = Mutex<[String: Entry]>([:])
    private let registry: Registry?
    private let modelConfig: ModelConfig
    public let pool: PagePool
    private let clock = Mutex<UInt64>(0)
    private let counters = Mutex(Counters())
    /// Serialises loads of one hash (a second request for a loading adapter waits for the first load).
    private let loadLocks = Mutex<[String: NSLock]>([:])

    /// How long a load waits for in-use adapters to be released when the pool is full.
    public let waitSeconds: Double
    /// At most this many adapters resident at once (`--max-loras`); nil: as many as the pool holds.
    private let residentLimit = Mutex<Int?>(nil)
    /// Loads past `makeRoomForOne` that have not yet put their adapter in `entries` (each holds one slot).
    private let reservedSlots = Mutex(0)
    public var maxResident: Int? {
        get { residentLimit.withLock { $0 } }
        set { residentLimit.withLock { $0 = newValue } }
    }

    public init(registry: Registry, pool: PagePool, waitSeconds: Double = 30) {
        self.registry = registry
        self.modelConfig = registry.modelConfig
        self.pool = pool
        self.waitSeconds = waitSeconds
    }

    /// Residency without a registry (benchmarks): callers name adapters by key and say how to load them.
    public init(modelConfig: ModelConfig, pool: PagePool, waitSeconds: Double = 30) {
        self.registry = nil
        self.modelConfig = modelConfig
        self.pool = pool
        self.waitSeconds = waitSeconds
    }

    public func state(of record: AdapterRecord) -> State {
        entries.withLock { e in
            guard let entry = e[record.sha256] else { return .disk }
            if entry.adapter != nil { return .resident }
            return entry.loading ? .loading : .disk
        }
    }

    public func isPinned(_ record: AdapterRecord) -> Bool {
        entries.withLock { $0[record.sha256]?.pinnedBy.contains(record.name) ?? false }
    }

    /// Content keys of the adapters in the pool, and of those being loaded (their requests wait for the load).
    public var keys: (resident: [String], loading: [String]) {
        entries.withLock { e in
            (e.filter { $0.value.adapter != nil }.map(\.key).sorted(),
             e.filter { $0.value.adapter == nil && $0.value.loading }.map(\.key).sorted())
        }
    }

    /// Mean pool pages of the resident adapters (nil when none is resident).
    public var meanResidentPages: Double? {
        let pages = entries.withLock { $0.values.compactMap { $0.adapter?.pageCount } }
        return pages.isEmpty ? nil : Double(pages.reduce(0, +)) / Double(pages.count)
    }

    public var counts: (resident: Int, loads: Int, evictions: Int, loadSeconds: Double) {
        let resident = entries.withLock { $0.values.filter { $0.adapter != nil }.count }
        let c = counters.withLock { $0 }
        return (resident, c.loads, c.evictions, c.loadSeconds)
    }

    /// The paged-in weights of `record` for one request, loading them when needed (on the calling thread, never
    /// the engine's). Every `acquire` must be matched by one `release` when the request ends.
    public func acquire(_ record: AdapterRecord) throws -> PooledAdapter {
        try acquire(key: record.sha256) { try self.loadFromRegistry(record) }
    }

    /// `acquire` by content key, loading with `load` when the adapter is not resident.
    public func acquire(key: String, load: () throws -> PeftAdapterFiles) throws -> PooledAdapter {
        try resident(key: key, countUse: true, load: load)
    }

    /// The request that acquired `record` has ended.
    public func release(_ record: AdapterRecord) { release(key: record.sha256) }

    public func release(key: String) {
        entries.withLock { e in
            if let users = e[key]?.users, users > 0 { e[key]?.users = users - 1 }
        }
    }

    /// Loads `record` without using it (`POST /v1/adapters/{name}/load`).
    public func load(_ record: AdapterRecord) throws {
        _ = try resident(key: record.sha256, countUse: false) { try self.loadFromRegistry(record) }
    }

    /// `load` by content key (benchmarks).
    public func load(key: String, load: () throws -> PeftAdapterFiles) throws {
        _ = try resident(key: key, countUse: false, load: load)
    }

    private func loadFromRegistry(_ record: AdapterRecord) throws -> PeftAdapterFiles {
        guard let registry else { throw RegistryError(.notFound, "no registry to load adapter \"\(record.name)\" from") }
        return try registry.loadAdapterFiles(record)
    }

    private func resident(key: String, countUse: Bool, load: () throws -> PeftAdapterFiles) throws -> PooledAdapter {
        let lock = loadLocks.withLock { l -> NSLock in
            if let existing = l[key] { return existing }
            let made = NSLock()
            l[key] = made
            return made
        }
        lock.lock()
        defer { lock.unlock() }
        let tick = clock.withLock { c -> UInt64 in c += 1; return c }
        if let a = entries.withLock({ e -> PooledAdapter? in
            guard let a = e[key]?.adapter else { return nil }
            e[key]?.lastUsed = tick
            if countUse { e[key]?.users += 1 }
            return a
        }) { return a }

        entries.withLock { $0[key, default: Entry()].loading = true }
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let loaded = try load()
            let reserved = try makeRoomForOne(name: loaded.name)
            defer { if reserved { reservedSlots.withLock { $0 -= 1 } } }
            let pooled = try page(loaded)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            counters.withLock { $0.loads += 1; $0.loadSeconds += seconds }
            entries.withLock { e in
                e[key, default: Entry()].adapter = pooled
                e[key]?.loading = false
                e[key]?.lastUsed = tick
                if countUse { e[key]?.users += 1 }
            }
            return pooled
        } catch {
            entries.withLock { e in
                e[key]?.loading = false
                if e[key]?.adapter == nil && e[key]?.pinnedBy.isEmpty == true { e[key] = nil }
            }
            throw error
        }
    }

    /// Copies a loaded adapter into pool pages, evicting idle adapters while the pool is short.
    private func page(_ adapter: PeftAdapterFiles) throws -> PooledAdapter {
        let config = modelConfig
        let needed = try Self.pages(adapter, pool: pool, config: config)
        guard needed <= pool.pageCount else {
            throw RegistryError(.limit, "adapter \"\(adapter.name)\" needs \(needed) pool pages; the pool has \(pool.pageCount) in all (raise --pool-memory)")
        }
        // When every resident adapter is in use, wait (bounded) for requests to end rather than fail at once.
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(waitSeconds * 1e9)
        while true {
            do { return try PooledAdapter(adapter, pool: pool, config: config) } catch PooledAdapter.Failure.poolFull(let n, let free) {
                if evictIdle(pages: n - free) > 0 { continue }
                guard DispatchTime.now().uptimeNanoseconds < deadline else {
                    throw RegistryError(.limit, "the memory pool is full: adapter \"\(adapter.name)\" needs \(n) pages, \(free) are free and every resident adapter is in use or pinned; try again later")
                }
                usleep(5_000)
            }
        }
    }

    /// Under `maxResident`, evicts idle adapters (least recently used first) until one more fits, and reserves
    /// that slot (true: the caller releases it once its adapter is in `entries` or its load failed, so concurrent
    /// loads never overshoot the limit); waits (bounded) when every resident adapter is in use or pinned.
    private func makeRoomForOne(name: String) throws -> Bool {
        guard let limit = maxResident else { return false }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(waitSeconds * 1e9)
        while true {
            let reserved = entries.withLock { e -> Bool in
                reservedSlots.withLock { r in
                    guard e.values.filter({ $0.adapter != nil }).count + r < limit else { return false }
                    r += 1
                    return true
                }
            }
            if reserved { return true }
            if evictIdle(adapters: 1) > 0 { continue }
            guard DispatchTime.now().uptimeNanoseconds < deadline else {
                throw RegistryError(.limit, "adapter \"\(name)\" cannot be loaded: \(limit) adapters are resident (--max-loras) and every one is in use or pinned; try again later")
            }
            usleep(5_000)
        }
    }

    private static func pages(_ adapter: PeftAdapterFiles, pool: PagePool, config: ModelConfig) throws -> Int {
        do { return try PooledAdapter.pagesNeeded(adapter, pageBytes: pool.pageBytes, config: config) } catch PooledAdapter.Failure.pageTooSmall(let why) {
            throw RegistryError(.invalid, why)
        }
    }

    /// Evicts idle (unused, unpinned) adapters, least recently used first, until `pages` pages were freed or none
    /// is left; returns the pages freed. Safe from any thread (the engine calls it when KV needs room).
    @discardableResult
    public func evictIdle(pages wanted: Int) -> Int { evictIdle(pages: wanted, adapters: Int.max).pages }

    /// Evicts up to `count` idle adapters, least recently used first; returns how many went.
    @discardableResult
    func evictIdle(adapters count: Int) -> Int { evictIdle(pages: Int.max, adapters: count).adapters }

    private func evictIdle(pages wanted: Int, adapters limit: Int) -> (pages: Int, adapters: Int) {
        var freed = 0, evicted = 0
        while freed < wanted && evicted < limit {
            let victim = entries.withLock { e -> PooledAdapter? in
                guard let (key, entry) = e.filter({ $0.value.adapter != nil && $0.value.users == 0 && $0.value.pinnedBy.isEmpty })
                    .min(by: { $0.value.lastUsed < $1.value.lastUsed }) else { return nil }
                e[key] = nil
                return entry.adapter
            }
            guard let victim else { break }
            freed += victim.pageCount
            evicted += 1
        }
        if evicted > 0 { counters.withLock { $0.evictions += evicted } }
        return (freed, evicted)
    }

    /// Pages held by the resident copies of `names` (each copy counted once, however many of them share it).
    public func pinnedPages(named names: Set<String>, among records: [AdapterRecord]) -> Int {
        let hashes = Set(records.filter { names.contains($0.name) }.map(\.sha256))
        return entries.withLock { e in hashes.reduce(0) { $0 + (e[$1]?.adapter?.pageCount ?? 0) } }
    }

    public func pin(_ record: AdapterRecord) throws {
        try load(record)
        entries.withLock { _ = $0[record.sha256]?.pinnedBy.insert(record.name) }
    }

    public func unpin(_ record: AdapterRecord) {
        entries.withLock { _ = $0[record.sha256]?.pinnedBy.remove(record.name) }
    }

    /// Drops the pool copy (requests already running keep their reference; the pages return when they end),
    /// unless another registered name with the same files has it pinned: one name never unloads another's.
    public func unload(_ record: AdapterRecord) {
        let removed = entries.withLock { e -> Bool in
            guard var entry = e[record.sha256], entry.adapter != nil else { return false }
            entry.pinnedBy.remove(record.name)
            guard entry.pinnedBy.isEmpty else {
                e[record.sha256] = entry
                return false
            }
            e[record.sha256] = nil
            return true
        }
        if removed { counters.withLock { $0.evictions += 1 } }
    }

    /// `record` was deleted: its pin goes; the copy goes too unless `sharedWithOthers` (another name has the files).
    public func forget(_ record: AdapterRecord, sharedWithOthers: Bool) {
        if sharedWithOthers { unpin(record) } else { unload(record) }
    }
}
