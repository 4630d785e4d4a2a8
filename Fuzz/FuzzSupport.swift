// Shared by every libFuzzer harness in Fuzz/: compiled into each fuzz executable, beside the module under test.

#if canImport(Glibc)
import Glibc
#endif

/// The fuzzer's input, copied (libFuzzer may pass a null pointer with size 0).
func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// A harness invariant: when it does not hold, say which and abort, so libFuzzer keeps the input as a crash.
func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    guard !condition() else { return }
    var text = "fuzz check failed: \(message())\n"
    _ = text.withUTF8 { write(2, $0.baseAddress, $0.count) }
    abort()
}

/// Deterministic pseudo-random numbers from a seed the input carries (xorshift64*), so a crash replays exactly.
struct FuzzRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    /// In 1...upper.
    mutating func size(upTo upper: Int) -> Int { Int(next() % UInt64(max(upper, 1))) + 1 }
}
