import Foundation
import ModelFactory

/// Resolves `--model DIR|demo` to a Hugging Face model directory. `demo` is the built-in demo model, written once
/// into the cache folder by the same deterministic generator as `lorad make-demo`.
func resolveModelDirectory(_ spec: String?) throws -> URL {
    let spec = spec ?? "demo"
    if spec == "demo" { return try DemoModel.cachedDirectory() }
    let url = URL(fileURLWithPath: spec)
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else {
        throw CommandError("model directory \"\(spec)\" does not exist")
    }
    return url
}
