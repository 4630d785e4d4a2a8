import CKernels
import Foundation
import Kernels

/// `lorad bench qmatmul`: products over quantized weights (`QuantizedMatrix.matmul`, activations quantized inside)
/// per weight type and instruction-set path, against the read-bandwidth probe measured in the same run and the bf16
/// packed kernel. Weight copies are cycled so the set is far past the caches; paths are interleaved trial by trial,
/// so their ratios hold even on a busy machine; each figure is the best of `--trials` passes over the copies.
func benchQuantMatmul(_ args: [String]) throws {
    let a = try Arguments(args, options: ["n", "k", "rows", "threads", "types", "paths", "trials", "megabytes"],
                          switches: ["json", "help", "no-bf16"])
    if a.has("help") {
        print("""
            usage: lorad bench qmatmul [--types q4_K,q6_K,q8_0,q4_1,q4_0,q5_K,q5_0,q5_1] [--n 5632] [--k 2048]
                                       [--rows 1,128] [--paths avx512,avx2] [--trials 5] [--megabytes 512]
                                       [--threads N] [--no-bf16] [--json]
            """)
        return
    }
    let N = try a.int("n") ?? 5632, K = try a.int("k") ?? 2048
    let rowCounts = try a.intList("rows") ?? [1, 128]
    let trials = max(1, try a.int("trials") ?? 5)
    let typeNames = (a.string("types") ?? "q4_K,q6_K,q8_0,q4_1,q4_0,q5_K,q5_0,q5_1").split(separator: ",")
    let types = try typeNames.map { name -> QuantType in
        guard let t = QuantType(name: String(name)), t.isQuantized else {
            throw UsageError("--types: unknown quantized type \"\(name)\"")
        }
        guard K % t.blockElements == 0 else { throw UsageError("--k \(K) is not a multiple of \(t.name)'s block") }
        return t
    }
    let best = lk_isa_best()
    let defaultPaths = best >= 1 ? (1...Int(best)).reversed().map { String(cString: lk_isa_name(Int32($0))) } : ["scalar"]
    let paths = try (a.string("paths").map { $0.split(separator: ",").map(String.init) } ?? defaultPaths).map { name in
        let isa = lk_isa_parse(name)
        guard isa >= 0 else { throw UsageError("--paths: unknown path \"\(name)\" (scalar, avx2, avx512)") }
        guard isa <= best else { throw UsageError("--paths: this CPU has no \(name) path") }
        return isa
    }
    Parallel.configure(threads: try a.int("threads") ?? ProcessInfo.processInfo.activeProcessorCount)
    let json = a.has("json")
    let budget = (try a.int("megabytes") ?? 512) << 20
    let savedISA = lk_isa()
    defer { _ = lk_isa_force(savedISA) }

    var w = [Float](repeating: 0, count: N * K)
    var state: UInt32 = 0x9e3779b9
    for i in w.indices {
        state = state &* 1664525 &+ 1013904223
        w[i] = Float(Int32(bitPattern: state) >> 8) * 1e-8
    }
    let maxRows = rowCounts.max() ?? 1
    let x = AlignedBuffer<Float>(count: maxRows * K), y = AlignedBuffer<Float>(count: maxRows * N)
    for i in 0..<x.count { x[i] = Float(i % 7) * 0.1 - 0.3 }

    let bandwidthBefore = ReadBandwidth.measure(bytes: 512 << 20, passes: 5)
    var report: [String: Any] = ["scenario": "qmatmul", "n": N, "k": K, "threads": Parallel.threads,
                                 "isa_best": String(cString: lk_isa_name(best)),
                                 "avx512_vnni": lk_isa_force(Int32(LK_ISA_AVX512)) >= 0 && lk_has_avx512_vnni() != 0]
    _ = lk_isa_force(savedISA)
    if !json {
        print(String(format: "N=%d K=%d, %d threads, read bandwidth probe %.1f GB/s", N, K, Parallel.threads,
                     bandwidthBefore / 1e9))
    }

    var results: [[String: Any]] = []
    var comparisons: [(label: String, bytes: Double, copies: Int, body: (Int, Int) -> Void)] = []
    for t in types {
        let first = QuantizedMatrix(quantizing: w, rows: N, cols: K, type: t)
        let copies = max(2, budget / first.byteCount)
        let mats = [first] + (1..<copies).map { _ -> QuantizedMatrix in
            let buffer = AlignedBuffer<UInt8>(count: first.byteCount, zeroed: false)
            memcpy(buffer.pointer, first.blocks, first.byteCount)
            return QuantizedMatrix(type: t, rows: N, cols: K, blocks: UnsafeRawPointer(buffer.pointer), owner: buffer)
        }
        for isa in paths {
            comparisons.append((label: "\(t.name) \(String(cString: lk_isa_name(isa)))", bytes: Double(first.byteCount),
                                copies: copies, body: { c, M in
                _ = lk_isa_force(isa)
                mats[c].matmul(x: x.pointer, rows: M, y: y.pointer)
            }))
        }
    }
    if !a.has("no-bf16") {
        let packed = PackedWeights(rowMajor: w, rows: N, cols: K, element: .bf16)
        let copies = max(2, budget / packed.byteCount)
        let all = [packed] + (1..<copies).map { _ in PackedWeights(rowMajor: w, rows: N, cols: K, element: .bf16) }
        comparisons.append((label: "BF16 packed", bytes: Double(packed.byteCount), copies: copies, body: { c, M in
            _ = lk_isa_force(savedISA)
            Matmul.packed(x: x.pointer, rows: M, weight: all[c], y: y.pointer)
        }))
    }
    for M in rowCounts {
        // Each comparison cycles its own copies (its set far past the caches); all take turns within every trial.
        // From 16 rows on the product is compute-bound: two copies suffice (and keep the run short).
        var times = [Double](repeating: .infinity, count: comparisons.count)
        let used = comparisons.map { M >= 16 ? min(2, $0.copies) : $0.copies }
        for (i, comparison) in comparisons.enumerated() { for c in 0..<used[i] { comparison.body(c, M) } }  // warm
        for _ in 0..<trials {
            for (i, comparison) in comparisons.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                for c in 0..<used[i] { comparison.body(c, M) }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(used[i])
                times[i] = min(times[i], seconds)
            }
        }
        let flops = 2.0 * Double(M * N * K)
        for (i, comparison) in comparisons.enumerated() {
            let s = times[i]
            let gbs = comparison.bytes / s / 1e9
            results.append(["what": comparison.label, "rows": M, "seconds": s, "gflops": flops / s / 1e9,
                            "weight_gb_per_s": gbs, "roofline": gbs / (bandwidthBefore / 1e9)])
            if !json {
                print(String(format: "M=%3d  %-14@ %8.3f ms %7.1f GFLOP/s %6.1f GB/s of weights (%.2f of the probe)", M,
                             comparison.label, s * 1e3, flops / s / 1e9, gbs, gbs / (bandwidthBefore / 1e9)))
            }
        }
    }
    let bandwidthAfter = ReadBandwidth.measure(bytes: 512 << 20, passes: 5)
    report["read_bandwidth_gb_per_s"] = bandwidthBefore / 1e9
    report["read_bandwidth_after_gb_per_s"] = bandwidthAfter / 1e9
    report["results"] = results
    if json { try printBenchJSON(report) } else {
        print(String(format: "read bandwidth probe after: %.1f GB/s", bandwidthAfter / 1e9))
    }
}
