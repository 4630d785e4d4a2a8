import Foundation

/// A 64-byte aligned (by default zero-initialised) buffer of `Element`s, owned by this object and freed in `deinit`.
/// Weights and scratch live in these so hot loops index raw pointers, never Swift arrays.
///
/// Buffers of `HugePages.threshold` bytes and more (weights, adapters) are mapped on their own, 2 MiB aligned and
/// marked for transparent huge pages: the kernels stream gigabytes per step, and with 4 KiB pages every 4 KiB of
/// that stream costs a TLB miss and a page walk (with huge pages a 16-row decode step of the tinyllama shape runs
/// ~4 % faster here, its adapters' stream ~9 %; `docs/performance.md`).
public final class AlignedBuffer<Element>: @unchecked Sendable {
    // @unchecked Sendable: the buffer is handed between the loader and the engine thread; concurrent kernels write
    // disjoint ranges of it (split by output column), which the owner of each call guarantees.
    public let pointer: UnsafeMutablePointer<Element>
    public let count: Int
    /// The mapping behind a large buffer (nil: from posix_memalign).
    private let mapping: HugePages.Mapping?

    /// `zeroed: false` skips clearing (for buffers the caller fills completely, such as weights).
    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0)
        self.count = count
        let bytes = max(count * MemoryLayout<Element>.stride, 64)
        if bytes >= HugePages.threshold {
            let m = HugePages.map(bytes)   // fresh anonymous memory reads as zero
            mapping = m
            pointer = m.base.bindMemory(to: Element.self, capacity: max(count, 1))
            return
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        if zeroed { memset(raw, 0, bytes) }
        mapping = nil
        pointer = raw.bindMemory(to: Element.self, capacity: max(count, 1))
    }

    deinit {
        if let mapping { HugePages.unmap(mapping) } else { free(pointer) }
    }

    public var buffer: UnsafeMutableBufferPointer<Element> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var byteCount: Int { count * MemoryLayout<Element>.stride }

    public subscript(i: Int) -> Element {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}

/// A raw pointer that may cross into a parallel loop's closures. The caller guarantees the memory outlives the loop
/// and that concurrent iterations write disjoint elements.
public struct SharedPointer<Element>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Element>
    public init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
}

/// Read-only counterpart of `SharedPointer`.
public struct SharedConstPointer<Element>: @unchecked Sendable {
    public let base: UnsafePointer<Element>
    public init(_ base: UnsafePointer<Element>) { self.base = base }
}

/// Anonymous mappings aligned to 2 MiB and advised for transparent huge pages (Linux `MADV_HUGEPAGE`; where the
/// kernel has THP off or unsupported, they are ordinary pages and everything works the same).
public enum HugePages {
    public static let size = 2 << 20
    /// Buffers from this size on get their own mapping.
    public static let threshold = 4 << 20

    public struct Mapping: @unchecked Sendable {
        // @unchecked Sendable: addresses of a mapping owned by one object (a buffer or a pool), fixed until unmapped.
        let start: UnsafeMutableRawPointer   // what mmap returned
        let length: Int
        public let base: UnsafeMutableRawPointer   // 2 MiB aligned, `bytes` rounded up to 2 MiB usable
    }

    /// A zeroed mapping of at least `bytes`, its base 2 MiB aligned. `reserve: false` maps it MAP_NORESERVE (no
    /// swap reserved up front; pages are committed when first touched, as for the memory pool's arena).
    public static func map(_ bytes: Int, reserve: Bool = true) -> Mapping {
        let usable = (bytes + size - 1) / size * size
        let length = usable + size
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | (reserve ? 0 : MAP_NORESERVE)
        guard let start = mmap(nil, length, PROT_READ | PROT_WRITE, flags, -1, 0), start != MAP_FAILED else {
            fatalError("out of memory mapping \(bytes) bytes")
        }
        let address = UInt(bitPattern: start)
        let aligned = (address + UInt(size) - 1) / UInt(size) * UInt(size)
        let base = UnsafeMutableRawPointer(bitPattern: aligned)!
        _ = madvise(base, usable, MADV_HUGEPAGE)   // advice only: an error leaves ordinary pages
        return Mapping(start: start, length: length, base: base)
    }

    public static func unmap(_ m: Mapping) { munmap(m.start, m.length) }
}
