/// GPT-2's reversible byte-to-character map (`bytes_to_unicode`): printable Latin-1 bytes map to themselves, the
/// other 68 bytes to U+0100...U+0143 in byte order.
enum ByteLevelAlphabet {
    /// The scalar each byte maps to.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = 256 + n
                n += 1
            }
        }
        return table
    }()

    /// UTF-8 of each byte's character, for fast transformation.
    static let utf8ForByte: [[UInt8]] = scalarForByte.map { v in
        var out: [UInt8] = []
        appendUTF8(Unicode.Scalar(v)!, to: &out)
        return out
    }

    /// The byte each alphabet character stands for (indexed by scalar value, -1 when not in the alphabet).
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, v) in scalarForByte.enumerated() { table[Int(v)] = Int16(b) }
        return table
    }()

    /// The byte for a character, or nil when it is not in the alphabet.
    @inline(__always)
    static func byte(for scalar: UInt32) -> UInt8? {
        guard scalar < 0x144 else { return nil }
        let b = byteForScalar[Int(scalar)]
        return b < 0 ? nil : UInt8(b)
    }

    /// Maps a token of the alphabet back to bytes; nil if any character is outside the alphabet.
    static func bytes(of token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            guard let b = byte(for: s.value) else { return nil }
            out.append(b)
        }
        return out
    }
}
