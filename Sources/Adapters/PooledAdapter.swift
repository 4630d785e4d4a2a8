import Foundation
import Model

/// A loaded adapter's LoRA weights moved into pages of the unified memory pool. Each pair is split along its rank
/// rows into pieces that never straddle a page: a piece of k rank rows holds A rows [k, input] followed by the
/// matching B columns stored as rows [k, output] (Bᵀ), in the module's element type, so the SGMV kernel reads the
/// weights where they lie (no gather per step).
/// Pieces are packed one after another, so pages are shared between pairs and only the last page is partly empty.
/// The pages go back to the pool when the last user of `weights` lets go.
public final class PooledAdapter: Sendable {
    public let name: String
    public let weights: LoRAWeights
    public let pageCount: Int
    public let byteCount: Int

    /// Why an adapter cannot be paged in.
    public enum Failure: Error, Sendable {
        /// The pool has fewer free pages than the adapter needs.
        case poolFull(needed: Int, free: Int)
        /// A single rank row of some pair is larger than a page.
        case pageTooSmall(String)
    }

    /// Returns the pages when the last piece reference goes (kept alive by `LoRAWeights.owner`).
    final class Lease: Sendable {
        let pool: PagePool
        let pages: [Int32]
        init(pool: PagePool, pages: [Int32]) {
            self.pool = pool
            self.pages = pages
        }
        deinit { pool.release(pages, from: .adapter) }
    }

    /// Pages `adapter` needs in `pool`.
    public static func pagesNeeded(_ adapter: PeftAdapterFiles, pageBytes: Int, config: ModelConfig) throws -> Int {
        var cursor = PageCursor(pageBytes: pageBytes)
        for m in adapter.modules {
            let rowBytes = rowBytes(m, config: config)
            var left = m.rank
            while left > 0 { left -= try cursor.take(left, rowBytes: rowBytes, adapter: adapter.name).rows }
        }
        return cursor.pagesUsed
    }

    /// Reads `adapter`'s weights straight into pages of `pool` (all-or-nothing): from the file into the pages, as
    /// stored or widened to F32 (`PeftAdapterFiles.read`), with no copy on the heap in between.
    public init(_ adapter: PeftAdapterFiles, pool: PagePool, config: ModelConfig) throws {
        let needed = try Self.pagesNeeded(adapter, pageBytes: pool.pageBytes, config: config)
        guard let pages = pool.allocate(needed, for: .adapter) else {
            throw Failure.poolFull(needed: needed, free: pool.freePages)
        }
        let lease = Lease(pool: pool, pages: pages)   // returns the pages if anything below throws
        var cursor = PageCursor(pageBytes: pool.pageBytes)
        var pairs = [[LoRAPair?]](repeating: [LoRAPair?](repeating: nil, count: Projection.allCases.count),
                                  count: config.layerCount)
        for m in adapter.modules {
            let (input, _) = m.projection.shape(config)
            var pieces: [LoRAPiece] = []
            var r0 = 0
            while r0 < m.rank {
                let (k, page, offset) = try cursor.take(m.rank - r0, rowBytes: Self.rowBytes(m, config: config),
                                                        adapter: adapter.name)
                let a = pool.pointer(pages[page]) + offset          // [k, input]
                let b = a + k * input * m.element.byteSize          // Bᵀ: [k, output]
                try adapter.read(m, rows: r0..<(r0 + k), a: a, b: b)
                pieces.append(LoRAPiece(a: a, b: b, rank: k, element: m.element))
                r0 += k
            }
            pairs[m.layer][m.projection.rawValue] = LoRAPair(pieces: pieces, scale: m.scale)
        }
        name = adapter.name
        pageCount = needed
        byteCount = needed * pool.pageBytes
        weights = LoRAWeights(pairs: pairs, owner: lease)
    }

    /// Bytes of one rank row of a module: its A row and its B column.
    private static func rowBytes(_ m: PeftAdapterFiles.Module, config: ModelConfig) -> Int {
        let (input, output) = m.projection.shape(config)
        return (input + output) * m.element.byteSize
    }

    /// Packs runs of rank rows into pages, in order; 64-byte aligned pieces.
    struct PageCursor {
        let pageBytes: Int
        var page = -1
        var offset = 0

        init(pageBytes: Int) { self.pageBytes = pageBytes }

        var pagesUsed: Int { page + 1 }

        /// Up to `rows` rows of `rowBytes` at the cursor (moving to a new page when not one fits).
        mutating func take(_ rows: Int, rowBytes: Int, adapter: String) throws -> (rows: Int, page: Int, offset: Int) {
            guard rowBytes <= pageBytes else {
                throw Failure.pageTooSmall("adapter \"\(adapter)\": one rank row takes \(rowBytes) bytes, a pool page holds \(pageBytes)")
            }
            if page < 0 || (pageBytes - offset) / rowBytes == 0 {
                page += 1
                offset = 0
            }
            let k = min(rows, (pageBytes - offset) / rowBytes)
            let at = offset
            offset = min(pageBytes, (offset + k * rowBytes + 63) / 64 * 64)
            return (k, page, at)
        }
    }
}
