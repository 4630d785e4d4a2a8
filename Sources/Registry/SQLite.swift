import CSQLite3
import Foundation

/// A failed SQLite call: the result code, the extended code and SQLite's own message.
struct SQLiteError: Error, CustomStringConvertible {
    let code: Int32
    let extendedCode: Int32
    let message: String

    var description: String { "sqlite: \(message) (code \(extendedCode))" }
    var isConstraint: Bool { code == SQLITE_CONSTRAINT }
    var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
}

/// One value as SQLite stores it.
enum SQLiteValue: Equatable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// A Swift value that binds to a statement parameter.
protocol SQLiteBindable {
    var sqliteValue: SQLiteValue { get }
}

extension SQLiteValue: SQLiteBindable { var sqliteValue: SQLiteValue { self } }
extension Int: SQLiteBindable { var sqliteValue: SQLiteValue { .integer(Int64(self)) } }
extension Int64: SQLiteBindable { var sqliteValue: SQLiteValue { .integer(self) } }
extension UInt32: SQLiteBindable { var sqliteValue: SQLiteValue { .integer(Int64(self)) } }
extension Bool: SQLiteBindable { var sqliteValue: SQLiteValue { .integer(self ? 1 : 0) } }
extension Double: SQLiteBindable { var sqliteValue: SQLiteValue { .real(self) } }
extension String: SQLiteBindable { var sqliteValue: SQLiteValue { .text(self) } }
extension Array: SQLiteBindable where Element == UInt8 { var sqliteValue: SQLiteValue { .blob(self) } }
extension Date: SQLiteBindable { var sqliteValue: SQLiteValue { .integer(self.millisecondsSince1970) } }
extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
    var sqliteValue: SQLiteValue { self?.sqliteValue ?? .null }
}

extension Date {
    /// Dates are stored as integer milliseconds since 1970, so a stored date reads back equal to the one written.
    var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }
    init(millisecondsSince1970 ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }
    /// This date cut to whole milliseconds, as it will read back from the database.
    var storedPrecision: Date { Date(millisecondsSince1970: millisecondsSince1970) }
}

/// One result row: values by column name, with typed getters that name the column when the type is wrong.
struct SQLiteRow {
    let columns: [String: Int]
    let values: [SQLiteValue]

    subscript(_ name: String) -> SQLiteValue { columns[name].map { values[$0] } ?? .null }

    private func fail(_ name: String, _ want: String) -> RegistryError {
        RegistryError(.io, "registry database: column \(name) holds \(self[name]), expected \(want)")
    }

    func int(_ name: String) throws -> Int {
        guard case .integer(let v) = self[name] else { throw fail(name, "an integer") }
        return Int(v)
    }
    func optionalInt(_ name: String) throws -> Int? {
        if case .null = self[name] { return nil }
        return try int(name)
    }
    func double(_ name: String) throws -> Double {
        switch self[name] {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: throw fail(name, "a number")
        }
    }
    func optionalDouble(_ name: String) throws -> Double? {
        if case .null = self[name] { return nil }
        return try double(name)
    }
    func string(_ name: String) throws -> String {
        guard case .text(let v) = self[name] else { throw fail(name, "text") }
        return v
    }
    func optionalString(_ name: String) throws -> String? {
        if case .null = self[name] { return nil }
        return try string(name)
    }
    func blob(_ name: String) throws -> [UInt8] {
        switch self[name] {
        case .blob(let v): return v
        case .text(let v): return Array(v.utf8)
        default: throw fail(name, "a blob")
        }
    }
    func bool(_ name: String) throws -> Bool { try int(name) != 0 }
    func date(_ name: String) throws -> Date { Date(millisecondsSince1970: Int64(try int(name))) }
    func optionalDate(_ name: String) throws -> Date? { try optionalInt(name).map { Date(millisecondsSince1970: Int64($0)) } }
}

/// A prepared statement, reset and rebound on each use. Owned by its connection.
final class SQLiteStatement {
    private let handle: OpaquePointer
    private let db: OpaquePointer
    let sql: String

    init(db: OpaquePointer, sql: String) throws {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw SQLiteError(code: rc, extendedCode: sqlite3_extended_errcode(db),
                              message: "\(String(cString: sqlite3_errmsg(db))) in \"\(sql)\"")
        }
        self.handle = stmt
        self.db = db
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    private func check(_ rc: Int32) throws {
        guard rc == SQLITE_OK else { throw error(rc) }
    }

    private func error(_ rc: Int32) -> SQLiteError {
        SQLiteError(code: rc & 0xff, extendedCode: sqlite3_extended_errcode(db), message: String(cString: sqlite3_errmsg(db)))
    }

