import Foundation

/// A 64-byte aligned (by default zero-initialised) buffer of `Element`s, owned by this object and freed in `deinit`.
/// Weights and scratch live in these so hot loops index raw pointers, never Swift arrays.
public final class AlignedBuffer<Element>: @unchecked Sendable {
    // @unchecked Sendable: the buffer is handed between the loader and the engine thread; concurrent kernels write
    // disjoint ranges of it (split by output column), which the owner of each call guarantees.
    public let pointer: UnsafeMutablePointer<Element>
    public let count: Int

    /// `zeroed: false` skips clearing (for buffers the caller fills completely, such as weights).
    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0)
        self.count = count
        let bytes = max(count * MemoryLayout<Element>.stride, 64)
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        if zeroed { memset(raw, 0, bytes) }
        pointer = raw.bindMemory(to: Element.self, capacity: max(count, 1))
    }

    deinit { free(pointer) }

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
