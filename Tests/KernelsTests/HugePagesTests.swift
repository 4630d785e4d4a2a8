import Foundation
import Kernels
import Testing

/// Large buffers get their own 2 MiB-aligned mapping advised for transparent huge pages; small ones stay on the heap.
@Suite struct HugePagesTests {
    /// The `THPeligible` line of the mapping that holds `address` in /proc/self/smaps (nil off Linux).
    static func thpEligible(_ address: UnsafeRawPointer) throws -> Bool? {
        // (String(contentsOfFile:) stops after the first read of a /proc file.)
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/smaps"), let data = try handle.readToEnd()
        else { return nil }
        let smaps = String(decoding: data, as: UTF8.self)
        let target = UInt(bitPattern: address)
        var inside = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= target && target < bounds[1]
            } else if inside, fields.first == "THPeligible:" {
                return fields.last == "1"
            }
        }
        return nil
    }

    /// Whether the kernel hands huge pages to regions that ask (THP "always" or "madvise").
    static var kernelAllowsHugePages: Bool {
        guard let mode = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)
        else { return false }
        return !mode.contains("[never]")
    }

    @Test func largeBuffersAreAlignedZeroedAndAdvised() throws {
        let count = (HugePages.threshold + 12_345) / 4
        let buffer = AlignedBuffer<Float>(count: count, zeroed: false)
        #expect(UInt(bitPattern: buffer.pointer) % UInt(HugePages.size) == 0)
        // Fresh anonymous memory: zero everywhere, and writable to its last element.
        #expect(buffer.buffer.allSatisfy { $0 == 0 })
        buffer[count - 1] = 7
        #expect(buffer[count - 1] == 7)
        if Self.kernelAllowsHugePages {
            let eligible = try Self.thpEligible(buffer.pointer)
            #expect(eligible == true, "a large buffer should be eligible for transparent huge pages")
        }
    }

    @Test func smallBuffersAreHeapAllocatedAndZeroed() throws {
        let buffer = AlignedBuffer<UInt8>(count: 1000)
        #expect(UInt(bitPattern: buffer.pointer) % 64 == 0)
        #expect(buffer.buffer.allSatisfy { $0 == 0 })
    }

    @Test func mappingsRoundUpToWholeHugePages() throws {
        let m = HugePages.map(3 << 20, reserve: false)
        defer { HugePages.unmap(m) }
        #expect(UInt(bitPattern: m.base) % UInt(HugePages.size) == 0)
        // 4 MiB usable: the last byte of the second huge page is writable.
        let last = m.base.advanced(by: (4 << 20) - 1).assumingMemoryBound(to: UInt8.self)
        #expect(last.pointee == 0)
        last.pointee = 1
        #expect(last.pointee == 1)
    }
}
