import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The limits of one `Tokenizer.encode(_:addSpecialTokens:isCancelled:)` call, reachable from the matchers deep in
/// the pipeline through a thread-local slot (an encode runs on one thread from start to end). Touched by that
/// thread only.
final class EncodeScope {
    /// ICU reports progress about every 10,000 backtracking steps; a split regex may take this many such reports
    /// plus one per `utf16PerReport` UTF-16 units of its input (real split patterns need well under 1 per 3,000).
    static let baseReports = 8
    static let utf16PerReport = 64

    let isCancelled: () -> Bool
    /// The pattern whose step budget ran out (the rest of that input was left unsplit).
    var exceededPattern: String?
    var cancelled = false

    init(isCancelled: @escaping () -> Bool) { self.isCancelled = isCancelled }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The scope of the encode running on this thread, if any.
    static var current: EncodeScope? {
        pthread_getspecific(key).map { Unmanaged<EncodeScope>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `body` with this scope current on the calling thread.
    func run<T>(_ body: () -> T) -> T {
        let previous = pthread_getspecific(Self.key)
        pthread_setspecific(Self.key, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(Self.key, previous) }
        return withExtendedLifetime(self) { body() }
    }

    /// Checks the caller's cancellation (cheap enough to call every few thousand bytes).
    func checkCancelled() -> Bool {
        if !cancelled && isCancelled() { cancelled = true }
        return cancelled
    }
}

/// The tokenizer's work was abandoned: the caller's `isCancelled` said so.
public struct EncodeCancelled: Error, Sendable {}
