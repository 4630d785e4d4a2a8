import Foundation

/// A tenant as the registry stores it: who it is (name, optional Unix uid), its limits and its default adapter.
public struct Tenant: Sendable, Equatable, Codable {
    public var name: String
    /// The Unix uid that maps to this tenant over SO_PEERCRED, if any.
    public var uid: UInt32?
    /// Requests this tenant may run at once; nil = unlimited.
    public var maxConcurrent: Int?
    /// Adapters this tenant may own; nil = unlimited.
    public var maxAdapters: Int?
    /// The adapter used when a request names none.
    public var defaultAdapter: String?
    public var createdAt: Date

    public static let defaultName = "default"
}

/// A registered adapter: its metadata, where its files live in the store (by `sha256`), and its health.
public struct AdapterRecord: Sendable, Equatable, Codable {
    public var name: String
    /// The owning tenant.
    public var tenant: String
    /// Visible to every tenant, not just the owner.
    public var isPublic: Bool
    public var description: String
    /// Largest rank over the adapter's modules.
    public var rank: Int
    public var alpha: Double
    /// Targeted projections in layer order, e.g. ["q_proj", "v_proj"].
    public var targetModules: [String]
    /// Content address of the stored files (see `AdapterStore.contentHash`).
    public var sha256: String
    /// Total bytes of the stored files.
    public var sizeBytes: Int
    /// The base model the adapter was registered for.
    public var baseModel: ModelFingerprint
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var requests: Int
    /// The scale requests get unless they ask for another; nil = 1.
    public var scale: Double?
    /// Why the adapter cannot be served (files missing or damaged, another base model); nil when healthy.
    public var brokenReason: String?
    /// Public by an admin's decision: `auto` routes any tenant's requests to it (a tenant's own public adapters
    /// are routed only for that tenant).
    public var publishedByAdmin = false
    /// Kept in the memory pool, also across restarts.
    public var isPinned = false

    public var isBroken: Bool { brokenReason != nil }
}

/// One entry of the audit log: who changed what, and when.
public struct AuditEntry: Sendable, Equatable, Codable {
    public var id: Int
    public var at: Date
    public var actor: String
    public var action: String
    public var subject: String
    public var detail: String
}

/// The steps of a registration, reported to `RegistryOptions.stageHook` (tests kill a child process at each one).
public enum RegistrationStage: String, Sendable, CaseIterable {
    /// The staging directory exists and is locked; nothing is copied yet.
    case staged
    /// adapter_config.json is copied, adapter_model.safetensors is not.
    case afterFirstFile = "after-first-file"
    /// Every file is copied and validated, nothing is fsynced.
    case afterCopyBeforeFsync = "after-copy-before-fsync"
    /// Files and staging directory are fsynced, not yet renamed into the store.
    case afterFsyncBeforeRename = "after-fsync-before-rename"
    /// The store directory is in place; the row is written but its transaction is not committed.
    case afterRenameBeforeCommit = "after-rename-before-commit"
    /// The row is committed.
    case afterCommit = "after-commit"
}

/// Knobs for opening a registry.
public struct RegistryOptions: Sendable {
    /// How much of the store to check at open.
    public enum Verification: String, Sendable {
        /// Check presence and sizes; rehash a store directory only when its files' stat stamp (inode, size,
        /// mtime, ctime) differs from the one recorded at its last successful hash (the default: cheap for big
        /// stores, and any edit to a stored file changes its ctime).
        case changed
        /// Check presence and sizes, and rehash every store directory (catches silent disk corruption too).
        case full
        /// Check presence and sizes only (a same-size edit then shows up when the adapter loads).
        case sizes
    }

    public var verification: Verification
    /// Largest adapter file accepted at registration.
    public var maxFileBytes: Int
    /// Called at each registration stage; tests use it to pause (and kill) a registration at a known point.
    public var stageHook: (@Sendable (RegistrationStage) -> Void)?
    /// Names an adapter may not have because a request's `model` means something else by them: `auto` and the
    /// served base model's id (the daemon adds it).
    public var reservedAdapterNames: Set<String> = ["auto"]

    public init(verification: Verification = .changed, maxFileBytes: Int = 4 << 30,
                stageHook: (@Sendable (RegistrationStage) -> Void)? = nil) {
        self.verification = verification
        self.maxFileBytes = maxFileBytes
        self.stageHook = stageHook
    }
}

/// Names of tenants and adapters: `[a-z0-9][a-z0-9._-]{0,63}`.
enum Names {
    static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func lowerOrDigit(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) }
        guard lowerOrDigit(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { lowerOrDigit($0) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d }
    }

    static func check(_ name: String, what: String) throws {
        guard isValid(name) else {
            throw RegistryError(.invalid, "\(what) name \"\(name)\" is invalid: names match [a-z0-9][a-z0-9._-]{0,63}")
        }
    }
}
