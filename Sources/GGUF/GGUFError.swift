/// Why a GGUF file was refused or a value could not be read: one message naming the key or tensor at fault.
public struct GGUFError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
