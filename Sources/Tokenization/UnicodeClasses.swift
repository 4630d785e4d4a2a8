/// Character classes used by the pre-tokenizers and split patterns, with the exact definitions Hugging Face's
/// engines use: `\p{L}` (general category L*), `\p{N}` (N*), `\s` and Rust `char::is_whitespace` (White_Space),
/// `\w` (Alphabetic, M*, Nd, Pc, Join_Control) and Rust/`unicode_categories` punctuation (P* or ASCII punctuation).
/// Basic Multilingual Plane scalars are looked up in a table built once; others query the scalar properties.
enum CharClass {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let whitespace: UInt8 = 4
    static let punctuation: UInt8 = 8
    static let word: UInt8 = 16
    static let mark: UInt8 = 32
    static let newline: UInt8 = 64   // \r or \n

    /// Flags for every BMP scalar (surrogates get 0). Written once at first use and never freed or changed
    /// afterwards, so sharing the pointer between threads is safe; hot loops load it once into a local (each
    /// access to a global goes through swift_once).
    nonisolated(unsafe) static let bmpTable: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        for v in 0..<0x10000 {
            guard let scalar = Unicode.Scalar(UInt32(v)) else { table[v] = 0; continue }
            table[v] = computeFlags(scalar)
        }
        return UnsafePointer(table)
    }()

    static func computeFlags(_ scalar: Unicode.Scalar) -> UInt8 {
        let p = scalar.properties
        var f: UInt8 = 0
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            f |= letter
        case .decimalNumber, .letterNumber, .otherNumber:
            f |= number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation:
            f |= punctuation
        case .nonspacingMark, .spacingMark, .enclosingMark:
            f |= mark
        default:
            break
        }
        if scalar.value < 0x80 {
            let v = scalar.value
            // Rust char::is_ascii_punctuation: every printable non-alphanumeric ASCII character.
            if (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v)
                || (0x7B...0x7E).contains(v) {
                f |= punctuation
            }
        }
        if p.isWhitespace { f |= whitespace }
        if p.isAlphabetic || f & mark != 0 || p.generalCategory == .decimalNumber
            || p.generalCategory == .connectorPunctuation || p.isJoinControl {
            f |= word
        }
        if scalar.value == 0x0A || scalar.value == 0x0D { f |= newline }
        return f
    }

    @inline(__always)
    static func flags(_ scalar: UInt32) -> UInt8 {
        flags(scalar, table: bmpTable)
    }

    /// `flags` with the table already loaded.
    @inline(__always)
    static func flags(_ scalar: UInt32, table: UnsafePointer<UInt8>) -> UInt8 {
        if scalar < 0x10000 { return table[Int(scalar)] }
        guard let s = Unicode.Scalar(scalar) else { return 0 }
        return computeFlags(s)
    }
}

// MARK: - UTF-8

/// Length in bytes of the UTF-8 sequence that starts with `lead` (input assumed valid UTF-8).
@inline(__always)
func utf8SequenceLength(_ lead: UInt8) -> Int {
    if lead < 0x80 { return 1 }
    if lead < 0xE0 { return 2 }
    if lead < 0xF0 { return 3 }
    return 4
}

/// Decodes the scalar at `i` of valid UTF-8; returns the scalar value and its length.
@inline(__always)
func decodeScalar(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
    let b0 = p[i]
    if b0 < 0x80 { return (UInt32(b0), 1) }
    if b0 < 0xE0 {
        return (UInt32(b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2)
    }
    if b0 < 0xF0 {
        return (UInt32(b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
    }
    return (UInt32(b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
            | UInt32(p[i + 3] & 0x3F), 4)
}

/// Start of the scalar that ends just before `i` (valid UTF-8).
@inline(__always)
func previousScalarStart(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
    var j = i - 1
    while j > 0 && p[j] & 0xC0 == 0x80 { j -= 1 }
    return j
}

func appendUTF8(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
    let v = scalar.value
    if v < 0x80 {
        out.append(UInt8(v))
    } else if v < 0x800 {
        out.append(UInt8(0xC0 | v >> 6)); out.append(UInt8(0x80 | v & 0x3F))
    } else if v < 0x10000 {
        out.append(UInt8(0xE0 | v >> 12)); out.append(UInt8(0x80 | v >> 6 & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
    } else {
        out.append(UInt8(0xF0 | v >> 18)); out.append(UInt8(0x80 | v >> 12 & 0x3F))
        out.append(UInt8(0x80 | v >> 6 & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
    }
}

/// Incremental UTF-8 decoding with replacement: invalid input becomes U+FFFD, one per maximal subpart of an
/// ill-formed sequence (Unicode 3.9, "U+FFFD substitution of maximal subparts"), which is what Rust's
/// `String::from_utf8_lossy` does. Fed byte by byte it produces exactly what decoding all bytes at once produces,
/// and it never outputs part of a character: incomplete sequences wait in `pending`.
struct UTF8Repairer: Sendable {
    private var pending: [UInt8] = []
    private var needed = 0          // continuation bytes still expected
    private var lower: UInt8 = 0x80 // allowed range of the next continuation byte
    private var upper: UInt8 = 0xBF

    static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    var hasPending: Bool { !pending.isEmpty }

    mutating func feed(_ byte: UInt8, into out: inout [UInt8]) {
        if needed > 0 {
            if byte >= lower && byte <= upper {
                pending.append(byte)
                needed -= 1
                lower = 0x80; upper = 0xBF
                if needed == 0 {
                    out.append(contentsOf: pending)
                    pending.removeAll(keepingCapacity: true)
                }
                return
            }
            // The pending bytes are a maximal subpart: one replacement, then reconsider this byte.
            out.append(contentsOf: UTF8Repairer.replacement)
            pending.removeAll(keepingCapacity: true)
            needed = 0
            lower = 0x80; upper = 0xBF
        }
        switch byte {
        case 0x00...0x7F:
            out.append(byte)
        case 0xC2...0xDF:
            pending.append(byte); needed = 1
        case 0xE0:
            pending.append(byte); needed = 2; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF:
            pending.append(byte); needed = 2
        case 0xED:
            pending.append(byte); needed = 2; upper = 0x9F
        case 0xF0:
            pending.append(byte); needed = 3; lower = 0x90
        case 0xF1...0xF3:
            pending.append(byte); needed = 3
        case 0xF4:
            pending.append(byte); needed = 3; upper = 0x8F
        default:
            out.append(contentsOf: UTF8Repairer.replacement)
        }
    }

    /// End of input: an incomplete sequence becomes one U+FFFD.
    mutating func finish(into out: inout [UInt8]) {
        if !pending.isEmpty {
            out.append(contentsOf: UTF8Repairer.replacement)
            pending.removeAll()
            needed = 0
            lower = 0x80; upper = 0xBF
        }
    }

    /// Lossy decoding of a whole byte string.
    static func decode(_ bytes: [UInt8]) -> String {
        var repairer = UTF8Repairer()
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes { repairer.feed(b, into: &out) }
        repairer.finish(into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
