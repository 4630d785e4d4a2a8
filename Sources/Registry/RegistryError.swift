import Foundation

/// A registry operation that failed: the kind picks the HTTP status, the message names the tenant, adapter or file.
public struct RegistryError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, coarse enough for the server to map onto a status code.
    public enum Kind: String, Sendable, Equatable {
        case invalid     // 400/422: a bad name, path, adapter file or value
        case notFound    // 404: no such tenant or adapter (or one the caller may not see)
        case conflict    // 409: the name exists, or the tenant still owns adapters
        case forbidden   // 403: the caller may not do this, or the path is outside every adapter root
        case broken      // 500/503: the adapter's stored files are missing or damaged
        case io          // 500: a system call or the database failed
        case limit       // 429/409: a tenant limit (max_adapters) is reached
    }

    public let kind: Kind
    public let message: String
    /// The errno behind an `.io` error, when a system call failed.
    public let errno: Int32?

    public init(_ kind: Kind, _ message: String, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.errno = errno
    }

    public var description: String { message }
}
