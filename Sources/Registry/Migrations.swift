/// Schema migrations keyed on `PRAGMA user_version`: `migrations[i]` takes the schema from version i to i + 1.
/// Each step runs in its own IMMEDIATE transaction that re-reads the version first, so concurrent first opens of
/// one database apply each step exactly once, and a failing step leaves the previous version intact.
struct Migrator {
    let migrations: [String]

    var latestVersion: Int { migrations.count }

    /// Brings `db` to `latestVersion`; returns the version found and the version left. Safe to run repeatedly.
    @discardableResult
    func migrate(_ db: SQLiteConnection) throws -> (from: Int, to: Int) {
        let found = try db.userVersion
        guard found <= latestVersion else {
            throw RegistryError(.io, "\(db.path) has schema version \(found), this lorad knows versions up to \(latestVersion) (was it written by a newer lorad?)")
        }
        while true {
            let done = try db.transaction(.immediate) { () throws -> Bool in
                let version = try db.userVersion
                guard version < latestVersion else { return true }
                try db.execute(migrations[version])
                try db.setUserVersion(version + 1)
                return false
            }
            if done { break }
        }
        return (found, try db.userVersion)
    }
}

/// The registry's schema, one entry per version.
enum RegistrySchema {
    static let migrator = Migrator(migrations: [version1, version2, version3])

    /// Version 1: tenants (with their default adapter), tokens (salted hashes only), adapters and the audit log.
    /// Times are integer milliseconds since 1970.
    static let version1 = """
        CREATE TABLE tenants (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            uid INTEGER UNIQUE CHECK (uid IS NULL OR (uid BETWEEN 0 AND 4294967295)),
            max_concurrent INTEGER CHECK (max_concurrent IS NULL OR max_concurrent >= 1),
            max_adapters INTEGER CHECK (max_adapters IS NULL OR max_adapters >= 0),
            default_adapter INTEGER REFERENCES adapters(id) ON DELETE SET NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE adapters (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
            public INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
            description TEXT NOT NULL DEFAULT '',
            rank INTEGER NOT NULL,
            alpha REAL NOT NULL,
            target_modules TEXT NOT NULL,
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
            size_bytes INTEGER NOT NULL,
            base_model TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            last_used_at INTEGER,
            requests INTEGER NOT NULL DEFAULT 0,
            scale REAL,
            state TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'broken')),
            broken_reason TEXT
        );
        CREATE INDEX adapters_by_sha256 ON adapters(sha256);
        CREATE INDEX adapters_by_tenant ON adapters(tenant_id);
        CREATE TABLE tokens (
            id INTEGER PRIMARY KEY,
            tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            lookup TEXT NOT NULL UNIQUE,
            salt BLOB NOT NULL,
            hash BLOB NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX tokens_by_tenant ON tokens(tenant_id);
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        INSERT INTO tenants (name, created_at) VALUES ('default', CAST(strftime('%s', 'now') AS INTEGER) * 1000);
        """

    /// Version 2: the stat stamp of each store directory at its last successful hash, so opening rehashes only
    /// directories whose files changed since.
    static let version2 = """
        CREATE TABLE store_stamps (
            sha256 TEXT PRIMARY KEY,
            stamp TEXT NOT NULL,
            verified_at INTEGER NOT NULL
        );
        """

    /// Version 3: who published an adapter (only admin-published adapters are `auto` candidates for every tenant;
    /// earlier versions let any tenant publish, so existing public adapters start unclaimed) and pins that survive
    /// a restart.
    static let version3 = """
        ALTER TABLE adapters ADD COLUMN published_by_admin INTEGER NOT NULL DEFAULT 0 CHECK (published_by_admin IN (0, 1));
        ALTER TABLE adapters ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));
        """
}
