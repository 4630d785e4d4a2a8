import Dispatch
import Foundation
import Registry
import Synchronization
import Testing

/// Several registries (as several processes would) on one data directory: SQLite's locks and the store lock
/// decide races, and nothing is half-written.
@Suite struct ConcurrencyTests {
    @Test func sameNameFromEightRegistriesHasOneWinner() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let outcomes = Mutex<[String]>([])
        let sources = RegistryEnvironment.adapterNames.map { env.path($0) }
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let outcome: String
            do {
                // Each thread opens its own registry, so the race is decided by SQLite and flock, not a Mutex.
                let registry = try env.open()
                _ = try registry.registerAdapter(name: "contested", sourcePath: sources[i % sources.count])
                outcome = "won"
            } catch let e as RegistryError where e.kind == .conflict {
                outcome = "conflict"
            } catch {
                outcome = "error: \(error)"
            }
            outcomes.withLock { $0.append(outcome) }
        }
        let results = outcomes.withLock { $0 }
        #expect(results.filter { $0 == "won" }.count == 1, "\(results)")
        #expect(results.filter { $0 == "conflict" }.count == 7, "\(results)")

        let registry = try env.open()
        let records = try registry.adapters(visibleTo: "default", isAdmin: true)
        #expect(records.map(\.name) == ["contested"])
        // Exactly the winner's files are in the store, intact.
        #expect(try env.storeEntries() == records.map(\.sha256))
        #expect(registry.startupReport.isClean)
        _ = try registry.loadAdapter(try #require(records.first))
    }

    @Test func manyNamesFromManyThreadsOnOneRegistry() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let registry = try env.open()
        let failures = Mutex<[String]>([])
        let sources = RegistryEnvironment.adapterNames.map { env.path($0) }
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            do {
                _ = try registry.registerAdapter(name: "n\(i)", sourcePath: sources[i % sources.count])
                try registry.recordUse(name: "n\(i)")
                if i % 2 == 0 { try registry.deleteAdapter(name: "n\(i)", by: "default") }
            } catch {
                failures.withLock { $0.append("\(i): \(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let records = try registry.adapters(visibleTo: "default", isAdmin: true)
        #expect(Set(records.map(\.name)) == Set((0..<16).filter { $0 % 2 == 1 }.map { "n\($0)" }))
        #expect(Set(try env.storeEntries()) == Set(records.map(\.sha256)))
        #expect(records.allSatisfy { $0.requests == 1 })
    }
}