    func bind(_ values: [SQLiteValue]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard expected == values.count else {
            throw SQLiteError(code: SQLITE_RANGE, extendedCode: SQLITE_RANGE,
                              message: "\"\(sql)\" takes \(expected) parameters, got \(values.count)")
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            switch value {
            case .null: try check(sqlite3_bind_null(handle, index))
            case .integer(let v): try check(sqlite3_bind_int64(handle, index, v))
            case .real(let v): try check(sqlite3_bind_double(handle, index, v))
            case .text(var v):
                // By byte count, so text with NUL bytes binds whole; an empty string still binds text, not NULL.
                try check(v.withUTF8 { utf8 in
                    utf8.baseAddress.map { p in
                        p.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                            sqlite3_bind_text(handle, index, $0, Int32(utf8.count), transient)
                        }
                    } ?? sqlite3_bind_text(handle, index, "", 0, transient)
                })
            case .blob(let v):
                if v.isEmpty {
                    // An empty blob stays a blob (a null pointer would bind NULL).
                    try check(sqlite3_bind_zeroblob(handle, index, 0))
                } else {
                    try check(v.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32(v.count), transient) })
                }
            }
        }
    }

    /// Runs the statement to completion and returns its rows.
    func rows() throws -> [SQLiteRow] {
        defer { sqlite3_reset(handle) }
        var result: [SQLiteRow] = []
        let count = Int(sqlite3_column_count(handle))
        var columns: [String: Int] = [:]
        for i in 0..<count { columns[String(cString: sqlite3_column_name(handle, Int32(i)))] = i }
        while true {
            let rc = sqlite3_step(handle)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error(rc) }
            var values: [SQLiteValue] = []
            values.reserveCapacity(count)
            for i in 0..<Int32(count) {
                switch sqlite3_column_type(handle, i) {
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(handle, i)))
                case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(handle, i)))
                case SQLITE_TEXT:
                    let p = sqlite3_column_text(handle, i)
                    let n = Int(sqlite3_column_bytes(handle, i))
                    values.append(.text(p.map { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) } ?? ""))
                case SQLITE_BLOB:
                    let p = sqlite3_column_blob(handle, i)
                    let n = Int(sqlite3_column_bytes(handle, i))
                    values.append(.blob(p.map { Array(UnsafeRawBufferPointer(start: $0, count: n)) } ?? []))
                default: values.append(.null)
                }
            }
            result.append(SQLiteRow(columns: columns, values: values))
        }
        return result
    }
}

/// One SQLite connection with WAL, foreign keys, a busy timeout and a cache of prepared statements.
/// Not thread-safe: `Registry` keeps it behind a Mutex.
final class SQLiteConnection {
    enum TransactionKind: String { case deferred = "DEFERRED", immediate = "IMMEDIATE", exclusive = "EXCLUSIVE" }

    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]
    let path: String

    init(path: String, busyTimeoutMilliseconds: Int32 = 10_000) throws {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, extendedCode: rc, message: "cannot open \(path): \(message)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        try execute("PRAGMA foreign_keys = ON")
        let mode = try switchToWAL(timeoutMilliseconds: busyTimeoutMilliseconds)
        guard mode?.lowercased() == "wal" else {
            throw SQLiteError(code: SQLITE_ERROR, extendedCode: SQLITE_ERROR,
                              message: "\(path): cannot switch to WAL (journal_mode is \(mode ?? "unknown"))")
        }
        try execute("PRAGMA synchronous = FULL")
    }

    deinit { close() }

    /// Sets WAL mode and returns the journal mode SQLite reports. Changing the journal mode answers SQLITE_BUSY at
    /// once, without the busy handler, while another connection holds a lock on a new database (several
    /// registries opening one data directory together), so this retries with backoff until the busy timeout.
    private func switchToWAL(timeoutMilliseconds: Int32) throws -> String? {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(timeoutMilliseconds, 0)) * 1_000_000
        var pause: UInt32 = 1_000
        while true {
            do {
                // Reading the mode takes no lock; a database that is already WAL needs no change.
                if let current = try query("PRAGMA journal_mode").first.map({ try $0.string("journal_mode") }),
                   current.lowercased() == "wal" { return current }
                return try query("PRAGMA journal_mode = WAL").first.map { try $0.string("journal_mode") }
            } catch let e as SQLiteError where e.isBusy && DispatchTime.now().uptimeNanoseconds < deadline {
                usleep(pause)
                pause = min(pause * 2, 50_000)
            }
        }
    }

    /// Finalizes every statement and closes the connection; later calls throw.
    func close() {
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    private func db() throws -> OpaquePointer {
        guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, extendedCode: SQLITE_MISUSE, message: "\(path) is closed") }
        return handle
    }

    /// Runs one or more statements without parameters or results.
    func execute(_ sql: String) throws {
        let db = try db()
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &errorMessage)
        guard rc == SQLITE_OK else {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            sqlite3_free(errorMessage)
            throw SQLiteError(code: rc & 0xff, extendedCode: sqlite3_extended_errcode(db), message: message)
        }
    }

    private func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let stmt = try SQLiteStatement(db: try db(), sql: sql)
        statements[sql] = stmt
        return stmt
    }

    func query(_ sql: String, _ binds: any SQLiteBindable...) throws -> [SQLiteRow] {
        try query(sql, arguments: binds.map(\.sqliteValue))
    }

    func query(_ sql: String, arguments: [SQLiteValue]) throws -> [SQLiteRow] {
        let stmt = try statement(sql)
        try stmt.bind(arguments)
        return try stmt.rows()
    }

    /// Runs a statement that returns no rows; returns the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ binds: any SQLiteBindable...) throws -> Int {
        let stmt = try statement(sql)
        try stmt.bind(binds.map(\.sqliteValue))
        _ = try stmt.rows()
        return Int(sqlite3_changes(try db()))
    }

    var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }
    var isInTransaction: Bool { handle.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// Write transactions use IMMEDIATE so they take the write lock up front (waiting up to the busy timeout)
    /// instead of failing with SQLITE_BUSY when a read later upgrades.
    func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        try execute("BEGIN \(kind.rawValue)")
        let result: T
        do {
            result = try body()
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        do {
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        return result
    }

    var userVersion: Int {
        get throws { try query("PRAGMA user_version").first.map { try $0.int("user_version") } ?? 0 }
    }

    func setUserVersion(_ version: Int) throws {
        try execute("PRAGMA user_version = \(version)")
    }
}
