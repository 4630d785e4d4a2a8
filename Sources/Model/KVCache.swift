import Foundation
import Kernels
import Synchronization

/// Hands out fixed-size KV blocks of `blockTokens` positions for every layer at once.
/// Block layout: [layer][K or V][blockTokens][kvDim]. Thread-safe; counts blocks in use so tests can check that
/// every block comes back. Attached to a `PagePool`, each block is one page of the pool (and allocation fails when
/// the pool is full); otherwise blocks come from the heap without bound (offline generation, tests).
public final class KVBlockAllocator: Sendable {
    public let blockTokens: Int
    public let layerCount: Int
    public let kvDim: Int
    public var floatsPerBlock: Int { layerCount * 2 * blockTokens * kvDim }
    public var bytesPerBlock: Int { floatsPerBlock * MemoryLayout<Float>.stride }

    private let inUse = Mutex(0)
    private let attached = Mutex<PagePool?>(nil)
    /// References beyond the first to blocks shared by forked caches (absent: one owner).
    private let shared = Mutex<[UInt: Int]>([:])   // block address -> extra references

    public init(config: ModelConfig, blockTokens: Int = 16) {
        self.blockTokens = blockTokens
        self.layerCount = config.layerCount
        self.kvDim = config.kvDim
    }

    public var blocksInUse: Int { inUse.withLock { $0 } }

    /// The pool blocks come from, once attached.
    public var pool: PagePool? { attached.withLock { $0 } }

    /// Takes every later block from `pool` (pages of at least `bytesPerBlock`). Call before any block is in use.
    public func attach(_ pool: PagePool) {
        precondition(pool.pageBytes >= bytesPerBlock, "pool pages (\(pool.pageBytes) B) are smaller than a KV block (\(bytesPerBlock) B)")
        attached.withLock { a in
            precondition(blocksInUse == 0, "attach the pool before any KV block is allocated")
            a = pool
        }
    }

    /// A block, or nil when the attached pool has no free page.
    func allocate() -> UnsafeMutablePointer<Float>? {
        if let pool = self.pool {
            guard let page = pool.allocate(1, for: .kv)?.first else { return nil }
            inUse.withLock { $0 += 1 }
            return pool.pointer(page).bindMemory(to: Float.self, capacity: floatsPerBlock)
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytesPerBlock) == 0, let raw else { fatalError("out of memory for a KV block") }
        inUse.withLock { $0 += 1 }
        return raw.bindMemory(to: Float.self, capacity: floatsPerBlock)
    }

    /// One more cache reads `block` (a fork): it is freed when the last one releases it.
    func retain(_ block: UnsafeMutablePointer<Float>) {
        let key = UInt(bitPattern: block)
        shared.withLock { $0[key, default: 0] += 1 }
    }

    /// Whether more than one cache holds `block` (it must be copied before it is written).
    func isShared(_ block: UnsafeMutablePointer<Float>) -> Bool {
        let key = UInt(bitPattern: block)
        return shared.withLock { $0[key] != nil }
    }

    func release(_ block: UnsafeMutablePointer<Float>) {
        let key = UInt(bitPattern: block)
        let stillHeld = shared.withLock { refs -> Bool in
            guard let extra = refs[key] else { return false }
            refs[key] = extra > 1 ? extra - 1 : nil
            return true
        }
        if stillHeld { return }
        if let pool = self.pool {
            pool.release([pool.page(containing: block)], from: .kv)
        } else {
            free(block)
        }
        inUse.withLock { $0 -= 1 }
    }

    /// Blocks needed to hold `positions` positions.
    public func blocks(forPositions positions: Int) -> Int { (positions + blockTokens - 1) / blockTokens }
}

/// One sequence's committed keys and values, in blocks from a `KVBlockAllocator` (a page table of blocks).
/// Owned by the engine thread; the forward pass reads it and appends the step's accepted rows.
public final class KVCache: @unchecked Sendable {
    // @unchecked Sendable: mutated only by the thread running forward passes; other threads only hold references.
    public let allocator: KVBlockAllocator
    private var blocks: [UnsafeMutablePointer<Float>] = []
    /// Committed positions 0..<length.
    public private(set) var length = 0

    public init(allocator: KVBlockAllocator) { self.allocator = allocator }

    deinit { for b in blocks { allocator.release(b) } }

    public var blockCount: Int { blocks.count }

    /// The blocks in position order (the attention kernel's page table).
    var blockPointers: [UnsafeMutablePointer<Float>] { blocks }

    /// Keys of `layer` at `position`: [kvDim]; positions inside one block are contiguous.
    @inline(__always)
    func keys(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        let bt = allocator.blockTokens
        return blocks[position / bt] + ((layer * 2) * bt + position % bt) * allocator.kvDim
    }

    @inline(__always)
    func values(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        let bt = allocator.blockTokens
        return blocks[position / bt] + ((layer * 2 + 1) * bt + position % bt) * allocator.kvDim
    }

    /// A cache with the same committed positions, sharing every block copy-on-write (`n` choices of one prompt:
    /// the prompt's KV is computed once). A shared block is copied when one of them writes into it.
    public func fork() -> KVCache {
        let copy = KVCache(allocator: allocator)
        for b in blocks { allocator.retain(b) }
        copy.blocks = blocks
        copy.length = length
        return copy
    }

    /// Makes room for `positions` committed positions in all (blocks from the pool); false, with nothing taken,
    /// when the pool cannot supply the blocks. The engine reserves before each step, so commits never fail. A
    /// shared (forked) block that the new positions are written into is copied here, so writes stay private.
    public func reserve(positions: Int) -> Bool {
        let bt = allocator.blockTokens
        if positions > length, length % bt != 0, allocator.isShared(blocks[length / bt]) {
            guard let copy = allocator.allocate() else { return false }
            let old = blocks[length / bt]
            copy.update(from: old, count: allocator.floatsPerBlock)
            blocks[length / bt] = copy
            allocator.release(old)
        }
        let needed = allocator.blocks(forPositions: positions) - blocks.count
        guard needed > 0 else { return true }
        var taken: [UnsafeMutablePointer<Float>] = []
        for _ in 0..<needed {
            guard let b = allocator.allocate() else {
                taken.forEach(allocator.release)
                return false
            }
            taken.append(b)
        }
        blocks += taken
        return true
    }

    /// Appends one position's K and V for every layer. keys/values: [layers, kvDim] with row stride `stride`.
    func append(keys k: (Int) -> UnsafePointer<Float>, values v: (Int) -> UnsafePointer<Float>) {
        if length == blocks.count * allocator.blockTokens {
            guard let block = allocator.allocate() else {
                fatalError("the KV pool is exhausted: the engine must reserve blocks before a step")
            }
            blocks.append(block)
        } else if allocator.isShared(blocks[length / allocator.blockTokens]) {
            guard reserve(positions: length + 1) else {
                fatalError("the KV pool is exhausted: the engine must reserve blocks before a step")
            }
        }
        let kvDim = allocator.kvDim
        for layer in 0..<allocator.layerCount {
            memcpy(keys(layer: layer, position: length), k(layer), kvDim * 4)
            memcpy(values(layer: layer, position: length), v(layer), kvDim * 4)
        }
        length += 1
    }

    /// Forgets positions from `newLength` on, returning whole unused blocks.
    public func truncate(to newLength: Int) {
        precondition(newLength >= 0 && newLength <= length)
        length = newLength
        let needed = (newLength + allocator.blockTokens - 1) / allocator.blockTokens
        while blocks.count > needed { allocator.release(blocks.removeLast()) }
    }
}
