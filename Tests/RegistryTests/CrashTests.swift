import Foundation
import Registry
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// SIGKILL a registering child process at every stage (and at random moments): the reopened registry holds
/// either nothing or a complete, hash-verified adapter, and the store holds nothing else.
@Suite(.serialized) struct CrashTests {
    /// A running registry-crash-child with its stdout readable line by line.
    final class Child {
        let process = Process()
        private let output = Pipe()
        private var buffer = Data()
        private var lines: [String] = []

        init(_ env: RegistryEnvironment, _ arguments: [String]) throws {
            process.executableURL = Fixtures.builtProduct("registry-crash-child")
            process.arguments = ["--data-dir", env.data.path, "--model", Fixtures.tinyLlama.path,
                                 "--adapter-root", env.root.path] + arguments
            process.standardOutput = output
            try process.run()
            // Never let a wedged child hang the suite.
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + 120) { kill(pid, SIGKILL) }
        }

        /// Reads until a line starting with `prefix`; nil if the child exits first.
        func waitForLine(startingWith prefix: String) -> String? {
            while true {
                if let index = lines.firstIndex(where: { $0.hasPrefix(prefix) }) {
                    let line = lines[index]
                    lines.removeSubrange(...index)
                    return line
                }
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
            }
        }

        func killHard() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// After a crash: every row is healthy and loads, and the store holds exactly the referenced directories.
    static func expectConsistent(_ env: RegistryEnvironment, sourceLocation: SourceLocation = #_sourceLocation) throws -> [AdapterRecord] {
        let registry = try env.open()
        #expect(registry.startupReport.broken.isEmpty, "\(registry.startupReport)", sourceLocation: sourceLocation)
        let records = try registry.adapters(visibleTo: "default", isAdmin: true)
        for record in records {
            #expect(!record.isBroken, sourceLocation: sourceLocation)
            let stored = try RegistryEnvironment.expectedHash(of: registry.storeDirectory(for: record))
            #expect(stored.sha256 == record.sha256 && stored.size == record.sizeBytes, sourceLocation: sourceLocation)
            _ = try registry.loadAdapter(record)
        }
        #expect(Set(try env.storeEntries()) == Set(records.map(\.sha256)), sourceLocation: sourceLocation)
        return records
    }

    @Test(arguments: RegistrationStage.allCases)
    func killAtStage(_ stage: RegistrationStage) throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let source = env.path("a2-r16-all-rslora")
        let child = try Child(env, ["--pause-at", stage.rawValue, "register", "crashy", source])
        let line = child.waitForLine(startingWith: "paused at")
        #expect(line == "paused at \(stage.rawValue)")
        child.killHard()
        #expect(child.process.terminationReason == .uncaughtSignal)

        // The kill really interrupted the stage: staging leftovers before the rename, the store directory after.
        let left = try env.storeEntries()
        switch stage {
        case .staged, .afterFirstFile, .afterCopyBeforeFsync, .afterFsyncBeforeRename:
            #expect(left.count == 1 && left.first?.hasPrefix(".tmp-") == true, "\(left)")
        case .afterRenameBeforeCommit, .afterCommit:
            #expect(left.count == 1 && left.first?.count == 64, "\(left)")
        }
        let records = try Self.expectConsistent(env)
        if stage == .afterCommit {
            let expected = try RegistryEnvironment.expectedHash(of: env.root.appendingPathComponent("a2-r16-all-rslora"))
            #expect(records.map(\.name) == ["crashy"])
            #expect(records.first?.sha256 == expected.sha256)
        } else {
            #expect(records.isEmpty)
        }
        // Whatever happened, the name can be registered now.
        let registry = try env.open()
        if records.isEmpty { _ = try registry.registerAdapter(name: "crashy", sourcePath: source) }
        _ = try Self.expectConsistent(env)
    }

    @Test func killAtRandomMoments() throws {
        let env = try RegistryEnvironment()
        defer { env.removeAll() }
        let sources = RegistryEnvironment.adapterNames.map { env.path($0) }
        for iteration in 0..<5 {
            let child = try Child(env, ["loop"] + sources)
            #expect(child.waitForLine(startingWith: "ready") == "ready")
            // Let a few registrations (and a delete) land, then kill somewhere inside the next ones
            // (one registration takes tens of milliseconds in a debug build).
            let settled = "registered n\(iteration + Int.random(in: 0...3))"
            #expect(child.waitForLine(startingWith: settled) == settled)
            usleep(UInt32.random(in: 0...60_000))
            child.killHard()
            let records = try Self.expectConsistent(env)
            #expect(!records.isEmpty)
            // Start the next round from an empty registry so names do not collide.
            let registry = try env.open()
            for record in records { try registry.deleteAdapter(name: record.name, by: "default") }
            registry.close()
            #expect(try env.storeEntries().isEmpty)
        }
    }
}
