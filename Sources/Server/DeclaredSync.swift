import Foundation
import Registry
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Brings the registry to what `--tenants-file` and `--adapters-file` declare, so every replica reading the same
/// files accepts the same tokens and serves the same adapters. Entries a file declared before and no longer does
/// are removed; tenants and adapters the files never named (made through the API) are left alone. What was applied
/// is kept in `DATA_DIR/declared.json`, so a restart after a file changed still removes what the file dropped.
public final class DeclaredSync: Sendable {
    /// What the files declared at the last application, and how each adapter's source looked then.
    struct Applied: Codable {
        struct Adapter: Codable, Equatable {
            var path: String
            var tenant: String
            var isPublic: Bool
            var scale: Double?
            var stamp: String
            var sha256: String
        }
        var tenants: [String] = []
        var adapters: [String: Adapter] = [:]
    }

    public struct Report: Sendable {
        public var changes: [String] = []
        public var errors: [String] = []
    }

    let service: APIService
    public let tenantsFile: String?
    public let adaptersFile: String?
    let stateFile: URL
    private let applying = Mutex(())

    public init(service: APIService, tenantsFile: String?, adaptersFile: String?) {
        self.service = service
        self.tenantsFile = tenantsFile
        self.adaptersFile = adaptersFile
        self.stateFile = service.registry.dataDirectory.appendingPathComponent("declared.json")
    }

    /// Parses both files (a file that does not parse changes nothing) and applies them. Errors of single entries
    /// (an adapter that fails to register) are reported and the rest is still applied.
    public func apply() throws -> Report {
        let tenants = try tenantsFile.map { try DeclaredFiles.parseTenants(try DeclaredFiles.read($0), path: $0) }
        let adapters = try adaptersFile.map { try DeclaredFiles.parseAdapters(try DeclaredFiles.read($0), path: $0) }
        return applying.withLock { _ in apply(tenants: tenants, adapters: adapters) }
    }

    private func apply(tenants: [DeclaredTenant]?, adapters: [DeclaredAdapter]?) -> Report {
        let registry = service.registry
        var report = Report()
        var state = (try? JSONDecoder().decode(Applied.self, from: Data(contentsOf: stateFile))) ?? Applied()
        func attempt(_ what: String, _ body: () throws -> Void) {
            do { try body() } catch { report.errors.append("\(what): \(error)") }
        }
        // Tenants first: declared adapters may belong to them.
        if let tenants {
            for t in tenants {
                attempt("tenant \(t.name)") {
                    if try registry.applyDeclaredTenant(name: t.name, maxConcurrent: t.maxConcurrent,
                                                        maxAdapters: t.maxAdapters, tokens: t.tokens) {
                        report.changes.append("tenant \(t.name) (\(t.tokens.count) token(s))")
                    }
                }
            }
        }
        if let adapters {
            var applied: [String: Applied.Adapter] = [:]
            for a in adapters {
                attempt("adapter \(a.name)") {
                    let stamp = Self.stamp(a.path)
                    let existing = try registry.adapter(named: a.name, visibleTo: Tenant.defaultName, isAdmin: true)
                    if let existing, let before = state.adapters[a.name], before.sha256 == existing.sha256,
                       before == Applied.Adapter(path: a.path, tenant: a.tenant, isPublic: a.isPublic, scale: a.scale,
                                                 stamp: stamp, sha256: existing.sha256) {
                        applied[a.name] = before
                        return
                    }
                    if let existing { try service.removeAdapter(existing) }
                    let record = try registry.registerAdapter(name: a.name, sourcePath: a.path, tenant: a.tenant,
                                                              isPublic: a.isPublic, scale: a.scale)
                    applied[a.name] = Applied.Adapter(path: a.path, tenant: a.tenant, isPublic: a.isPublic, scale: a.scale,
                                                      stamp: stamp, sha256: record.sha256)
                    report.changes.append("adapter \(a.name) \(existing == nil ? "registered" : "replaced")")
                }
            }
            for name in state.adapters.keys.sorted() where applied[name] == nil && !adapters.contains(where: { $0.name == name }) {
                attempt("adapter \(name)") {
                    if let record = try registry.adapter(named: name, visibleTo: Tenant.defaultName, isAdmin: true) {
                        try service.removeAdapter(record)
                        report.changes.append("adapter \(name) removed")
                    }
                }
            }
            state.adapters = applied
        }
        if let tenants {
            for t in tenants {
                attempt("tenant \(t.name) default_adapter") {
                    guard try registry.tenant(named: t.name)?.defaultAdapter != t.defaultAdapter else { return }
                    try registry.setDefaultAdapter(tenant: t.name, adapter: t.defaultAdapter)
                    report.changes.append("tenant \(t.name) default adapter \(t.defaultAdapter ?? "(none)")")
                }
            }
            let declared = Set(tenants.map(\.name))
            for name in state.tenants where !declared.contains(name) {
                attempt("tenant \(name)") {
                    guard try registry.tenant(named: name) != nil else { return }
                    try registry.deleteTenant(name: name)
                    report.changes.append("tenant \(name) removed")
                }
            }
            state.tenants = tenants.map(\.name)
        }
        attempt("saving \(stateFile.path)") {
            try JSONEncoder().encode(state).write(to: stateFile, options: .atomic)
        }
        return report
    }

    /// What the adapter's files look like on disk (size, mtime, inode of each), to notice a replaced adapter.
    static func stamp(_ directory: String) -> String {
        ["adapter_config.json", "adapter_model.safetensors", "lorad.json"].map { statStamp(directory + "/" + $0) }
            .joined(separator: ":")
    }

    /// The files' stat stamps (Kubernetes swaps a mounted ConfigMap's or Secret's symlink on update).
    public var filesStamp: String {
        [tenantsFile, adaptersFile].compactMap { $0 }.map(Self.statStamp).joined(separator: "|")
    }

    /// Size, mtime and inode of `path` (symlinks followed), or "-" when it is missing.
    static func statStamp(_ path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "-" }
        return "\(st.st_size).\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec).\(st.st_ino)"
    }
}
