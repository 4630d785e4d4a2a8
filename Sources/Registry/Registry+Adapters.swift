import Adapters
import Foundation
import Model

extension Registry {
    static let adapterSelect = "SELECT a.*, t.name AS tenant_name FROM adapters a JOIN tenants t ON t.id = a.tenant_id"
    static let maxDescriptionLength = 4096

    static func adapter(from row: SQLiteRow) throws -> AdapterRecord {
        let targets = try row.string("target_modules")
        return AdapterRecord(
            name: try row.string("name"), tenant: try row.string("tenant_name"), isPublic: try row.bool("public"),
            description: try row.string("description"), rank: try row.int("rank"), alpha: try row.double("alpha"),
            targetModules: targets.isEmpty ? [] : targets.split(separator: ",").map(String.init),
            sha256: try row.string("sha256"), sizeBytes: try row.int("size_bytes"),
            baseModel: try ModelFingerprint.decode(try row.string("base_model")),
            createdAt: try row.date("created_at"), lastUsedAt: try row.optionalDate("last_used_at"),
            requests: try row.int("requests"), scale: try row.optionalDouble("scale"),
            brokenReason: try row.string("state") == "broken" ? (try row.optionalString("broken_reason") ?? "broken") : nil,
            publishedByAdmin: try row.bool("published_by_admin"), isPinned: try row.bool("pinned"))
    }

    static func adapter(named name: String, in db: SQLiteConnection) throws -> AdapterRecord? {
        try db.query(adapterSelect + " WHERE a.name = ?", name).first.map(adapter(from:))
    }

    private func stage(_ stage: RegistrationStage) { options.stageHook?(stage) }

