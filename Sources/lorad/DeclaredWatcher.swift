import Foundation
import Server
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Re-applies `--tenants-file`/`--adapters-file` on SIGHUP and when either file changes (checked every
/// `interval` seconds by a thread of its own; Kubernetes updates a mounted Secret or ConfigMap by swapping a symlink, which changes the stat).
/// A file that no longer parses is logged and changes nothing: the replica keeps serving what it had.
final class DeclaredWatcher: Sendable {
    /// Set by the SIGHUP handler (an atomic store is async-signal-safe), taken by the timer.
    private static let hangup = Atomic<Int>(0)
    private let sync: DeclaredSync
    private let interval: Double
    private let lastStamp: Mutex<String>

    init(sync: DeclaredSync, interval: Double = 2) {
        self.sync = sync
        self.interval = interval
        lastStamp = Mutex(sync.filesStamp)
    }

    /// Applies the files once (a parse error is thrown: the daemon does not start on a broken file).
    static func applyAtStart(_ sync: DeclaredSync) throws {
        let report = try sync.apply()
        logReport(report)
        if !report.errors.isEmpty {
            throw CommandError("the declarative files could not be applied: " + report.errors.joined(separator: "; "))
        }
    }

    func start() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in DeclaredWatcher.hangup.store(1, ordering: .relaxed) }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGHUP, &action, nil)
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: interval)
                tick()
            }
        }
        thread.name = "lorad-declared"
        thread.start()
    }

    private func tick() {
        let stamp = sync.filesStamp
        let changed = lastStamp.withLock { last -> Bool in
            defer { last = stamp }
            return last != stamp
        }
        let hup = Self.hangup.exchange(0, ordering: .relaxed) == 1
        guard changed || hup else { return }
        log("lorad: \(hup ? "SIGHUP" : "declarative file changed"): applying \([sync.tenantsFile, sync.adaptersFile].compactMap { $0 }.joined(separator: ", "))")
        do { Self.logReport(try sync.apply()) } catch { log("lorad: not applied, keeping the previous state: \(error)") }
    }

    static func logReport(_ report: DeclaredSync.Report) {
        for c in report.changes { log("lorad: declared: \(c)") }
        for e in report.errors { log("lorad: declared: error: \(e)") }
        if report.changes.isEmpty && report.errors.isEmpty { log("lorad: declared: no changes") }
    }
}
