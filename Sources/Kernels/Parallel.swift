import Foundation
import COpenBLAS

/// How many threads the kernels split work across. Set once at start-up (`--threads`), before any forward pass.
public enum Parallel {
    private static let storage = ThreadCount()

    public static var threads: Int { storage.value }

    /// Sets the kernel thread count and makes OpenBLAS use the same number, so the two never oversubscribe the cores.
    public static func configure(threads: Int) {
        let n = max(1, threads)
        storage.set(n)
        openblas_set_num_threads(Int32(n))
    }

    /// Runs `body` over `0..<count` split into at most `threads` contiguous chunks. Work below `minimumPerThread`
    /// items per chunk runs on the calling thread alone.
    public static func forChunks(_ count: Int, minimumPerThread: Int = 1,
                                 _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = min(threads, max(1, count / max(1, minimumPerThread)))
        if chunks <= 1 || count <= 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}

private final class ThreadCount: Sendable {
    private let atomic = AtomicInt(ProcessInfo.processInfo.activeProcessorCount)
    var value: Int { atomic.load() }
    func set(_ v: Int) { atomic.store(v) }
}
