import CKernels
import COpenBLAS
import Foundation

/// How many threads the kernels split work across, and the persistent pool that runs the split.
///
/// The pool (CKernels/pool.c) keeps `threads - 1` worker threads alive; the calling thread runs chunks too. After a
/// job, workers spin for ~200 µs before sleeping on a condition variable, so the ~150 calls of one forward pass cost
/// about a microsecond each to dispatch (`lorad bench matmul --dispatch` measures it).
///
/// One job runs at a time. A `forChunks` issued while the pool is busy — from another thread, or nested inside a
/// chunk — does not wait for it: it runs its chunks inline on its own thread, in order. Calls never deadlock, and
/// because the kernels are batch-invariant, the results are the same either way.
public enum Parallel {
    private static let storage = ThreadCount()

    public static var threads: Int { storage.value }

    /// Sets the kernel thread count and makes OpenBLAS use the same number, so the two never oversubscribe the cores.
    public static func configure(threads: Int) {
        let n = max(1, threads)
        storage.set(n)
        lk_pool_set_threads(Int32(n))
        openblas_set_num_threads(Int32(n))
    }

    /// Runs `body` over `0..<count` split into at most `threads` contiguous chunks (chunk c covers
    /// `count * c / chunks ..< count * (c + 1) / chunks`). Work below `minimumPerThread` items per chunk runs on the
    /// calling thread alone. Returns when every chunk has run.
    public static func forChunks(_ count: Int, minimumPerThread: Int = 1,
                                 _ body: @Sendable (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads, max(1, count / max(1, minimumPerThread)))
        if chunks <= 1 || count <= 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            var job = ChunkJob(count: count, chunks: chunks, body: escapable)
            withUnsafeMutablePointer(to: &job) { pointer in
                _ = lk_pool_run(chunks, { context, chunk in
                    let job = context!.assumingMemoryBound(to: ChunkJob.self)
                    let count = job.pointee.count, chunks = job.pointee.chunks, c = Int(chunk)
                    let lo = count * c / chunks, hi = count * (c + 1) / chunks
                    if lo < hi { job.pointee.body(lo..<hi) }
                }, pointer)
            }
        }
    }

    /// How long an idle pool worker spins before it sleeps (default 200 µs; 0 sleeps at once).
    public static func setSpin(nanoseconds: Int) { lk_pool_set_spin_nanos(nanoseconds) }
}

/// What `forChunks` hands the pool: read by every participating thread, alive for the whole call.
private struct ChunkJob {
    let count: Int
    let chunks: Int
    let body: @Sendable (Range<Int>) -> Void
}

private final class ThreadCount: Sendable {
    private let atomic: AtomicInt
    init() {
        let n = max(1, ProcessInfo.processInfo.activeProcessorCount)
        atomic = AtomicInt(n)
        lk_pool_set_threads(Int32(n))
    }
    var value: Int { atomic.load() }
    func set(_ v: Int) { atomic.store(v) }
}
