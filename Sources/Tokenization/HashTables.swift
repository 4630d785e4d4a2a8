/// A fast, seeded hash of a byte string (not cryptographic; the per-table random seed makes collisions hard to
/// aim at from untrusted text).
@inline(__always)
func hashBytes(_ base: UnsafeRawPointer, _ count: Int, seed: UInt64) -> UInt64 {
    var h = seed ^ (UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15)
    var i = 0
    while i + 8 <= count {
        let v = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ v) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        i += 8
    }
    if i < count {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while i < count {
            v |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) << shift
            shift += 8
            i += 1
        }
        h = (h ^ v) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 29
    }
    h ^= h >> 33
    h = h &* 0xFF51_AFD7_ED55_8CCD
    h ^= h >> 33
    return h
}

@inline(__always)
func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    var i = 0
    while i + 8 <= count {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < count {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

/// An immutable-after-build open-addressing hash table from byte strings to non-negative `Int32` values. Used for
/// vocabularies: keys compare byte for byte (Swift `String` equality would merge canonically equivalent tokens).
struct ByteStringMap: Sendable {
    private struct Slot {
        var hash: UInt32 = 0
        var value: Int32 = -1        // -1: empty
        var keyStart: UInt32 = 0
        var keyLength: UInt32 = 0
    }

    private var keyBytes: [UInt8] = []
    private var slots: [Slot]
    private var mask: Int
    private(set) var count = 0
    private let seed: UInt64

    init(minimumCapacity: Int = 16) {
        var size = 16
        while size < minimumCapacity * 2 { size <<= 1 }
        slots = Array(repeating: Slot(), count: size)
        mask = size - 1
        seed = UInt64.random(in: 0...UInt64.max)
    }

    /// Inserts or replaces; returns the previous value for the key, if any.
    @discardableResult
    mutating func insert(_ key: some Collection<UInt8>, value: Int32) -> Int32? {
        precondition(value >= 0)
        let bytes = Array(key)
        if (count + 1) * 2 > slots.count { grow() }
        return bytes.withUnsafeBufferPointer { kp -> Int32? in
            let h = hashBytes(UnsafeRawPointer(kp.baseAddress ?? UnsafePointer(bitPattern: 1)!), kp.count, seed: seed)
            var index = Int(truncatingIfNeeded: h) & mask
            let h32 = UInt32(truncatingIfNeeded: h >> 32)
            while true {
                let slot = slots[index]
                if slot.value < 0 {
                    let start = keyBytes.count
                    keyBytes.append(contentsOf: kp)
                    slots[index] = Slot(hash: h32, value: value, keyStart: UInt32(start), keyLength: UInt32(kp.count))
                    count += 1
                    return nil
                }
                if slot.hash == h32, Int(slot.keyLength) == kp.count, keyMatches(slot, kp) {
                    slots[index].value = value
                    return slot.value
                }
                index = (index + 1) & mask
            }
        }
    }

    private func keyMatches(_ slot: Slot, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        if key.isEmpty { return true }
        return keyBytes.withUnsafeBufferPointer { kb in
            bytesEqual(kb.baseAddress! + Int(slot.keyStart), key.baseAddress!, key.count)
        }
    }

    private mutating func grow() {
        let old = slots
        let size = slots.count * 2
        slots = Array(repeating: Slot(), count: size)
        mask = size - 1
        for slot in old where slot.value >= 0 {
            var index = Int(truncatingIfNeeded: rehash(slot)) & mask
            while slots[index].value >= 0 { index = (index + 1) & mask }
            slots[index] = slot
        }
    }

    private func rehash(_ slot: Slot) -> UInt64 {
        keyBytes.withUnsafeBufferPointer { kb in
            let base = kb.baseAddress.map { UnsafeRawPointer($0 + Int(slot.keyStart)) } ?? UnsafeRawPointer(bitPattern: 1)!
            return hashBytes(base, Int(slot.keyLength), seed: seed)
        }
    }

    /// Looks up a key given as raw bytes.
    @inline(__always)
    func lookup(_ key: UnsafeRawPointer, _ length: Int) -> Int32? {
        let h = hashBytes(key, length, seed: seed)
        let h32 = UInt32(truncatingIfNeeded: h >> 32)
        return slots.withUnsafeBufferPointer { sp in
            keyBytes.withUnsafeBufferPointer { kb in
                var index = Int(truncatingIfNeeded: h) & mask
                while true {
                    let slot = sp[index]
                    if slot.value < 0 { return nil }
                    if slot.hash == h32, Int(slot.keyLength) == length,
                       length == 0 || bytesEqual(kb.baseAddress! + Int(slot.keyStart), key, length) {
                        return slot.value
                    }
                    index = (index + 1) & mask
                }
            }
        }
    }

    func lookup(_ key: UnsafeBufferPointer<UInt8>) -> Int32? {
        lookup(UnsafeRawPointer(key.baseAddress ?? UnsafePointer(bitPattern: 1)!), key.count)
    }

    func lookup(_ key: String) -> Int32? {
        var key = key
        return key.withUTF8 { lookup($0) }
    }

    func lookup(_ key: [UInt8]) -> Int32? {
        key.withUnsafeBufferPointer { lookup($0) }
    }
}

/// An open-addressing hash table from a pair of token ids to a merge (its rank and the merged token's id).
struct MergeTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(minimumCapacity: Int) {
        var size = 16
        while size < minimumCapacity * 2 { size <<= 1 }
        keys = Array(repeating: MergeTable.empty, count: size)
        values = Array(repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return Int(truncatingIfNeeded: h) & mask
    }

    /// Inserts or replaces (a later duplicate merge wins, as in Hugging Face's HashMap collection).
    mutating func insert(left: Int32, right: Int32, rank: UInt32, merged: Int32) {
        let k = MergeTable.key(left, right)
        var index = MergeTable.slot(k, mask)
        while keys[index] != MergeTable.empty && keys[index] != k { index = (index + 1) & mask }
        if keys[index] == MergeTable.empty { count += 1 }
        keys[index] = k
        values[index] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// The merge for (left, right): rank in the high 32 bits, merged id in the low 32 bits.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64? {
        let k = MergeTable.key(left, right)
        return keys.withUnsafeBufferPointer { kp in
            var index = MergeTable.slot(k, mask)
            while true {
                let found = kp[index]
                if found == k { return values[index] }
                if found == MergeTable.empty { return nil }
                index = (index + 1) & mask
            }
        }
    }
}
