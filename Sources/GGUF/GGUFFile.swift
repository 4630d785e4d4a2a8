import Foundation

/// One tensor's place in a GGUF file. `shape` is in ggml order: `shape[0]` is the innermost (contiguous) dimension,
/// so an HF weight [out, in] is stored with shape [in, out].
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let type: GGMLType
    public let shape: [Int]
    /// Byte offset from the start of the data section (a multiple of the file's alignment).
    public let offset: Int
    /// Bytes of data: rows × the bytes of one row of `shape[0]` elements.
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
    /// Elements per row (`shape[0]`).
    public var columns: Int { shape.first ?? 1 }
    /// Rows: the product of the outer dimensions.
    public var rows: Int { shape.dropFirst().reduce(1, *) }
}

/// A memory-mapped GGUF file (versions 2 and 3, little-endian), read-only. Header, metadata and tensor infos are
/// validated completely on open (counts, lengths, dimensions and offsets checked against the file before use), so
/// every tensor view handed out afterwards lies inside the file. Hostile files are refused with a `GGUFError`.
public final class GGUFFile: @unchecked Sendable {
    // @unchecked Sendable: the mapping is read-only (PROT_READ) and immutable after init; it is unmapped in deinit.

    /// Metadata arrays hold at most this many elements in all (a 256k-token vocabulary with its merges needs ~1M).
    public static let maximumArrayElements = 16 << 20
    /// Nested arrays deeper than this are refused.
    public static let maximumNesting = 8
    /// ggml keeps tensor names in 64 bytes; longer names are refused.
    public static let maximumTensorNameBytes = 64
    public static let maximumKeyBytes = 65536

    public let path: String
    public let version: Int
    /// Metadata by key, and the keys in file order.
    public let metadata: [String: GGUFValue]
    public let keys: [String]
    public let tensors: [String: GGUFTensorInfo]
    /// Tensor names in file order.
    public let tensorNames: [String]
    /// `general.alignment` (32 when absent).
    public let alignment: Int
    /// Byte offset of the data section in the file.
    public let dataStart: Int
    public let fileSize: Int

    private let base: UnsafeRawPointer?

    public convenience init(url: URL) throws { try self.init(path: url.path) }

