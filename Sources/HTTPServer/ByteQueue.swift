/// A FIFO of bytes: a connection's unparsed input or its unsent output. Consumed bytes are dropped lazily: `start`
/// moves forward and the storage is compacted when most of it is dead.
struct ByteQueue {
    private var storage: [UInt8] = []
    private var start = 0

    var count: Int { storage.count - start }
    var isEmpty: Bool { start == storage.count }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        storage.append(contentsOf: bytes)
    }

    mutating func append(_ bytes: [UInt8]) {
        if isEmpty && storage.capacity < bytes.count {
            storage = bytes   // a whole response handed over: no copy
            start = 0
            return
        }
        compact()
        storage.append(contentsOf: bytes)
    }

    mutating func consume(_ n: Int) {
        start += n
        if start >= storage.count {
            // Keep a modest buffer around for the next request; give large ones back.
            storage.removeAll(keepingCapacity: storage.capacity <= 128 * 1024)
            start = 0
        }
    }

    mutating func removeAll() { consume(count) }

    /// The unconsumed bytes.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    }

    private mutating func compact() {
        if start > 0 && start >= storage.count / 2 {
            storage.removeFirst(start)
            start = 0
        }
    }
}
