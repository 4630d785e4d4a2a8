import Synchronization

/// A bounded cache from a pre-tokenized word (its bytes) to its token ids, shared by every thread using a
/// tokenizer. Entries live in flat arrays under a `Mutex`; when the cache fills up it is cleared and refilled, which
/// keeps memory bounded without per-entry bookkeeping.
final class WordCache: Sendable {
    /// Words this long or longer are not cached (Hugging Face uses the same 256-byte limit).
    static let maximumKeyLength = 256

    private struct Slot {
        var hash: UInt32 = 0
        var keyStart: UInt32 = 0
        var keyLength: UInt32 = 0    // 0: empty slot (empty words are never cached)
        var valueStart: UInt32 = 0
        var valueLength: UInt32 = 0
    }

    private struct Storage {
        var slots: [Slot]
        var keyBytes: [UInt8] = []
        var values: [Int32] = []
        var count = 0
        let mask: Int
        let maximumCount: Int
        let seed = UInt64.random(in: 0...UInt64.max)

        init(slotCount: Int) {
            slots = Array(repeating: Slot(), count: slotCount)
            mask = slotCount - 1
            maximumCount = slotCount / 2
        }

        mutating func clear() {
            for i in slots.indices { slots[i].keyLength = 0 }
            keyBytes.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
            count = 0
        }
    }

    private let storage: Mutex<Storage>

    init(slotCount: Int = 1 << 16) {
        storage = Mutex(Storage(slotCount: slotCount))
    }

    /// Appends the cached ids of `word` to `out` and returns true, or returns false on a miss.
    func lookup(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int]) -> Bool {
        let n = word.count
        guard n > 0, n < WordCache.maximumKeyLength, let key = word.baseAddress else { return false }
        return storage.withLock { s in
            let h = hashBytes(key, n, seed: s.seed)
            let h32 = UInt32(truncatingIfNeeded: h >> 32)
            var index = Int(truncatingIfNeeded: h) & s.mask
            while true {
                let slot = s.slots[index]
                if slot.keyLength == 0 { return false }
                if slot.hash == h32, Int(slot.keyLength) == n {
                    let same = s.keyBytes.withUnsafeBufferPointer { kb in
                        bytesEqual(kb.baseAddress! + Int(slot.keyStart), key, n)
                    }
                    if same {
                        let start = Int(slot.valueStart)
                        let end = start + Int(slot.valueLength)
                        s.values.withUnsafeBufferPointer { vp in
                            for i in start..<end { out.append(Int(vp[i])) }
                        }
                        return true
                    }
                }
                index = (index + 1) & s.mask
            }
        }
    }

    func insert(_ word: UnsafeBufferPointer<UInt8>, ids: ArraySlice<Int32>) {
        let n = word.count
        guard n > 0, n < WordCache.maximumKeyLength, let key = word.baseAddress else { return }
        storage.withLock { s in
            if s.count >= s.maximumCount { s.clear() }
            let h = hashBytes(key, n, seed: s.seed)
            let h32 = UInt32(truncatingIfNeeded: h >> 32)
            var index = Int(truncatingIfNeeded: h) & s.mask
            while s.slots[index].keyLength != 0 {
                let slot = s.slots[index]
                if slot.hash == h32, Int(slot.keyLength) == n,
                   s.keyBytes.withUnsafeBufferPointer({ bytesEqual($0.baseAddress! + Int(slot.keyStart), key, n) }) {
                    return  // already cached (another thread got here first)
                }
                index = (index + 1) & s.mask
            }
            let keyStart = s.keyBytes.count
            s.keyBytes.append(contentsOf: word)
            let valueStart = s.values.count
            s.values.append(contentsOf: ids)
            s.slots[index] = Slot(hash: h32, keyStart: UInt32(keyStart), keyLength: UInt32(n),
                                  valueStart: UInt32(valueStart), valueLength: UInt32(ids.count))
            s.count += 1
        }
    }
}