    public init(path: String) throws {
        let name = (path as NSString).lastPathComponent
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GGUFError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GGUFError("cannot stat \(path)") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw GGUFError("\(name) is not a regular file") }
        let size = Int(st.st_size)
        guard size >= 24 else { throw GGUFError("\(name) is \(size) bytes, too short for a GGUF header") }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw GGUFError("cannot map \(name): \(String(cString: strerror(errno)))")
        }
        let raw = UnsafeRawPointer(map)
        do {
            let p = try Self.parse(UnsafeRawBufferPointer(start: raw, count: size))
            version = p.version
            metadata = p.metadata
            keys = p.keys
            tensors = p.tensors
            tensorNames = p.tensorNames
            alignment = p.alignment
            dataStart = p.dataStart
        } catch let e as GGUFError {
            munmap(map, size)
            throw GGUFError("\(name): \(e.description)")
        }
        self.path = path
        fileSize = size
        base = raw
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), fileSize) }
    }

    /// Raw bytes of a tensor of this file, valid while this object lives.
    public func rawBytes(_ info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        precondition(tensors[info.name] == info, "tensor \(info.name) is not from this file")
        return UnsafeRawBufferPointer(start: base! + dataStart + info.offset, count: info.byteCount)
    }

    /// The file's header: magic, counts, metadata and tensor infos (everything before the data section).
    public var headerBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base!, count: min(dataStart, fileSize))
    }

    /// Asks the kernel to read the data section ahead (`MADV_WILLNEED`).
    public func willReadAll() {
        guard let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = dataStart / page * page
        guard fileSize > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), fileSize - start, MADV_WILLNEED)
    }

    // MARK: Typed metadata access (errors name the key)

    public func value(_ key: String) -> GGUFValue? { metadata[key] }

    public func string(_ key: String) throws -> String? {
        guard let v = metadata[key] else { return nil }
        guard let s = v.string else { throw GGUFError("metadata \"\(key)\" is \(v.typeName), expected string") }
        return s
    }

    public func int(_ key: String) throws -> Int? {
        guard let v = metadata[key] else { return nil }
        guard let i = v.int else { throw GGUFError("metadata \"\(key)\" is \(v.typeName), expected an integer") }
        return i
    }

    public func double(_ key: String) throws -> Double? {
        guard let v = metadata[key] else { return nil }
        guard let d = v.double else { throw GGUFError("metadata \"\(key)\" is \(v.typeName), expected a number") }
        return d
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let v = metadata[key] else { return nil }
        guard let b = v.bool else { throw GGUFError("metadata \"\(key)\" is \(v.typeName), expected bool") }
        return b
    }

    public func array(_ key: String) throws -> [GGUFValue]? {
        guard let v = metadata[key] else { return nil }
        guard let a = v.array else { throw GGUFError("metadata \"\(key)\" is \(v.typeName), expected an array") }
        return a
    }

    public func requiredInt(_ key: String) throws -> Int {
        guard let i = try int(key) else { throw GGUFError("metadata \"\(key)\" is missing") }
        return i
    }

    public func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw GGUFError("metadata \"\(key)\" is missing") }
        return s
    }

    // MARK: Parsing

    struct Parsed {
        var version = 0
        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        var tensors: [String: GGUFTensorInfo] = [:]
        var tensorNames: [String] = []
        var alignment = 32
        var dataStart = 0
    }

    /// Parses and validates a whole file held in `bytes`.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> Parsed {
        var c = ByteCursor(bytes)
        var p = Parsed()
        let magic = try c.read(UInt32.self, "the magic")
        guard magic == 0x4655_4747 else { throw GGUFError("not a GGUF file (no \"GGUF\" magic)") }
        let version = try c.read(UInt32.self, "the version")
        if version.byteSwapped == 2 || version.byteSwapped == 3 {
            throw GGUFError("big-endian GGUF files are not supported")
        }
        guard version == 2 || version == 3 else {
            throw GGUFError("GGUF version \(version) is not supported (versions 2 and 3 are)")
        }
        p.version = Int(version)
        let tensorCount = try c.count("the tensor count")
        let keyCount = try c.count("the metadata count")
        // Each metadata entry takes at least 13 bytes (key length, type, a 1-byte value); each tensor info 28.
        guard keyCount <= c.remaining / 13 else {
            throw GGUFError("header claims \(keyCount) metadata entries, the file has room for at most \(c.remaining / 13)")
        }
        var budget = maximumArrayElements
        for i in 0..<keyCount {
            let key = try c.string("metadata key \(i)", maxBytes: maximumKeyBytes)
            guard p.metadata[key] == nil else { throw GGUFError("metadata \"\(key)\" appears twice") }
            let type = try c.read(UInt32.self, "the type of metadata \"\(key)\"")
            p.metadata[key] = try value(&c, type: type, key: key, depth: 0, budget: &budget)
            p.keys.append(key)
        }
        if let a = p.metadata["general.alignment"] {
            guard case .uint32(let v) = a else {
                throw GGUFError("metadata \"general.alignment\" is \(a.typeName), expected uint32")
            }
            guard v > 0, v & (v - 1) == 0, v <= 1 << 30 else {
                throw GGUFError("metadata \"general.alignment\" is \(v), not a power of two up to 2^30")
            }
            p.alignment = Int(v)
        }
        guard tensorCount <= c.remaining / 28 else {
            throw GGUFError("header claims \(tensorCount) tensors, the file has room for at most \(c.remaining / 28)")
        }
        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(tensorCount)
        for i in 0..<tensorCount {
            let info = try tensorInfo(&c, index: i, alignment: p.alignment)
            guard p.tensors[info.name] == nil else { throw GGUFError("tensor \"\(info.name)\" appears twice") }
            p.tensors[info.name] = info
            p.tensorNames.append(info.name)
            infos.append(info)
        }
        let end = c.offset
        let dataStart = (end + p.alignment - 1) / p.alignment * p.alignment
        p.dataStart = dataStart
        let dataBytes = max(0, bytes.count - dataStart)
        var previousEnd = 0
        var previousName = ""
        for info in infos.sorted(by: { $0.offset < $1.offset }) {
            guard info.offset <= dataBytes, info.byteCount <= dataBytes - info.offset else {
                throw GGUFError("tensor \"\(info.name)\" (\(info.byteCount) bytes at data offset \(info.offset)) "
                    + "runs past the end of the file (data section \(dataBytes) bytes)")
            }
            guard info.offset >= previousEnd else {
                throw GGUFError("tensor \"\(info.name)\" overlaps tensor \"\(previousName)\"")
            }
            previousEnd = info.offset + info.byteCount
            previousName = info.name
        }
        return p
    }

    private static func tensorInfo(_ c: inout ByteCursor, index i: Int, alignment: Int) throws -> GGUFTensorInfo {
        let name = try c.string("the name of tensor \(i)", maxBytes: maximumTensorNameBytes)
        let dims = try c.read(UInt32.self, "the dimension count of tensor \"\(name)\"")
        guard (1...4).contains(dims) else {
            throw GGUFError("tensor \"\(name)\" has \(dims) dimensions (1 to 4 are allowed)")
        }
        var shape: [Int] = []
        var elements = 1
        for d in 0..<Int(dims) {
            let n = try c.read(UInt64.self, "dimension \(d) of tensor \"\(name)\"")
            guard let v = Int(exactly: n), v > 0 else {
                throw GGUFError("tensor \"\(name)\" has dimension \(d) of \(n)")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: v)
            guard !overflow, product <= Int(Int32.max) * 1024 else {
                throw GGUFError("tensor \"\(name)\" has shape \(shape + [v]): too many elements")
            }
            elements = product
            shape.append(v)
        }
        let typeId = try c.read(UInt32.self, "the type of tensor \"\(name)\"")
        guard let type = GGMLType.withId(typeId) else {
            throw GGUFError("tensor \"\(name)\" has unknown type id \(typeId)")
        }
        guard let rowBytes = type.rowBytes(shape[0]) else {
            throw GGUFError("tensor \"\(name)\" of type \(type) has rows of \(shape[0]) elements, "
                + "not a multiple of its block size \(type.blockElements)")
        }
        let (byteCount, overflow) = rowBytes.multipliedReportingOverflow(by: elements / shape[0])
        guard !overflow else { throw GGUFError("tensor \"\(name)\" is too large") }
        let offset = try c.read(UInt64.self, "the offset of tensor \"\(name)\"")
        guard let off = Int(exactly: offset), off % alignment == 0 else {
            throw GGUFError("tensor \"\(name)\" has data offset \(offset), not a multiple of the alignment \(alignment)")
        }
        return GGUFTensorInfo(name: name, type: type, shape: shape, offset: off, byteCount: byteCount)
    }

    private static func value(_ c: inout ByteCursor, type: UInt32, key: String, depth: Int,
                              budget: inout Int) throws -> GGUFValue {
        let what = "the value of metadata \"\(key)\""
        switch type {
        case 0: return .uint8(try c.read(UInt8.self, what))
        case 1: return .int8(try c.read(Int8.self, what))
        case 2: return .uint16(try c.read(UInt16.self, what))
        case 3: return .int16(try c.read(Int16.self, what))
        case 4: return .uint32(try c.read(UInt32.self, what))
        case 5: return .int32(try c.read(Int32.self, what))
        case 6: return .float32(Float(bitPattern: try c.read(UInt32.self, what)))
        case 7:
            let b = try c.read(UInt8.self, what)
            guard b <= 1 else { throw GGUFError("metadata \"\(key)\" has bool value \(b) (0 or 1 expected)") }
            return .bool(b == 1)
        case 8: return .string(try c.string(what))
        case 9:
            guard depth < maximumNesting else {
                throw GGUFError("metadata \"\(key)\" nests arrays deeper than \(maximumNesting)")
            }
            let elementType = try c.read(UInt32.self, "the element type of metadata \"\(key)\"")
            let n = try c.count("the length of metadata \"\(key)\"")
            // The smallest element of each type, to bound the count by the bytes left before allocating.
            let minimum: Int
            switch elementType {
            case 0, 1, 7: minimum = 1
            case 2, 3: minimum = 2
            case 4, 5, 6: minimum = 4
            case 8, 10, 11, 12: minimum = 8
            case 9: minimum = 12
            default: throw GGUFError("metadata \"\(key)\" is an array of unknown type \(elementType)")
            }
            guard n <= c.remaining / minimum else {
                throw GGUFError("metadata \"\(key)\" claims \(n) elements, the file has room for at most "
                    + "\(c.remaining / minimum)")
            }
            guard n <= budget else {
                throw GGUFError("metadata \"\(key)\" has \(n) elements: metadata arrays are limited to "
                    + "\(maximumArrayElements) elements in all")
            }
            budget -= n
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n {
                items.append(try value(&c, type: elementType, key: key, depth: depth + 1, budget: &budget))
            }
            return .array(elementType: elementType, items)
        case 10: return .uint64(try c.read(UInt64.self, what))
        case 11: return .int64(try c.read(Int64.self, what))
        case 12: return .float64(Double(bitPattern: try c.read(UInt64.self, what)))
        default: throw GGUFError("metadata \"\(key)\" has unknown value type \(type)")
        }
    }
}