    /// Registers the adapter in `sourcePath` as `name`, owned by `tenant`: checks the path against the adapter
    /// roots, copies the files into the store, validates them against the base model (PEFT errors pass through as
    /// `.invalid`), makes them durable, and only then commits the row. `description` and `scale` default to the
    /// adapter's lorad.json, if it has one.
    public func registerAdapter(name: String, sourcePath: String, tenant: String = Tenant.defaultName,
                                isPublic: Bool = false, publishedByAdmin: Bool? = nil, description: String? = nil,
                                scale: Double? = nil,
                                progress: (_ bytesCopied: Int, _ totalBytes: Int) -> Void = { _, _ in })
        throws -> AdapterRecord {
        try Names.check(name, what: "adapter")
        guard !options.reservedAdapterNames.contains(name) else {
            throw RegistryError(.invalid, "adapter name \"\(name)\" is reserved (it is \(name == "auto" ? "the automatic routing model" : "the base model's id")), a request could never address the adapter")
        }
        try Names.check(tenant, what: "tenant")
        try Self.checkScale(scale, adapter: name)
        // Cheap checks first, so a doomed registration copies nothing (they are repeated in the transaction).
        try withDatabase { db in try checkRegistrable(name: name, tenant: tenant, in: db) }

        let source = try policy.openSource(sourcePath, adapter: name)
        let staging = try store.makeStaging()
        stage(.staged)
        let imported = try store.copy(from: source, policy: policy, adapter: name, into: staging,
                                      afterFirstFile: { stage(.afterFirstFile) }, progress: progress)
        let extras = try LoradJSON(imported.loradJSON, adapter: name)
        let description = description ?? extras.description ?? ""
        let scale = scale ?? extras.scale
        guard description.count <= Self.maxDescriptionLength else {
            throw RegistryError(.invalid, "adapter \"\(name)\": the description is \(description.count) characters, over the limit of \(Self.maxDescriptionLength)")
        }
        try Self.checkScale(scale, adapter: name)
        let adapter: PeftAdapter
        do {
            adapter = try PeftAdapter(directory: URL(fileURLWithPath: staging.path), name: name, model: modelConfig)
        } catch let e as AdapterError {
            throw RegistryError(.invalid, e.description)
        }
        stage(.afterCopyBeforeFsync)
        try store.sync(staging)
        stage(.afterFsyncBeforeRename)

        let fingerprint = try baseModel.encoded()
        let targets = adapter.targets.map(\.moduleName).joined(separator: ",")
        let alpha = adapter.config.alpha
        let sha = imported.sha256
        return try store.withLock {
            // Put the files in place: install the staged copy, or reuse an intact identical copy, or replace a
            // damaged one (which repairs every row that shares it).
            var installed = false
            var stamp: String?
            if try store.install(staging, sha256: sha) {
                installed = true
            } else {
                let recorded = try withDatabase { db in try Self.recordedStamp(sha, in: db) }
                let check = store.check(sha, sizeBytes: imported.sizeBytes, recordedStamp: recorded, verification: .changed)
                if check.problem != nil {
                    try store.replace(sha, with: staging)
                    installed = true
                } else {
                    stamp = check.verifiedStamp
                }
            }
            // Files this registration wrote carry the hash computed while copying them.
            if installed { stamp = try store.stamp(of: sha).stamp }
            do {
                let record = try withDatabase { db in
                    try db.transaction { () throws -> AdapterRecord in
                        let tenantID = try checkRegistrable(name: name, tenant: tenant, in: db)
                        try db.run("""
                            INSERT INTO adapters (name, tenant_id, public, description, rank, alpha, target_modules,
                                sha256, size_bytes, base_model, created_at, scale, published_by_admin)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """, name, tenantID, isPublic, description, adapter.rank, alpha, targets, sha,
                            imported.sizeBytes, fingerprint, Date(), scale, isPublic && (publishedByAdmin ?? true))
                        if let stamp { try Self.saveStamp(stamp, for: sha, in: db) }
                        // The files under this hash are intact now: rows sharing them are healthy again.
                        let repaired = try db.query("""
                            SELECT name FROM adapters WHERE sha256 = ? AND state = 'broken' AND base_model = ?
                            """, sha, fingerprint).map { try $0.string("name") }
                        try db.run("UPDATE adapters SET state = 'ok', broken_reason = NULL WHERE sha256 = ? AND state = 'broken' AND base_model = ?",
                                   sha, fingerprint)
                        try Self.audit(db, actor: tenant, action: "adapter.register", subject: name,
                                       detail: "sha256 \(sha), \(imported.sizeBytes) bytes, from \(source.path)")
                        for other in repaired {
                            try Self.audit(db, actor: "registry", action: "adapter.repaired", subject: other,
                                           detail: "store files restored by registering \"\(name)\"")
                        }
                        stage(.afterRenameBeforeCommit)
                        guard let record = try Self.adapter(named: name, in: db) else {
                            throw RegistryError(.io, "adapter \"\(name)\" vanished after insert")
                        }
                        return record
                    }
                }
                stage(.afterCommit)
                return record
            } catch {
                // Nothing references a copy installed for a registration that did not commit.
                if installed, let count = try? withDatabase({ db in
                    try db.query("SELECT count(*) AS n FROM adapters WHERE sha256 = ?", sha).first?.int("n") ?? 0
                }), count == 0 {
                    try? store.remove(sha)
                }
                throw error
            }
        }
    }

    /// Checks that `tenant` exists, `name` is free and the tenant is under its adapter limit; returns the tenant id.
    @discardableResult
    private func checkRegistrable(name: String, tenant: String, in db: SQLiteConnection) throws -> Int {
        guard let row = try db.query("SELECT id, max_adapters FROM tenants WHERE name = ?", tenant).first else {
            throw RegistryError(.notFound, "tenant \"\(tenant)\" does not exist")
        }
        if try db.query("SELECT id FROM adapters WHERE name = ?", name).first != nil {
            // The same answer whoever owns it: another tenant's private adapter is never revealed.
            throw RegistryError(.conflict, "the adapter name \"\(name)\" is taken; choose another")
        }
        let tenantID = try row.int("id")
        if let limit = try row.optionalInt("max_adapters") {
            let owned = try db.query("SELECT count(*) AS n FROM adapters WHERE tenant_id = ?", tenantID).first?.int("n") ?? 0
            guard owned < limit else {
                throw RegistryError(.limit, "tenant \"\(tenant)\" has reached its limit of \(limit) adapter(s); cannot register \"\(name)\"")
            }
        }
        return tenantID
    }

    private static func checkScale(_ scale: Double?, adapter: String) throws {
        guard let scale else { return }
        guard scale.isFinite, scale >= 0, scale <= 1000 else {
            throw RegistryError(.invalid, "adapter \"\(adapter)\": scale \(scale) must be a number in 0...1000")
        }
    }

    /// The adapters `tenant` may see: its own and public ones (every adapter for an admin), by name.
    public func adapters(visibleTo tenant: String, isAdmin: Bool = false) throws -> [AdapterRecord] {
        try withDatabase { db in
            try db.query(Self.adapterSelect + " WHERE ? OR t.name = ? OR a.public = 1 ORDER BY a.name", isAdmin, tenant)
                .map(Self.adapter(from:))
        }
    }

    /// The adapters `auto` may route `tenant`'s requests to: its own and those an admin published; healthy ones.
    public func adapters(routableFor tenant: String) throws -> [AdapterRecord] {
        try withDatabase { db in
            try db.query(Self.adapterSelect + """
                 WHERE (t.name = ? OR (a.public = 1 AND a.published_by_admin = 1)) AND a.state = 'ok' ORDER BY a.name
                """, tenant).map(Self.adapter(from:))
        }
    }

    /// Marks a public adapter as published by an admin (`--register-adapters` claims the adapters it names).
    public func markPublishedByAdmin(name: String) throws {
        try withDatabase { db in
            try db.run("UPDATE adapters SET published_by_admin = 1, public = 1 WHERE name = ?", name)
        }
    }

    /// Records whether `name` is pinned (pins survive a restart: the daemon pins these again at start).
    public func setPinned(name: String, _ pinned: Bool, by actor: String) throws {
        try withDatabase { db in
            try db.transaction {
                try db.run("UPDATE adapters SET pinned = ? WHERE name = ?", pinned, name)
                try Self.audit(db, actor: actor, action: pinned ? "adapter.pin" : "adapter.unpin", subject: name)
            }
        }
    }

    /// The adapters recorded as pinned, oldest first.
    public func pinnedAdapters() throws -> [AdapterRecord] {
        try withDatabase { db in
            try db.query(Self.adapterSelect + " WHERE a.pinned = 1 ORDER BY a.id").map(Self.adapter(from:))
        }
    }

    /// One adapter if `tenant` may see it; another tenant's private adapter is nil, exactly like a missing one.
    public func adapter(named name: String, visibleTo tenant: String, isAdmin: Bool = false) throws -> AdapterRecord? {
        try withDatabase { db in
            guard let record = try Self.adapter(named: name, in: db) else { return nil }
            return isAdmin || record.isPublic || record.tenant == tenant ? record : nil
        }
    }

    /// Deletes an adapter. Its owner or an admin may; others get `.notFound` (private) or `.forbidden` (public).
    /// The store directory goes when no other name shares it.
    public func deleteAdapter(name: String, by tenant: String, isAdmin: Bool = false) throws {
        try store.withLock {
            let (sha, remaining) = try withDatabase { db in
                try db.transaction { () throws -> (String, Int) in
                    guard let record = try Self.adapter(named: name, in: db),
                          isAdmin || record.isPublic || record.tenant == tenant else {
                        throw RegistryError(.notFound, "adapter \"\(name)\" does not exist")
                    }
                    guard isAdmin || record.tenant == tenant else {
                        throw RegistryError(.forbidden, "adapter \"\(name)\" belongs to tenant \"\(record.tenant)\"; only it or an admin may delete it")
                    }
                    try db.run("DELETE FROM adapters WHERE name = ?", name)
                    try Self.audit(db, actor: isAdmin ? "admin" : tenant, action: "adapter.delete", subject: name,
                                   detail: "sha256 \(record.sha256)")
                    let n = try db.query("SELECT count(*) AS n FROM adapters WHERE sha256 = ?", record.sha256).first?.int("n") ?? 0
                    if n == 0 { try db.run("DELETE FROM store_stamps WHERE sha256 = ?", record.sha256) }
                    return (record.sha256, n)
                }
            }
            // After the commit: a crash here leaves an unreferenced directory, which the next open removes.
            if remaining == 0 { try store.remove(sha) }
        }
    }

    /// Counts a request against an adapter and stamps its last use. Cheap: one UPDATE, not fsynced on its own.
    public func recordUse(name: String, at date: Date = Date()) throws {
        try withDatabase { db in
            try db.execute("PRAGMA synchronous = NORMAL")
            defer { try? db.execute("PRAGMA synchronous = FULL") }
            let changed = try db.run("UPDATE adapters SET last_used_at = ?, requests = requests + 1 WHERE name = ?", date, name)
            guard changed == 1 else { throw RegistryError(.notFound, "adapter \"\(name)\" does not exist") }
        }
    }

    /// Where the adapter's files live: `DATA_DIR/adapters/<sha256>`.
    public func storeDirectory(for record: AdapterRecord) -> URL {
        store.directory(sha256: record.sha256)
    }

    /// Loads the adapter's stored files for the base model. A broken adapter (or one whose files went missing or
    /// changed size since the open) is a `.broken` error saying why; the row is marked broken too.
    /// Before loading, the store directory's sizes are checked, and its files are rehashed if their stat stamp
    /// changed since their last successful hash (so loads stay cheap and edits to stored files are caught).
    public func loadAdapter(_ record: AdapterRecord) throws -> PeftAdapter {
        let files = try loadAdapterFiles(record)
        return try markingBrokenOnFailure(record) { try PeftAdapter(files) }
    }

    /// `loadAdapter` up to reading the weights: the stored files checked and opened, for the caller to read where
    /// it wants them (the memory pool reads them straight into its pages).
    public func loadAdapterFiles(_ record: AdapterRecord) throws -> PeftAdapterFiles {
        let (found, recorded) = try withDatabase { db in
            (try Self.adapter(named: record.name, in: db), try Self.recordedStamp(record.sha256, in: db))
        }
        guard let current = found, current.sha256 == record.sha256 else {
            throw RegistryError(.notFound, "adapter \"\(record.name)\" does not exist")
        }
        if let reason = current.brokenReason {
            throw RegistryError(.broken, "adapter \"\(record.name)\" is broken: \(reason); register it again from its source")
        }
        let check = store.check(current.sha256, sizeBytes: current.sizeBytes, recordedStamp: recorded, verification: .changed)
        if let problem = check.problem {
            try markBroken(sha: current.sha256, reason: problem)
            throw RegistryError(.broken, "adapter \"\(record.name)\" is broken: \(problem); register it again from its source")
        }
        if let stamp = check.verifiedStamp {
            try withDatabase { db in try Self.saveStamp(stamp, for: current.sha256, in: db) }
        }
        return try markingBrokenOnFailure(current) {
            try PeftAdapterFiles(directory: storeDirectory(for: current), name: current.name, model: modelConfig)
        }
    }

    /// Runs `load` over `record`'s stored files; when it fails, the adapter is marked broken and the error says why.
    private func markingBrokenOnFailure<T>(_ record: AdapterRecord, _ load: () throws -> T) throws -> T {
        do {
            return try load()
        } catch {
            let reason = "its stored files do not load: \(error)"
            try markBroken(sha: record.sha256, reason: reason)
            throw RegistryError(.broken, "adapter \"\(record.name)\" is broken: \(reason)")
        }
    }

    /// The stat stamp recorded at the store directory's last successful hash.
    static func recordedStamp(_ sha: String, in db: SQLiteConnection) throws -> String? {
        try db.query("SELECT stamp FROM store_stamps WHERE sha256 = ?", sha).first?.string("stamp")
    }

    static func saveStamp(_ stamp: String, for sha: String, in db: SQLiteConnection) throws {
        try db.run("INSERT OR REPLACE INTO store_stamps (sha256, stamp, verified_at) VALUES (?, ?, ?)", sha, stamp, Date())
    }

    private func markBroken(sha: String, reason: String) throws {
        try withDatabase { db in
            try db.transaction {
                let names = try db.query("SELECT name FROM adapters WHERE sha256 = ? AND state = 'ok'", sha).map { try $0.string("name") }
                try db.run("UPDATE adapters SET state = 'broken', broken_reason = ? WHERE sha256 = ? AND state = 'ok'", reason, sha)
                try db.run("DELETE FROM store_stamps WHERE sha256 = ?", sha)
                for name in names {
                    try Self.audit(db, actor: "registry", action: "adapter.broken", subject: name, detail: reason)
                }
            }
        }
    }
}

/// The optional `lorad.json` beside an adapter: `{"description": "...", "scale": 1.0, ...}`; other keys are ignored.
struct LoradJSON {
    var description: String?
    var scale: Double?

    init(_ data: Data?, adapter: String) throws {
        guard let data else { return }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw RegistryError(.invalid, "adapter \"\(adapter)\": lorad.json is not a JSON object")
        }
        if let d = object["description"], !(d is NSNull) {
            guard let s = d as? String else { throw RegistryError(.invalid, "adapter \"\(adapter)\": lorad.json \"description\" must be a string") }
            description = s
        }
        if let v = object["scale"], !(v is NSNull) {
            guard let n = v as? NSNumber, !(v is String) else {
                throw RegistryError(.invalid, "adapter \"\(adapter)\": lorad.json \"scale\" must be a number")
            }
            scale = n.doubleValue
        }
    }
}
