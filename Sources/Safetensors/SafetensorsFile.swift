import Foundation

/// One tensor's place in a safetensors file.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let dataOffsets: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file (read-only). The header is validated completely on open, so every tensor view
/// handed out afterwards lies inside the file. Hostile files are refused with a `SafetensorsError`, never a crash.
public final class SafetensorsFile: @unchecked Sendable {
    // @unchecked Sendable: the mapping is read-only (PROT_READ) and immutable after init; it is unmapped in deinit.

    /// Headers larger than this are refused (the format's reference implementation uses the same bound).
    public static let maximumHeaderBytes = 100_000_000

    public let path: String
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]
    /// Tensor names in file order (by data offset).
    public let names: [String]

    private let base: UnsafeRawPointer?
    private let mappedLength: Int
    private let dataStart: Int

    public convenience init(url: URL) throws { try self.init(path: url.path) }

    public init(path: String) throws {
        let name = (path as NSString).lastPathComponent
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw SafetensorsError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafetensorsError("cannot stat \(path)") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SafetensorsError("\(name) is not a regular file") }
        let fileSize = Int(st.st_size)
        guard fileSize >= 8 else {
            throw SafetensorsError("\(name) is \(fileSize) bytes, too short for a safetensors header")
        }
        guard let map = mmap(nil, fileSize, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw SafetensorsError("cannot map \(name): \(String(cString: strerror(errno)))")
        }
        let raw = UnsafeRawPointer(map)
        do {
            let parsed = try Self.parseHeader(raw, fileSize: fileSize, name: name)
            self.tensors = parsed.tensors
            self.metadata = parsed.metadata
            self.dataStart = parsed.dataStart
            self.names = parsed.tensors.values.sorted(by: Self.fileOrder).map(\.name)
        } catch {
            munmap(map, fileSize)
            throw error
        }
        self.path = path
        self.base = raw
        self.mappedLength = fileSize
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }
    }

    /// Asks the kernel to start reading the whole data section now (`MADV_WILLNEED`), for callers that will touch
    /// every tensor once: the reads then run ahead of the widening instead of one page fault at a time.
    public func willReadAll() {
        guard let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = dataStart / page * page
        guard mappedLength > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), mappedLength - start, MADV_WILLNEED)
    }

    /// Raw bytes of a tensor, valid while this file object lives.
    public func rawBytes(_ info: TensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base! + dataStart + info.dataOffsets.lowerBound, count: info.dataOffsets.count)
    }

    private struct ParsedHeader {
        var tensors: [String: TensorInfo]
        var metadata: [String: String]
        var dataStart: Int
    }

    private static func parseHeader(_ raw: UnsafeRawPointer, fileSize: Int, name: String) throws -> ParsedHeader {
        var length: UInt64 = 0
        memcpy(&length, raw, 8)
        length = UInt64(littleEndian: length)
        guard length <= UInt64(maximumHeaderBytes) else {
            throw SafetensorsError("\(name): header claims \(length) bytes, over the \(maximumHeaderBytes)-byte limit")
        }
        let headerLength = Int(length)
        guard 8 + headerLength <= fileSize else {
            throw SafetensorsError("\(name): header claims \(headerLength) bytes, file is only \(fileSize) bytes")
        }
        let headerData = Data(bytes: raw + 8, count: headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData, options: [])
        } catch {
            throw SafetensorsError("\(name): header is not valid JSON")
        }
        guard let object = json as? [String: Any] else {
            throw SafetensorsError("\(name): header is not a JSON object")
        }
        let dataSize = fileSize - 8 - headerLength
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in object {
            if key == "__metadata__" {
                guard let dict = value as? [String: Any] else {
                    throw SafetensorsError("\(name): __metadata__ is not an object")
                }
                for (k, v) in dict {
                    guard let s = v as? String else {
                        throw SafetensorsError("\(name): __metadata__ value for \"\(k)\" is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            tensors[key] = try parseEntry(key, value, dataSize: dataSize, file: name)
        }
        // Offsets must not overlap: sorted by start, each begins at or after the previous end.
        let sorted = tensors.values.sorted(by: fileOrder)
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.dataOffsets.lowerBound < a.dataOffsets.upperBound {
            throw SafetensorsError("\(name): tensors \"\(a.name)\" and \"\(b.name)\" overlap in the data section")
        }
        return ParsedHeader(tensors: tensors, metadata: metadata, dataStart: 8 + headerLength)
    }

    /// By data offset; a zero-size tensor sorts before a tensor starting at the same offset (so it is no overlap).
    private static func fileOrder(_ a: TensorInfo, _ b: TensorInfo) -> Bool {
        (a.dataOffsets.lowerBound, a.dataOffsets.upperBound, a.name) < (b.dataOffsets.lowerBound, b.dataOffsets.upperBound, b.name)
    }

    private static func parseEntry(_ key: String, _ value: Any, dataSize: Int, file: String) throws -> TensorInfo {
        guard let entry = value as? [String: Any] else {
            throw SafetensorsError("\(file): entry for tensor \"\(key)\" is not an object")
        }
        guard let dtypeName = entry["dtype"] as? String else {
            throw SafetensorsError("\(file): tensor \"\(key)\" has no dtype")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SafetensorsError("\(file): tensor \"\(key)\" has unknown dtype \"\(dtypeName)\"")
        }
        guard let shapeValues = entry["shape"] as? [Any] else {
            throw SafetensorsError("\(file): tensor \"\(key)\" has no shape")
        }
        var shape: [Int] = []
        var elements = 1
        for dim in shapeValues {
            guard let d = exactInt(dim), d >= 0 else {
                throw SafetensorsError("\(file): tensor \"\(key)\" has an invalid shape \(shapeValues)")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw SafetensorsError("\(file): tensor \"\(key)\" shape overflows") }
            elements = product
            shape.append(d)
        }
        guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
              let begin = exactInt(offsets[0]), let end = exactInt(offsets[1]) else {
            throw SafetensorsError("\(file): tensor \"\(key)\" has no valid data_offsets")
        }
        guard begin >= 0, begin <= end else {
            throw SafetensorsError("\(file): tensor \"\(key)\" has data_offsets [\(begin), \(end)] out of order")
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes == end - begin else {
            throw SafetensorsError(
                "\(file): tensor \"\(key)\" shape \(shape) of \(dtypeName) needs \(overflow ? "too many" : "\(bytes)") bytes, data_offsets give \(end - begin)")
        }
        guard end <= dataSize else {
            throw SafetensorsError(
                "\(file): tensor \"\(key)\" ends at byte \(end) of the data section, which holds only \(dataSize) bytes (truncated file?)")
        }
        return TensorInfo(name: key, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// JSON numbers arrive as NSNumber; accept only exact non-fractional integers in Int range.
    private static func exactInt(_ value: Any) -> Int? {
        guard let n = value as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 9.0e15 else { return nil }
        return n.intValue
    }
}
