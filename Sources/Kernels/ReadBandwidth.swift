import CKernels
import Foundation

/// Measures the machine's streaming read bandwidth: every kernel thread sums its share of a large buffer with the
/// CPU path's widest loads (zmm on AVX-512, ymm on AVX2) and several accumulators; the best of several passes
/// counts. This is the roofline that decode is held to.
public enum ReadBandwidth {
    /// The sum of `values` through the probe's kernel (the widest loads of the CPU path), on the calling thread.
    public static func sum(_ values: [Float]) -> Float {
        values.withUnsafeBufferPointer { lk_read_sum($0.baseAddress ?? UnsafePointer(bitPattern: 64)!, $0.count) }
    }

    /// Bytes per second. `bytes` should be well past the last-level cache (default 1 GiB).
    public static func measure(bytes: Int = 1 << 30, passes: Int = 5) -> Double {
        let count = bytes / MemoryLayout<Float>.stride
        let buffer = AlignedBuffer<Float>(count: count)
        let p = SharedPointer(buffer.pointer)
        // Touch every page (first writes fault pages in; they must not count as reads).
        Parallel.forChunks(count, minimumPerThread: 1 << 20) { r in
            for i in stride(from: r.lowerBound, to: r.upperBound, by: 1024) { p.base[i] = 1 }
        }
        var best = 0.0
        let sink = AtomicInt(0)
        for _ in 0..<passes {
            let start = DispatchTime.now().uptimeNanoseconds
            Parallel.forChunks(count, minimumPerThread: 1 << 20) { r in
                let s = lk_read_sum(p.base + r.lowerBound, r.count)
                if s == -1 { sink.add(1) }  // keeps the sum live
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, Double(count * MemoryLayout<Float>.stride) / seconds)
        }
        return best
    }
}
