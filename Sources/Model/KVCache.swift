import Foundation
import Kernels
import Synchronization

/// Hands out fixed-size KV blocks of `blockTokens` positions for every layer at once.
/// Block layout: [layer][K or V][blockTokens][kvDim]. Thread-safe; counts blocks in use so tests can check that
/// every block comes back.
public final class KVBlockAllocator: Sendable {
    public let blockTokens: Int
    public let layerCount: Int
    public let kvDim: Int
    public var floatsPerBlock: Int { layerCount * 2 * blockTokens * kvDim }
    public var bytesPerBlock: Int { floatsPerBlock * MemoryLayout<Float>.stride }

    private let inUse = Mutex(0)

    public init(config: ModelConfig, blockTokens: Int = 16) {
        self.blockTokens = blockTokens
        self.layerCount = config.layerCount
        self.kvDim = config.kvDim
    }

    public var blocksInUse: Int { inUse.withLock { $0 } }

    func allocate() -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytesPerBlock) == 0, let raw else { fatalError("out of memory for a KV block") }
        inUse.withLock { $0 += 1 }
        return raw.bindMemory(to: Float.self, capacity: floatsPerBlock)
    }

    func release(_ block: UnsafeMutablePointer<Float>) {
        free(block)
        inUse.withLock { $0 -= 1 }
    }
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

    /// Appends one position's K and V for every layer. keys/values: [layers, kvDim] with row stride `stride`.
    func append(keys k: (Int) -> UnsafePointer<Float>, values v: (Int) -> UnsafePointer<Float>) {
        if length == blocks.count * allocator.blockTokens { blocks.append(allocator.allocate()) }
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
