/// A set of bytes as 256 bits.
struct ByteSet: Hashable, Sendable {
    var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    init() {}

    init(_ ranges: [ClosedRange<UInt8>]) {
        for r in ranges { for b in r { insert(b) } }
    }

    @inline(__always)
    func contains(_ b: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: return w0 & bit != 0
        case 1: return w1 & bit != 0
        case 2: return w2 & bit != 0
        default: return w3 & bit != 0
        }
    }

    mutating func insert(_ b: UInt8) {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: w0 |= bit
        case 1: w1 |= bit
        case 2: w2 |= bit
        default: w3 |= bit
        }
    }

    mutating func formUnion(_ o: ByteSet) { w0 |= o.w0; w1 |= o.w1; w2 |= o.w2; w3 |= o.w3 }

    var isEmpty: Bool { w0 | w1 | w2 | w3 == 0 }
}

/// UTF-8 encodings of code point ranges as sequences of byte ranges (the split regex engines use: each sequence is
/// a product of byte ranges, and the sequences together encode exactly the range's scalars, surrogates excluded).
enum UTF8Ranges {
    static func sequences(_ ranges: [ClosedRange<UInt32>], negated: Bool) -> [[ClosedRange<UInt8>]] {
        var scalarRanges = normalize(ranges)
        if negated { scalarRanges = complement(scalarRanges) }
        var out: [[ClosedRange<UInt8>]] = []
        for r in scalarRanges {
            for (lo, hi) in [(UInt32(0), UInt32(0x7F)), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF),
                             (0x10000, 0x10FFFF)] {
                let a = max(lo, r.lowerBound), b = min(hi, r.upperBound)
                if a <= b { split(a, b, into: &out) }
            }
        }
        return out
    }

    /// Sorted, merged, clipped to Unicode.
    static func normalize(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        let sorted = ranges.compactMap { r -> ClosedRange<UInt32>? in
            r.lowerBound > 0x10FFFF ? nil : r.lowerBound...min(r.upperBound, 0x10FFFF)
        }.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<UInt32>] = []
        for r in sorted {
            if let last = merged.last, r.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        return merged
    }

    static func complement(_ sorted: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in sorted {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            next = r.upperBound + 1
        }
        if next <= 0x10FFFF { out.append(next...0x10FFFF) }
        return out
    }

    private static func length(_ c: UInt32) -> Int { c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4 }

    private static func encode(_ c: UInt32) -> [UInt8] {
        switch length(c) {
        case 1: return [UInt8(c)]
        case 2: return [UInt8(0xC0 | c >> 6), UInt8(0x80 | c & 0x3F)]
        case 3: return [UInt8(0xE0 | c >> 12), UInt8(0x80 | (c >> 6) & 0x3F), UInt8(0x80 | c & 0x3F)]
        default:
            return [UInt8(0xF0 | c >> 18), UInt8(0x80 | (c >> 12) & 0x3F), UInt8(0x80 | (c >> 6) & 0x3F),
                    UInt8(0x80 | c & 0x3F)]
        }
    }

    /// lo...hi, both of one encoded length.
    private static func split(_ lo: UInt32, _ hi: UInt32, into out: inout [[ClosedRange<UInt8>]]) {
        let n = length(lo)
        if n > 1 {
            for i in 1..<n {
                let m: UInt32 = (1 << (6 * UInt32(i))) - 1
                if lo & ~m != hi & ~m {
                    if lo & m != 0 {
                        split(lo, lo | m, into: &out)
                        split((lo | m) + 1, hi, into: &out)
                        return
                    }
                    if hi & m != m {
                        split(lo, (hi & ~m) - 1, into: &out)
                        split(hi & ~m, hi, into: &out)
                        return
                    }
                }
            }
        }
        let a = encode(lo), b = encode(hi)
        out.append(zip(a, b).map { $0...$1 })
    }
}
