import Foundation
@testable import Registry
import Testing
import TestSupport

/// The SQLite layer on its own: binds and reads of every type, NULLs, transactions, and migrations.
@Suite struct SQLiteTests {
    static func scratch() throws -> (SQLiteConnection, URL) {
        let dir = try Fixtures.temporaryDirectory("lorad-sqlite")
        return (try SQLiteConnection(path: dir.appendingPathComponent("t.sqlite").path), dir)
    }

    @Test func walAndForeignKeysAreOn() throws {
        let (db, dir) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try db.query("PRAGMA journal_mode").first?.string("journal_mode") == "wal")
        #expect(try db.query("PRAGMA foreign_keys").first?.int("foreign_keys") == 1)
    }

    @Test func everyTypeRoundTrips() throws {
        let (db, dir) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try db.execute("CREATE TABLE t (i INTEGER, big INTEGER, u INTEGER, b INTEGER, d REAL, s TEXT, x BLOB, e BLOB, at INTEGER)")
        let date = Date(timeIntervalSince1970: 1_700_000_000.123456).storedPrecision
        let text = "héllo, 世界 🦙 'quoted' \"double\""
        let blob: [UInt8] = [0, 1, 2, 0, 255, 0]
        try db.run("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   -42, Int64.max, UInt32.max, true, 3.25e-7, text, blob, [UInt8](), date)
        let row = try #require(try db.query("SELECT * FROM t").first)
        #expect(try row.int("i") == -42)
        #expect(row["big"] == .integer(Int64.max))
        #expect(try row.int("u") == Int(UInt32.max))
        #expect(try row.bool("b") == true)
        #expect(try row.double("d") == 3.25e-7)
        #expect(try row.string("s") == text)
        #expect(try row.blob("x") == blob)
        #expect(row["e"] == .blob([]))
        #expect(try row.date("at") == date)

        // Text with a NUL inside, and the empty string (which must stay text, not NULL).
        try db.run("INSERT INTO t (i, s) VALUES (?, ?)", 1, "a\u{0}b")
        try db.run("INSERT INTO t (i, s) VALUES (?, ?)", 2, "")
        #expect(try db.query("SELECT s FROM t WHERE i = 1").first?.string("s") == "a\u{0}b")
        #expect(try db.query("SELECT s FROM t WHERE i = 2").first?["s"] == .text(""))
    }

    @Test func nullsBindAndReadBack() throws {
        let (db, dir) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try db.execute("CREATE TABLE t (i INTEGER, s TEXT, d REAL, at INTEGER)")
        try db.run("INSERT INTO t VALUES (?, ?, ?, ?)", Int?.none, String?.none, SQLiteValue.null, Date?.none)
        let row = try #require(try db.query("SELECT * FROM t").first)
        #expect(try row.optionalInt("i") == nil)
        #expect(try row.optionalString("s") == nil)
        #expect(try row.optionalDouble("d") == nil)
        #expect(try row.optionalDate("at") == nil)
        #expect(throws: RegistryError.self) { try row.int("i") }
        #expect(throws: RegistryError.self) { try row.string("s") }
        // IS NULL finds them; a bound NULL compares as unknown, like SQL says.
        #expect(try db.query("SELECT count(*) AS n FROM t WHERE i IS ?", Int?.none).first?.int("n") == 1)
        #expect(try db.query("SELECT count(*) AS n FROM t WHERE i = ?", Int?.none).first?.int("n") == 0)
    }

    @Test func wrongParameterCountIsAnError() throws {
        let (db, dir) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try db.execute("CREATE TABLE t (a, b)")
        #expect(throws: SQLiteError.self) { try db.run("INSERT INTO t VALUES (?, ?)", 1) }
        #expect(throws: SQLiteError.self) { try db.query("SELECT * FROM nowhere") }
    }

    @Test func transactionRollsBackOnError() throws {
        let (db, dir) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try db.execute("CREATE TABLE t (k TEXT UNIQUE)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (?)", "a")
                throw Boom()
            }
        }
        #expect(!db.isInTransaction)
        #expect(try db.query("SELECT count(*) AS n FROM t").first?.int("n") == 0)
        // A constraint failure inside the transaction rolls back the earlier insert too.
        do {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (?)", "b")
                try db.run("INSERT INTO t VALUES (?)", "b")
            }
            Issue.record("the duplicate insert should fail")
        } catch let e as SQLiteError {
            #expect(e.isConstraint)
        }
        #expect(try db.query("SELECT count(*) AS n FROM t").first?.int("n") == 0)
        let value = try db.transaction { () throws -> Int in
            try db.run("INSERT INTO t VALUES (?)", "c")
            return 7
        }
        #expect(value == 7)
        #expect(try db.query("SELECT k FROM t").map { try $0.string("k") } == ["c"])
    }

    @Test func migrationsRunOnceInOrder() throws {
        let (db, dir) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let migrator = Migrator(migrations: [
            "CREATE TABLE log (step INTEGER)",
            "INSERT INTO log VALUES (2)",
            "ALTER TABLE log ADD COLUMN note TEXT; INSERT INTO log VALUES (3, 'three')",
        ])
        #expect(try db.userVersion == 0)
        let first = try migrator.migrate(db)
        #expect(first.from == 0 && first.to == 3)
        let second = try migrator.migrate(db)
        #expect(second.from == 3 && second.to == 3)
        #expect(try db.query("SELECT step FROM log ORDER BY step").map { try $0.int("step") } == [2, 3])
        // A newer schema than this code knows is refused rather than touched.
        let older = Migrator(migrations: ["CREATE TABLE log (step INTEGER)"])
        #expect(throws: RegistryError.self) { try older.migrate(db) }
    }

    @Test func failingMigrationKeepsThePreviousVersion() throws {
        let (db, dir) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let migrator = Migrator(migrations: [
            "CREATE TABLE a (x)",
            "CREATE TABLE b (x); INSERT INTO nowhere VALUES (1)",
        ])
        #expect(throws: SQLiteError.self) { try migrator.migrate(db) }
        #expect(try db.userVersion == 1)
        #expect(try db.query("SELECT name FROM sqlite_master WHERE name = 'b'").isEmpty)
    }

    @Test func registrySchemaIsIdempotent() throws {
        let (db, dir) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try RegistrySchema.migrator.migrate(db)
        try RegistrySchema.migrator.migrate(db)
        #expect(try db.userVersion == RegistrySchema.migrator.latestVersion)
        #expect(try db.query("SELECT name FROM tenants").map { try $0.string("name") } == ["default"])
        let tables = Set(try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").map { try $0.string("name") })
        #expect(tables.isSuperset(of: ["tenants", "adapters", "tokens", "audit_log"]))
    }
}
