import Foundation
import ModelFactory

/// Resolves `--model DIR|FILE.gguf|demo` to a Hugging Face model directory, a GGUF file or a directory holding one.
/// `demo` is the built-in demo model, written once into the cache folder by the same deterministic generator as
/// `lorad make-demo`.
func resolveModelDirectory(_ spec: String?) throws -> URL {
    let spec = spec ?? "demo"
    if spec == "demo" { return try DemoModel.cachedDirectory() }
    let url = URL(fileURLWithPath: spec)
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue,
       url.pathExtension.lowercased() == "gguf" {
        return url
    }
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else {
        throw CommandError("model directory \"\(spec)\" does not exist")
    }
    return url
}
