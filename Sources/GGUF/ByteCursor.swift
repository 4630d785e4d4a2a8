/// Reads little-endian values from untrusted bytes; every read is bounds-checked and throws past the end.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func skip(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else { throw GGUFError("file ends inside \(what())") }
        offset += n
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw GGUFError("file ends inside \(what())") }
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: v)
    }

    /// A u64 that must fit an Int.
    mutating func count(_ what: @autoclosure () -> String) throws -> Int {
        let v = try read(UInt64.self, what())
        guard let n = Int(exactly: v) else { throw GGUFError("\(what()) is \(v), more than any file can hold") }
        return n
    }

    /// A GGUF string: u64 length, then that many bytes (UTF-8; invalid sequences are replaced, as Python's "replace").
    mutating func string(_ what: @autoclosure () -> String, maxBytes: Int = Int.max) throws -> String {
        let n = try count("the length of \(what())")
        guard n <= maxBytes else { throw GGUFError("\(what()) is \(n) bytes long, the limit is \(maxBytes)") }
        guard n <= remaining else {
            throw GGUFError("\(what()) claims \(n) bytes, only \(remaining) remain in the file")
        }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]), as: UTF8.self)
        offset += n
        return s
    }
}
