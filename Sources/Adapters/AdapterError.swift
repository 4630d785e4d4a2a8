/// An adapter lorad cannot load, with the adapter and the offending field, tensor or size named.
public struct AdapterError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
