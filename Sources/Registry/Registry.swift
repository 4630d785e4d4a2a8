import Adapters
import Foundation
import Model
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The adapter registry: tenants, tokens and adapters in `DATA_DIR/registry.sqlite` (WAL), adapter files in the
/// content-addressed store `DATA_DIR/adapters/`. Thread-safe: one connection behind a Mutex; several instances
/// (or processes) may share one data directory, SQLite's locks and the store's flock keep them consistent.
public final class Registry: Sendable {
    public let dataDirectory: URL
    public let baseModel: ModelFingerprint
    public let modelConfig: ModelConfig
    /// What opening found and fixed: adapters marked broken or healthy again, leftovers removed.
    public let startupReport: ReconcileReport
    let options: RegistryOptions
    let store: AdapterStore
    let policy: PathPolicy
    let databasePath: String
    private let connection: Mutex<SQLiteConnection>

    /// Opens (or creates) the registry in `dataDirectory`, migrates its schema, checks every adapter against the
    /// store and `baseModel`, and removes leftovers of interrupted registrations.
    /// `adapterRoots`: the folders adapters may be registered from (`--adapter-root`, plus the demo folder).
    public init(dataDirectory: URL, baseModel: ModelFingerprint, adapterRoots: [URL], modelConfig: ModelConfig,
                options: RegistryOptions = RegistryOptions()) throws {
        guard baseModel.matches(modelConfig) else {
            throw RegistryError(.invalid, "the base-model fingerprint (\(baseModel)) does not describe the model config (\(modelConfig.architecture), hidden size \(modelConfig.hiddenSize), \(modelConfig.layerCount) layers)")
        }
        do {
            try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw RegistryError(.io, "cannot create the data directory \(dataDirectory.path): \(error.localizedDescription)")
        }
        self.dataDirectory = dataDirectory
        self.baseModel = baseModel
        self.modelConfig = modelConfig
        self.options = options
        self.store = try AdapterStore(root: dataDirectory.appendingPathComponent("adapters"))
        self.policy = PathPolicy(roots: adapterRoots, maxFileBytes: options.maxFileBytes)
        let path = dataDirectory.appendingPathComponent("registry.sqlite").path
        self.databasePath = path
        let db: SQLiteConnection
        do {
            // Create the file private to the daemon's user before SQLite opens it (it holds token hashes).
            let fd = try FileOps.open(path, O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
            FileOps.close(fd)
            db = try SQLiteConnection(path: path)
            try RegistrySchema.migrator.migrate(db)
            startupReport = try Self.reconcile(db: db, store: store, baseModel: baseModel, options: options)
        } catch let e as SQLiteError {
            throw RegistryError(.io, "registry database \(path): \(e.message)")
        }
        connection = Mutex(db)
    }

    /// Closes the database; later calls fail with `.io`. (Dropping the last reference closes it too.)
    public func close() {
        connection.withLock { $0.close() }
    }

    /// Runs `body` with the connection held; SQLite failures become `.io` errors naming the database.
    @discardableResult
    func withDatabase<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        do {
            return try connection.withLock { db throws -> T in try body(db) }
        } catch let e as SQLiteError {
            throw RegistryError(.io, "registry database \(databasePath): \(e.message)")
        }
    }

    /// Appends to the audit log (inside the caller's transaction).
    static func audit(_ db: SQLiteConnection, actor: String, action: String, subject: String, detail: String = "") throws {
        try db.run("INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                   Date(), actor, action, subject, detail)
    }

    /// The newest audit entries first.
    public func auditLog(limit: Int = 100) throws -> [AuditEntry] {
        try withDatabase { db in
            try db.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", max(0, limit)).map { row in
                AuditEntry(id: try row.int("id"), at: try row.date("at"), actor: try row.string("actor"),
                           action: try row.string("action"), subject: try row.string("subject"),
                           detail: try row.string("detail"))
            }
        }
    }

    // MARK: Tenants

    static let tenantSelect = """
        SELECT t.*, a.name AS default_adapter_name FROM tenants t LEFT JOIN adapters a ON a.id = t.default_adapter
        """

    static func tenant(from row: SQLiteRow) throws -> Tenant {
        let uid = try row.optionalInt("uid")
        return Tenant(name: try row.string("name"), uid: uid.flatMap { UInt32(exactly: $0) },
                      maxConcurrent: try row.optionalInt("max_concurrent"), maxAdapters: try row.optionalInt("max_adapters"),
                      defaultAdapter: try row.optionalString("default_adapter_name"), createdAt: try row.date("created_at"))
    }

