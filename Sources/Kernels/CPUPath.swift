import CKernels

/// The instruction-set path every kernel runs on (chosen once in CKernels/cpu.c from the CPU; `LORAD_ISA=scalar|avx2|
/// avx512` forces a lower one). Read-only for the daemon; tests and benchmarks may `force` a path while no kernel runs.
public enum CPUPath: Int, Sendable, CaseIterable, CustomStringConvertible {
    case scalar = 0, avx2 = 1, avx512 = 2

    /// The path in use.
    public static var current: CPUPath { CPUPath(rawValue: Int(lk_isa())) ?? .scalar }
    /// The best path this CPU has, whatever LORAD_ISA says.
    public static var best: CPUPath { CPUPath(rawValue: Int(lk_isa_best())) ?? .scalar }
    /// The paths this CPU can run, lowest first.
    public static var supported: [CPUPath] { allCases.filter { $0.rawValue <= best.rawValue } }

    /// Switches every kernel to `path`; false when the CPU lacks it. Not thread-safe: call it while no kernel runs.
    @discardableResult
    public static func force(_ path: CPUPath) -> Bool { lk_isa_force(Int32(path.rawValue)) >= 0 }

    /// Runs `body` with every kernel it calls on `path` (kernels the pool runs for it too), leaving other threads
    /// on theirs; nil, without running `body`, when the CPU lacks the path. Tests compare paths with it.
    public static func on<R>(_ path: CPUPath, _ body: () throws -> R) rethrows -> R? {
        let saved = lk_isa_thread()
        guard lk_isa_set_thread(Int32(path.rawValue)) == 0 else { return nil }
        defer { lk_isa_set_thread(saved) }
        return try body()
    }

    /// "scalar", "avx2" or "avx512".
    public var description: String { String(cString: lk_isa_name(Int32(rawValue))) }

    /// The path and the extensions in use beside it, for logs and reports: "avx512 (vnni, bf16)", "avx2".
    public static var summary: String {
        var extras: [String] = []
        if lk_has_avx512_vnni() != 0 { extras.append("vnni") }
        if lk_has_avx512_bf16() != 0 { extras.append("bf16") }
        let path = current.description
        return extras.isEmpty ? path : "\(path) (\(extras.joined(separator: ", ")))"
    }
}
