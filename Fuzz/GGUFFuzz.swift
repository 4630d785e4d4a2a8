// libFuzzer harness: the GGUF reader (GGUF module: every source file; it needs only Foundation). Input: a whole
// file, parsed in memory by `GGUFFile.parse` (what `GGUFFile(path:)` runs on the mapping). When a file is accepted,
// every tensor must lie inside the data section without overlapping another, its byte count must be its shape's,
// and writing the metadata back with `GGUFWriter` must read back as the same keys and value types.

import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func ggufFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    let parsed: GGUFFile.Parsed
    do { parsed = try bytes.withUnsafeBytes { try GGUFFile.parse($0) } } catch {
        fuzzCheck(error is GGUFError, "threw \(type(of: error)): \(error)")
        return 0
    }
    fuzzCheck(parsed.tensorNames.count == parsed.tensors.count, "tensor names and infos differ in number")
    fuzzCheck(parsed.keys.count == parsed.metadata.count, "keys and metadata differ in number")
    fuzzCheck(parsed.dataStart % parsed.alignment == 0, "data section not aligned")
    var ranges: [Range<Int>] = []
    for name in parsed.tensorNames {
        guard let info = parsed.tensors[name] else { fuzzCheck(false, "name \"\(name)\" has no tensor"); return 0 }
        fuzzCheck(info.byteCount == info.type.rowBytes(info.columns)! * info.rows, "\"\(name)\" size differs from its shape")
        fuzzCheck(parsed.dataStart + info.offset + info.byteCount <= bytes.count, "\"\(name)\" ends past the file")
        ranges.append(info.offset..<(info.offset + info.byteCount))
    }
    ranges.sort { $0.lowerBound < $1.lowerBound }
    for (a, b) in zip(ranges, ranges.dropFirst()) { fuzzCheck(a.upperBound <= b.lowerBound, "tensors overlap") }
    var writer = GGUFWriter()
    for key in parsed.keys { writer.add(key, parsed.metadata[key]!) }
    let again: GGUFFile.Parsed
    do { again = try writer.bytes().withUnsafeBytes { try GGUFFile.parse($0) } } catch {
        fuzzCheck(false, "rewritten metadata does not parse: \(error)")
        return 0
    }
    fuzzCheck(again.keys == parsed.keys, "rewritten keys differ")
    for key in parsed.keys {
        fuzzCheck(again.metadata[key]?.typeName == parsed.metadata[key]?.typeName, "rewritten \"\(key)\" differs in type")
    }
    return 0
}
