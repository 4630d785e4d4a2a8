// libFuzzer harness: the safetensors header parser, compiled into a module named Safetensors from
// SafetensorsFile.swift, DType.swift and SafetensorsError.swift only (the reader needs nothing but Foundation;
// the writer and TensorStore, which need Kernels, are left out). Input: a whole file. SafetensorsFile maps files,
// so each input is written to one unlinked temporary file and opened through /proc/self/fd. When a file is
// accepted, every tensor must lie inside the data section and its bytes must be the input's bytes there.

import Foundation

enum SafetensorsFuzz {
    /// The scratch file: created once (in /dev/shm when there is one: rewriting a disk file is slow), unlinked at
    /// once so nothing is left behind, rewritten for each input.
    static let descriptor: CInt = {
        let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        var template = Array("\(directory)/lorad-fuzz-safetensors-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { fatalError("cannot create the fuzz scratch file: \(String(cString: strerror(errno)))") }
        unlink(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        return fd
    }()
    static let path = "/proc/self/fd/\(descriptor)"

    static func write(_ bytes: [UInt8]) {
        let written = bytes.withUnsafeBytes { ftruncate(descriptor, 0) == 0 ? pwrite(descriptor, $0.baseAddress, $0.count, 0) : -1 }
        guard written == bytes.count else { fatalError("cannot write the fuzz scratch file: \(String(cString: strerror(errno)))") }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func safetensorsFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    SafetensorsFuzz.write(bytes)
    let file: SafetensorsFile
    do { file = try SafetensorsFile(path: SafetensorsFuzz.path) } catch {
        fuzzCheck(error is SafetensorsError, "threw \(type(of: error)): \(error)")
        return 0
    }
    // Accepted: the length field is sane, so the data section starts right after the header.
    let headerLength = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
    let dataStart = 8 + headerLength
    fuzzCheck(file.names.count == file.tensors.count, "\(file.names.count) names for \(file.tensors.count) tensors")
    var previousEnd = 0
    for name in file.names {
        guard let info = file.tensors[name] else { fuzzCheck(false, "name \"\(name)\" has no tensor"); return 0 }
        let range = info.dataOffsets
        fuzzCheck(range.lowerBound >= previousEnd || range.isEmpty, "\"\(name)\" overlaps the tensor before it")
        previousEnd = max(previousEnd, range.upperBound)
        fuzzCheck(dataStart + range.upperBound <= bytes.count, "\"\(name)\" ends past the file")
        fuzzCheck(info.elementCount * info.dtype.byteSize == range.count, "\"\(name)\" size does not match its shape")
        let raw = file.rawBytes(info)
        fuzzCheck(raw.elementsEqual(bytes[(dataStart + range.lowerBound)..<(dataStart + range.upperBound)]),
                  "\"\(name)\" bytes differ from the file's")
    }
    return 0
}
