import COpenBLAS
import Foundation
import Kernels

/// `lorad bench matmul`: our batch-invariant kernel (packed f32 or bf16 weights, or row-major f32 packed per call)
/// against OpenBLAS sgemm (f32 weights) for M rows against one [N, K] weight. Several copies of the weight are
/// cycled so the set is far past the caches, as in a real forward pass; each figure is the best of `--trials`
/// passes over the copies. `--dispatch` measures the thread pool's cost of an empty `Parallel.forChunks`.
/// `--paths avx2,avx512` also times our kernel on each CPU path, the paths taking turns pass by pass (a busy
/// machine then slows them alike).
func benchMatmul(_ args: [String]) throws {
    let a = try Arguments(args, options: ["n", "k", "rows", "threads", "dtype", "trials", "megabytes", "paths"],
                          switches: ["json", "help", "unpacked", "dispatch", "no-blas"])
    if a.has("help") {
        print("""
            usage: lorad bench matmul [--n 5632] [--k 2048] [--rows 1,2,4,8,16,32,64,128,512] [--dtype f32|bf16]
                                      [--unpacked] [--no-blas] [--trials 5] [--megabytes 512] [--threads N]
                                      [--paths scalar,avx2,avx512] [--dispatch] [--json]
            """)
        return
    }
    let N = try a.int("n") ?? 5632, K = try a.int("k") ?? 2048
    let rowCounts = try a.intList("rows") ?? [1, 2, 4, 8, 16, 32, 64, 128, 512]
    let trials = max(1, try a.int("trials") ?? 5)
    let dtype = a.string("dtype") ?? "f32"
    guard dtype == "f32" || dtype == "bf16" else { throw UsageError("--dtype must be f32 or bf16") }
    let element: PackedWeights.Element = dtype == "bf16" ? .bf16 : .f32
    let paths = try (a.string("paths")?.split(separator: ",") ?? []).map { name -> CPUPath in
        guard let path = CPUPath.allCases.first(where: { $0.description == name }) else {
            throw UsageError("--paths: unknown CPU path \"\(name)\" (scalar, avx2, avx512)")
        }
        guard CPUPath.supported.contains(path) else {
            throw UsageError("--paths: this CPU cannot run \(path) (its best is \(CPUPath.best))")
        }
        return path
    }
    Parallel.configure(threads: try a.int("threads") ?? ProcessInfo.processInfo.activeProcessorCount)
    let json = a.has("json")
    var report: [String: Any] = ["scenario": "matmul", "n": N, "k": K, "threads": Parallel.threads, "dtype": dtype]

    if a.has("dispatch") {
        let (pool, gcd) = measureDispatch()
        report["dispatch_us"] = pool
        report["concurrent_perform_us"] = gcd
        if !json {
            print(String(format: "empty Parallel.forChunks (%d threads): %.2f µs   DispatchQueue.concurrentPerform: %.2f µs",
                         Parallel.threads, pool, gcd))
        }
    }

    // Several weight matrices so the set exceeds the caches.
    let budget = (try a.int("megabytes") ?? 512) << 20
    let copies = max(2, budget / (N * K * 4))
    let weights = (0..<copies).map { c -> AlignedBuffer<Float> in
        let w = AlignedBuffer<Float>(count: N * K, zeroed: false)
        var state = UInt32(truncatingIfNeeded: 0x9e3779b9 &* (c + 1))
        for i in 0..<w.count {
            state = state &* 1664525 &+ 1013904223
            w[i] = Float(Int32(bitPattern: state) >> 8) * 1e-8
        }
        return w
    }
    let packed = weights.map { PackedWeights(rowMajor: $0.pointer, rows: N, cols: K, element: element) }
    let bandwidth = ReadBandwidth.measure(bytes: 512 << 20, passes: 5)
    report["read_bandwidth_gb_per_s"] = bandwidth / 1e9
    if !json {
        print(String(format: "N=%d K=%d, %d threads, weights %@ (%d copies, %.0f MB), read bandwidth probe %.1f GB/s",
                     N, K, Parallel.threads, dtype, copies, Double(copies * packed[0].byteCount) / 1e6, bandwidth / 1e9))
    }

    let maxRows = rowCounts.max() ?? 1
    let x = AlignedBuffer<Float>(count: maxRows * K), y = AlignedBuffer<Float>(count: maxRows * N)
    for i in 0..<x.count { x[i] = Float(i % 7) * 0.1 - 0.3 }
    /// Seconds per call: best over `trials` passes (each pass calls once per weight copy).
    func time(_ body: (Int) -> Void) -> Double {
        for c in 0..<copies { body(c) }  // warm
        var best = Double.infinity
        for _ in 0..<trials {
            let start = DispatchTime.now().uptimeNanoseconds
            for c in 0..<copies { body(c) }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(copies))
        }
        return best
    }
    /// Seconds per call on each path: the paths take turns pass by pass; best pass per path.
    func timePaths(_ body: (Int) -> Void) -> [CPUPath: Double] {
        var best: [CPUPath: Double] = [:]
        for path in paths { _ = CPUPath.on(path) { for c in 0..<copies { body(c) } } }  // warm
        for _ in 0..<trials {
            for path in paths {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = CPUPath.on(path) { for c in 0..<copies { body(c) } }
                let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(copies)
                best[path] = min(best[path] ?? .infinity, s)
            }
        }
        return best
    }
    var results: [[String: Any]] = []
    for M in rowCounts {
        let ours = time { c in Matmul.packed(x: x.pointer, rows: M, weight: packed[c], y: y.pointer) }
        let byPath = timePaths { c in Matmul.packed(x: x.pointer, rows: M, weight: packed[c], y: y.pointer) }
        let unpacked = a.has("unpacked")
            ? time { c in
                Matmul.f32(x: x.pointer, rows: M, inner: K, weight: weights[c].pointer, outputs: N, y: y.pointer)
            } : nil
        let blas = a.has("no-blas") ? nil : time { c in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(M), Int32(N), Int32(K), 1, x.pointer, Int32(K),
                        weights[c].pointer, Int32(K), 0, y.pointer, Int32(N))
        }
        let flops = 2.0 * Double(M * N * K)
        let ourBytes = Double(packed[0].byteCount), f32Bytes = Double(N * K * 4)
        var row: [String: Any] = ["rows": M, "ours_s": ours, "ours_gflops": flops / ours / 1e9,
                                  "ours_gb_per_s": ourBytes / ours / 1e9]
        var line = String(format: "M=%3d  ours(%@) %8.3f ms %6.1f GFLOP/s %5.1f GB/s", M, dtype, ours * 1e3,
                          flops / ours / 1e9, ourBytes / ours / 1e9)
        if !byPath.isEmpty {
            row["ours_s_by_path"] = Dictionary(uniqueKeysWithValues: byPath.map { ($0.key.description, $0.value) })
            for path in paths {
                line += String(format: "   %@ %6.1f GFLOP/s", path.description, flops / byPath[path]! / 1e9)
            }
        }
        if let unpacked {
            row["unpacked_s"] = unpacked
            row["unpacked_gflops"] = flops / unpacked / 1e9
            line += String(format: "   f32 row-major %8.3f ms %6.1f GFLOP/s %5.1f GB/s", unpacked * 1e3,
                           flops / unpacked / 1e9, f32Bytes / unpacked / 1e9)
        }
        if let blas {
            row["openblas_s"] = blas
            row["openblas_gflops"] = flops / blas / 1e9
            line += String(format: "   openblas(f32) %8.3f ms %6.1f GFLOP/s %5.1f GB/s", blas * 1e3, flops / blas / 1e9,
                           f32Bytes / blas / 1e9)
        }
        results.append(row)
        if !json { print(line) }
    }
    report["results"] = results
    if json { try printBenchJSON(report) }
}

/// Microseconds per empty `Parallel.forChunks` call that uses every thread (best of 5 runs of 20 000 calls), and
/// the same through `DispatchQueue.concurrentPerform` for comparison.
private func measureDispatch() -> (pool: Double, concurrentPerform: Double) {
    let threads = Parallel.threads
    let calls = 20_000
    var pool = Double.infinity, gcd = Double.infinity
    let counter = AtomicInt(0)
    for _ in 0..<5 {
        var start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<calls { Parallel.forChunks(threads) { _ in } }
        pool = min(pool, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3 / Double(calls))
        start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<calls / 10 { DispatchQueue.concurrentPerform(iterations: threads) { _ in counter.add(0) } }
        gcd = min(gcd, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3 / Double(calls / 10))
    }
    return (pool, gcd)
}
