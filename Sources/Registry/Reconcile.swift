import Foundation

/// What a reconciliation pass found: adapters newly marked broken (with the reason), adapters healthy again,
/// store directories rehashed, and leftovers removed (staging and trash directories, unreferenced store
/// directories).
public struct ReconcileReport: Sendable, Equatable {
    public var broken: [String: String] = [:]
    public var repaired: [String] = []
    public var rehashed: [String] = []
    public var removedLeftovers: [String] = []

    public init() {}

    /// Nothing was found wrong and nothing needed cleaning.
    public var isClean: Bool { broken.isEmpty && repaired.isEmpty && removedLeftovers.isEmpty }
}

extension Registry {
    /// Checks every adapter row against its store directory and the served base model, and cleans the store.
    /// Policy: the files are the source of truth. Presence and sizes are always checked; files are rehashed per
    /// `RegistryOptions.verification` (by default only where their stat stamp changed since their last
    /// successful hash; shared directories once for all their names). A row that fails is marked broken with
    /// the reason, never deleted; a row that passes again (e.g. its base model is back) is marked healthy.
    static func reconcile(db: SQLiteConnection, store: AdapterStore, baseModel: ModelFingerprint,
                          options: RegistryOptions) throws -> ReconcileReport {
        try store.withLock {
            var report = ReconcileReport()
            // Check outside any transaction: the store lock already keeps the store still, and other processes
            // can keep using the database meanwhile.
            let rows = try db.query("SELECT name, sha256, size_bytes, base_model, state, broken_reason FROM adapters")
            var stamps: [String: String] = [:]
            for row in try db.query("SELECT sha256, stamp FROM store_stamps") {
                stamps[try row.string("sha256")] = try row.string("stamp")
            }
            var checks: [String: AdapterStore.Check] = [:]
            var updates: [(name: String, reason: String?)] = []
            for row in rows {
                let name = try row.string("name")
                let sha = try row.string("sha256")
                let registeredFor = try? ModelFingerprint.decode(try row.string("base_model"))
                var reason: String?
                if registeredFor != baseModel {
                    reason = "registered for another base model (\(registeredFor?.description ?? "unreadable fingerprint")); the served model is \(baseModel)"
                } else {
                    let size = try row.int("size_bytes")
                    let check = checks[sha] ?? store.check(sha, sizeBytes: size, recordedStamp: stamps[sha],
                                                           verification: options.verification)
                    checks[sha] = check
                    reason = check.problem
                }
                let wasBroken = try row.string("state") == "broken"
                let oldReason = try row.optionalString("broken_reason")
                if reason != nil ? (!wasBroken || oldReason != reason) : wasBroken {
                    updates.append((name, reason))
                }
            }
            report.rehashed = checks.filter { $0.value.rehashed }.map(\.key).sorted()
            try db.transaction {
                for update in updates {
                    if let reason = update.reason {
                        try db.run("UPDATE adapters SET state = 'broken', broken_reason = ? WHERE name = ?", reason, update.name)
                        try audit(db, actor: "registry", action: "adapter.broken", subject: update.name, detail: reason)
                        report.broken[update.name] = reason
                    } else {
                        try db.run("UPDATE adapters SET state = 'ok', broken_reason = NULL WHERE name = ?", update.name)
                        try audit(db, actor: "registry", action: "adapter.repaired", subject: update.name,
                                  detail: "store files and base model check out again")
                        report.repaired.append(update.name)
                    }
                }
                for (sha, check) in checks {
                    if check.problem != nil {
                        try db.run("DELETE FROM store_stamps WHERE sha256 = ?", sha)
                    } else if let stamp = check.verifiedStamp, stamp != stamps[sha] {
                        try saveStamp(stamp, for: sha, in: db)
                    }
                }
                try db.run("DELETE FROM store_stamps WHERE sha256 NOT IN (SELECT sha256 FROM adapters)")
            }
            // Rows can only be added or removed under the store lock, which we hold: this set is current.
            let referenced = Set(try db.query("SELECT DISTINCT sha256 FROM adapters").map { try $0.string("sha256") })
            report.removedLeftovers = try store.cleanup(referenced: referenced)
            return report
        }
    }
}
