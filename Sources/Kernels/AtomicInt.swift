import Synchronization

/// A word-sized atomic integer usable from any thread.
public final class AtomicInt: Sendable {
    private let value: Atomic<Int>
    public init(_ initial: Int) { value = Atomic(initial) }
    public func load() -> Int { value.load(ordering: .acquiring) }
    public func store(_ v: Int) { value.store(v, ordering: .releasing) }
    @discardableResult
    public func add(_ d: Int) -> Int { value.wrappingAdd(d, ordering: .acquiringAndReleasing).newValue }
}
