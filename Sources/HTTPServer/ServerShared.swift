import Synchronization

/// What the public server object, the loop thread and every responder share: configuration, the handler, the
/// loop's mailbox and a few counters. Immutable apart from the atomics.
final class ServerShared: Sendable {
    let configuration: HTTPServerConfiguration
    let handler: @Sendable (HTTPRequest, HTTPResponder) -> Void
    let mailbox: LoopMailbox
    /// Accepted connections not yet closed (written by the loop only).
    let openConnections = Atomic<Int>(0)
    /// Requests handed to the handler whose responses are not yet fully written or abandoned (loop only).
    let inFlight = Atomic<Int>(0)
    /// Set by drain: responses begun from now on say `Connection: close`.
    let draining = Atomic<Bool>(false)

    init(configuration: HTTPServerConfiguration, handler: @escaping @Sendable (HTTPRequest, HTTPResponder) -> Void,
         mailbox: LoopMailbox) {
        self.configuration = configuration
        self.handler = handler
        self.mailbox = mailbox
    }
}
