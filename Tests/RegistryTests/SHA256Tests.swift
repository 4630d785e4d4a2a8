import Foundation
import Registry
import Testing

/// The streaming SHA-256 against the FIPS 180-4 / NIST vectors, in one piece and in awkward chunks.
@Suite struct SHA256Tests {
    static let vectors: [(input: String, digest: String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ]

    @Test(arguments: 0..<4)
    func knownVector(_ index: Int) {
        let (input, digest) = Self.vectors[index]
        #expect(SHA256.hex(SHA256.hash(Array(input.utf8))) == digest)
        var streamed = SHA256()
        for byte in input.utf8 { streamed.update([byte]) }
        #expect(streamed.hexDigest() == digest)
    }

    @Test func millionAs() {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        let bytes = [UInt8](repeating: 0x61, count: 1_000_000)
        #expect(SHA256.hex(SHA256.hash(bytes)) == expected)
        // The same million bytes in chunks that straddle block boundaries every which way.
        var hasher = SHA256()
        var offset = 0
        var step = 1
        while offset < bytes.count {
            let n = min(step, bytes.count - offset)
            bytes[offset..<offset + n].withUnsafeBytes { hasher.update($0) }
            offset += n
            step = step % 131 + 7
        }
        #expect(hasher.hexDigest() == expected)
    }

    @Test func finalizeLeavesTheHasherUsable() {
        var hasher = SHA256()
        hasher.update("ab")
        _ = hasher.finalize()
        hasher.update("c")
        #expect(hasher.hexDigest() == Self.vectors[1].digest)
    }

    /// Message lengths around the padding boundaries (55, 56, 63, 64, 65 bytes ...) against the system's sha256sum.
    @Test func paddingBoundariesMatchSha256sum() throws {
        let tool = "/usr/bin/sha256sum"
        guard FileManager.default.isExecutableFile(atPath: tool) else { return }
        var generator = SystemRandomNumberGenerator()
        for length in [55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 70_001] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: file) }
            try Data(bytes).write(to: file)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = [file.path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(SHA256.hex(SHA256.hash(bytes)) == String(output.prefix(64)), "length \(length)")
        }
    }
}
