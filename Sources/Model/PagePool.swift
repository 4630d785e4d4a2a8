import Foundation
import Kernels
import Synchronization

/// The unified memory pool: one byte budget cut into fixed-size pages, shared by KV cache blocks and adapter
/// weights (S-LoRA's unified paging), so memory flows to whichever needs it. Pages come from one arena mapped at
/// start-up (the kernel commits them on first touch). Thread-safe; allocation is all-or-nothing.
public final class PagePool: @unchecked Sendable {
    // @unchecked Sendable: the arena (`mapping`) is fixed after init; the free list is behind `state`; a page's
    // bytes belong to whoever allocated it until it is released.
    public enum Kind: String, Sendable, CaseIterable { case kv, adapter }

    /// Bytes per page (a multiple of 64, so every page is 64-byte aligned).
    public let pageBytes: Int
    /// Pages in the budget.
    public let pageCount: Int
    private let mapping: HugePages.Mapping       // 2 MiB aligned, huge pages where the kernel gives them
    private var arena: UnsafeMutableRawPointer { mapping.base }   // [pageCount][pageBytes]

    private struct State {
        var free: [Int32]
        var inUse: [Kind: Int] = [:]
    }
    private let state: Mutex<State>

    /// A pool of `budgetBytes / pageBytes` pages (at least one).
    public init(budgetBytes: Int, pageBytes: Int) {
        precondition(pageBytes > 0 && budgetBytes > 0)
        let page = (pageBytes + 63) / 64 * 64
        self.pageBytes = page
        pageCount = max(1, min(Int(Int32.max), budgetBytes / page))
        let bytes = pageCount * page
        mapping = HugePages.map(bytes, reserve: false)
        // Lowest pages first (they are handed out from the end of the list).
        state = Mutex(State(free: (0..<Int32(pageCount)).reversed()))
    }

    deinit { HugePages.unmap(mapping) }

    public var budgetBytes: Int { pageCount * pageBytes }

    /// `count` pages for `kind`, or nil (nothing taken) when fewer are free.
    public func allocate(_ count: Int, for kind: Kind) -> [Int32]? {
        guard count >= 0 else { return nil }
        return state.withLock { s in
            guard s.free.count >= count else { return nil }
            let pages = Array(s.free.suffix(count))
            s.free.removeLast(count)
            s.inUse[kind, default: 0] += count
            return pages
        }
    }

    /// Returns pages taken for `kind`.
    public func release(_ pages: [Int32], from kind: Kind) {
        guard !pages.isEmpty else { return }
        state.withLock { s in
            s.free.append(contentsOf: pages)
            s.inUse[kind, default: 0] -= pages.count
        }
    }

    /// The first byte of `page`: [pageBytes].
    @inline(__always)
    public func pointer(_ page: Int32) -> UnsafeMutableRawPointer { arena + Int(page) * pageBytes }

    /// The page `pointer` lies in (it must come from `pointer(_:)`).
    @inline(__always)
    public func page(containing pointer: UnsafeRawPointer) -> Int32 {
        Int32((pointer - UnsafeRawPointer(arena)) / pageBytes)
    }

    public var freePages: Int { state.withLock { $0.free.count } }

    /// Pages in use by `kind`.
    public func pagesInUse(_ kind: Kind) -> Int { state.withLock { $0.inUse[kind] ?? 0 } }

    /// Pages needed for `bytes` bytes.
    public func pages(forBytes bytes: Int) -> Int { (bytes + pageBytes - 1) / pageBytes }
}
