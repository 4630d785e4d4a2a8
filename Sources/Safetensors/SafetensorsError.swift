/// A safetensors file that cannot be used, with the file and the offending tensor named in the message.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