    static func tenant(named name: String, in db: SQLiteConnection) throws -> Tenant? {
        try db.query(tenantSelect + " WHERE t.name = ?", name).first.map(tenant(from:))
    }

    static func tenantID(_ name: String, in db: SQLiteConnection) throws -> Int {
        guard let id = try db.query("SELECT id FROM tenants WHERE name = ?", name).first else {
            throw RegistryError(.notFound, "tenant \"\(name)\" does not exist")
        }
        return try id.int("id")
    }

    /// Creates a tenant. `uid` maps a Unix user to it; limits nil = unlimited.
    public func createTenant(name: String, uid: UInt32? = nil, maxConcurrent: Int? = nil,
                             maxAdapters: Int? = nil) throws -> Tenant {
        try Self.checkTenant(name: name, maxConcurrent: maxConcurrent, maxAdapters: maxAdapters)
        return try withDatabase { db in
            try db.transaction {
                if try Self.tenant(named: name, in: db) != nil {
                    throw RegistryError(.conflict, "tenant \"\(name)\" already exists")
                }
                if let uid, let owner = try db.query("SELECT name FROM tenants WHERE uid = ?", uid).first {
                    throw RegistryError(.conflict, "uid \(uid) already maps to tenant \"\(try owner.string("name"))\"")
                }
                try db.run("INSERT INTO tenants (name, uid, max_concurrent, max_adapters, created_at) VALUES (?, ?, ?, ?, ?)",
                           name, uid, maxConcurrent, maxAdapters, Date())
                let limits = "uid \(uid.map(String.init) ?? "none"), max_concurrent \(maxConcurrent.map(String.init) ?? "none"), max_adapters \(maxAdapters.map(String.init) ?? "none")"
                try Self.audit(db, actor: "admin", action: "tenant.create", subject: name, detail: limits)
                guard let tenant = try Self.tenant(named: name, in: db) else {
                    throw RegistryError(.io, "tenant \"\(name)\" vanished after insert")
                }
                return tenant
            }
        }
    }

    public func tenants() throws -> [Tenant] {
        try withDatabase { db in try db.query(Self.tenantSelect + " ORDER BY t.name").map(Self.tenant(from:)) }
    }

    public func tenant(named name: String) throws -> Tenant? {
        try withDatabase { db in try Self.tenant(named: name, in: db) }
    }

    public func tenant(uid: UInt32) throws -> Tenant? {
        try withDatabase { db in try db.query(Self.tenantSelect + " WHERE t.uid = ?", uid).first.map(Self.tenant(from:)) }
    }

    /// Deletes a tenant and its tokens. Refused (`.conflict`) while it owns adapters: delete those first, so no
    /// adapter disappears as a side effect. The `default` tenant cannot be deleted (`.forbidden`).
    public func deleteTenant(name: String) throws {
        guard name != Tenant.defaultName else {
            throw RegistryError(.forbidden, "tenant \"default\" cannot be deleted: unmapped callers use it")
        }
        try withDatabase { db in
            try db.transaction {
                let id = try Self.tenantID(name, in: db)
                let owned = try db.query("SELECT name FROM adapters WHERE tenant_id = ? ORDER BY name", id)
                    .map { try $0.string("name") }
                guard owned.isEmpty else {
                    throw RegistryError(.conflict, "tenant \"\(name)\" still owns \(owned.count) adapter(s) (\(owned.prefix(5).joined(separator: ", "))); delete them first")
                }
                try db.run("DELETE FROM tenants WHERE id = ?", id)
                try Self.audit(db, actor: "admin", action: "tenant.delete", subject: name)
            }
        }
    }

    /// Sets (or clears, with nil) the adapter a tenant's requests use when they name none. The adapter must be
    /// one the tenant may use: its own or a public one.
    public func setDefaultAdapter(tenant: String, adapter: String?) throws {
        try withDatabase { db in
            try db.transaction {
                let tenantID = try Self.tenantID(tenant, in: db)
                var adapterID: Int? = nil
                if let adapter {
                    guard let row = try db.query("SELECT id, tenant_id, public FROM adapters WHERE name = ?", adapter).first,
                          try row.int("tenant_id") == tenantID || row.bool("public") else {
                        throw RegistryError(.notFound, "adapter \"\(adapter)\" does not exist for tenant \"\(tenant)\"")
                    }
                    adapterID = try row.int("id")
                }
                try db.run("UPDATE tenants SET default_adapter = ? WHERE id = ?", adapterID, tenantID)
                try Self.audit(db, actor: "admin", action: "tenant.default-adapter", subject: tenant, detail: adapter ?? "(none)")
            }
        }
    }
}
