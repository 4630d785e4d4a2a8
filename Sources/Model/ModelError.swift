/// A model directory lorad cannot serve, with the offending file, field or tensor named.
public struct ModelError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
