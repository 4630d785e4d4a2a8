import Foundation
import Safetensors
import Testing
import TestSupport

/// Files built by hand (length field + header + data) that must be refused with a precise SafetensorsError.
@Suite struct HostileFileTests {
    struct Case: Sendable, CustomStringConvertible {
        let description: String
        /// Header text; nil for the cases that are not built from a header.
        var header: String? = nil
        var data: [UInt8] = []
        var claimedLength: UInt64? = nil
        /// Literal file bytes (used instead of header/data when set).
        var rawBytes: [UInt8]? = nil
        let expected: [String]
    }

    static func tensor(_ name: String, _ dtype: String, _ shape: String, _ offsets: String) -> String {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}"
    }

    static let cases: [Case] = [
        Case(description: "shorter than 8 bytes", rawBytes: [1, 2, 3],
             expected: ["f.safetensors", "3 bytes", "too short"]),
        Case(description: "empty file", rawBytes: [], expected: ["0 bytes", "too short"]),
        Case(description: "header beyond the file", header: "{}", claimedLength: 100,
             expected: ["header claims 100 bytes", "file is only 10 bytes"]),
        Case(description: "header over 100 MB", header: "{}", claimedLength: 200_000_000,
             expected: ["200000000", "over the", "100000000"]),
        Case(description: "length field UInt64.max", header: "{}", claimedLength: UInt64.max,
             expected: ["\(UInt64.max)", "over the"]),
        Case(description: "zero-length header", header: "", expected: ["not valid JSON"]),
        Case(description: "bad JSON", header: "{\"t\": {\"dtype\": ", expected: ["f.safetensors", "not valid JSON"]),
        Case(description: "header is an array", header: "[1, 2, 3]", expected: ["not a JSON object"]),
        Case(description: "header is a string", header: "\"hello\"", expected: ["not"]),
        Case(description: "entry is not an object", header: "{\"t\": 5}", expected: ["\"t\"", "not an object"]),
        Case(description: "unknown dtype", header: "{\(tensor("t", "Q4", "[2]", "[0,2]"))}", data: [0, 0],
             expected: ["\"t\"", "unknown dtype \"Q4\""]),
        Case(description: "missing dtype", header: "{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0],
             expected: ["\"t\"", "no dtype"]),
        Case(description: "missing shape", header: "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0],
             expected: ["\"t\"", "no shape"]),
        Case(description: "shape/byte-length mismatch", header: "{\(tensor("t", "F32", "[2,3]", "[0,20]"))}",
             data: Array(repeating: 0, count: 20),
             expected: ["\"t\"", "needs 24 bytes, data_offsets give 20"]),
        Case(description: "data_offsets out of order", header: "{\(tensor("t", "F32", "[1]", "[8,4]"))}",
             data: Array(repeating: 0, count: 8), expected: ["\"t\"", "out of order"]),
        Case(description: "negative data offset", header: "{\(tensor("t", "F32", "[1]", "[-4,0]"))}",
             data: Array(repeating: 0, count: 8), expected: ["\"t\"", "out of order"]),
        Case(description: "overlapping offsets",
             header: "{\(tensor("a", "F32", "[2]", "[0,8]")),\(tensor("b", "F32", "[2]", "[4,12]"))}",
             data: Array(repeating: 0, count: 12), expected: ["\"a\"", "\"b\"", "overlap"]),
        Case(description: "truncated data", header: "{\(tensor("t", "F32", "[4]", "[0,16]"))}",
             data: Array(repeating: 0, count: 8), expected: ["\"t\"", "16", "only 8 bytes", "truncated"]),
        Case(description: "negative shape", header: "{\(tensor("t", "F32", "[-1]", "[0,4]"))}",
             data: Array(repeating: 0, count: 4), expected: ["\"t\"", "invalid shape"]),
        Case(description: "fractional shape", header: "{\(tensor("t", "F32", "[2.5]", "[0,10]"))}",
             data: Array(repeating: 0, count: 10), expected: ["\"t\"", "invalid shape"]),
        Case(description: "string in shape", header: "{\(tensor("t", "F32", "[\"2\"]", "[0,8]"))}",
             data: Array(repeating: 0, count: 8), expected: ["\"t\"", "invalid shape"]),
        Case(description: "shape product overflow",
             header: "{\(tensor("t", "F32", "[4294967296,4294967296,4]", "[0,4]"))}",
             data: Array(repeating: 0, count: 4), expected: ["\"t\"", "overflows"]),
        Case(description: "byte count overflow (elements fit, bytes do not)",
             header: "{\(tensor("t", "F64", "[1125899906842624,2048]", "[0,8]"))}",
             data: Array(repeating: 0, count: 8), expected: ["\"t\"", "too many"]),
        Case(description: "missing data_offsets", header: "{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}",
             data: [0, 0, 0, 0], expected: ["\"t\"", "no valid data_offsets"]),
        Case(description: "three data_offsets", header: "{\(tensor("t", "F32", "[1]", "[0,4,8]"))}",
             data: Array(repeating: 0, count: 8), expected: ["\"t\"", "no valid data_offsets"]),
        Case(description: "huge data offset", header: "{\(tensor("t", "F32", "[1]", "[0,1e30]"))}",
             data: Array(repeating: 0, count: 8), expected: ["\"t\"", "data_offsets"]),
        Case(description: "non-string metadata", header: "{\"__metadata__\":{\"format\":1}}",
             expected: ["__metadata__", "\"format\"", "not a string"]),
        Case(description: "metadata not an object", header: "{\"__metadata__\":[\"pt\"]}",
             expected: ["__metadata__", "not an object"]),
    ]

    @Test(arguments: cases)
    func hostileFileIsRefused(_ c: Case) throws {
        let dir = try Fixtures.temporaryDirectory("st-hostile")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("f.safetensors")
        if let raw = c.rawBytes {
            try Data(raw).write(to: url)
        } else {
            try RawFile.write(RawFile.bytes(header: c.header!, data: c.data, claimedLength: c.claimedLength), to: url)
        }
        expectSafetensorsError(c.expected, c.description) { _ = try SafetensorsFile(url: url) }
        // The same file refused through a model directory too.
        let store = dir.appendingPathComponent("model.safetensors")
        try FileManager.default.moveItem(at: url, to: store)
        expectSafetensorsError([], c.description + " (TensorStore)") { _ = try TensorStore.open(directory: dir) }
    }

    @Test func directoryIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory("st-dir")
        defer { try? FileManager.default.removeItem(at: dir) }
        let sub = dir.appendingPathComponent("model.safetensors")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        expectSafetensorsError(["model.safetensors", "not a regular file"]) { _ = try SafetensorsFile(url: sub) }
        expectSafetensorsError(["not a regular file"]) { _ = try TensorStore.open(directory: dir) }
    }

    @Test func nonexistentFileIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory("st-missing")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("nope.safetensors")
        expectSafetensorsError(["cannot open", "nope.safetensors", "No such file"]) { _ = try SafetensorsFile(url: url) }
    }

    /// A file that passes validation: header padded with spaces, trailing bytes after the last tensor tolerated.
    @Test func wellFormedHandBuiltFileIsAccepted() throws {
        let dir = try Fixtures.temporaryDirectory("st-good")
        defer { try? FileManager.default.removeItem(at: dir) }
        let header = "{\"__metadata__\":{\"format\":\"pt\"},\(Self.tensor("b", "F32", "[1]", "[4,8]")),"
            + "\(Self.tensor("a", "F32", "[1]", "[0,4]"))}   "
        let data = RawFile.littleEndianBytes([Float(1.5), -2.25])
        let url = try RawFile.write(RawFile.bytes(header: header, data: data), to: dir.appendingPathComponent("g.safetensors"))
        let file = try SafetensorsFile(url: url)
        #expect(file.names == ["a", "b"])
        #expect(file.metadata == ["format": "pt"])
        let store = try TensorStore(files: [file])
        #expect(try store.floats("a").values == [1.5])
        #expect(try store.floats("b").values == [-2.25])
    }
}
