import Foundation
import ModelFactory
import Safetensors

func makeDemoCommand(_ args: [String]) throws {
    let a = try Arguments(args, options: [], switches: ["help"])
    if a.has("help") {
        print("usage: lorad make-demo DIR\n  writes the demo model (HF layout) and demo adapters (PEFT layout) into DIR\n  example: lorad make-demo /tmp/demo")
        return
    }
    guard a.positional.count == 1 else { throw UsageError("make-demo takes one directory") }
    let dir = URL(fileURLWithPath: a.positional[0])
    try DemoModel.write(to: dir)
    print(dir.path)
}

func makeBenchModelCommand(_ args: [String]) throws {
    let a = try Arguments(args, options: ["shape", "dtype", "adapters", "rank", "seed", "adapter-dtype"], switches: ["help"])
    let shapes = ModelShape.benchShapes.map(\.name)
    if a.has("help") {
        print("""
            usage: lorad make-bench-model DIR [--shape \(shapes.joined(separator: "|"))] [--dtype f32|bf16|f16]
                                              [--adapters N] [--rank R] [--adapter-dtype f32|bf16|f16] [--seed S]
              a randomly initialised, seeded model of a real model's shape, with N PEFT adapters in DIR/adapters
              (adapters in --dtype unless --adapter-dtype says otherwise)
              example: lorad make-bench-model /tmp/tinyllama --shape tinyllama-1.1b --dtype bf16 --adapters 16 --rank 16
            """)
        return
    }
    guard a.positional.count == 1 else { throw UsageError("make-bench-model takes one directory") }
    let shapeName = a.string("shape") ?? "tinyllama-1.1b"
    guard let shape = ModelShape.benchShapes.first(where: { $0.name == shapeName }) else {
        throw UsageError("unknown shape \"\(shapeName)\" (known: \(shapes.joined(separator: ", ")))")
    }
    func floatType(_ option: String, default name: String) throws -> DType {
        guard let t = DType(rawValue: (a.string(option) ?? name).uppercased()), t.isWeightFloat else {
            throw UsageError("--\(option) must be f32, bf16 or f16")
        }
        return t
    }
    let dtype = try floatType("dtype", default: "bf16")
    let dtypeName = dtype.rawValue
    let adapterDType = try floatType("adapter-dtype", default: dtypeName)
    let adapterCount = try a.int("adapters") ?? 0
    let rank = try a.int("rank") ?? 16
    guard (0...4096).contains(adapterCount) else { throw UsageError("--adapters must be 0...4096") }
    guard (1...1024).contains(rank) else { throw UsageError("--rank must be 1...1024") }
    let seed = UInt64(try a.int("seed") ?? 1234)
    let dir = URL(fileURLWithPath: a.positional[0])
    log("writing \(shape.name) (\(dtypeName)) to \(dir.path)")
    try ModelWriter.writeModel(shape: shape, dtype: dtype, seed: seed, to: dir) { log($0) }
    let all = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    for i in 0..<adapterCount {
        let adapterDir = dir.appendingPathComponent("adapters").appendingPathComponent(String(format: "adapter-%03d", i))
        try ModelWriter.writeAdapter(shape: shape, rank: rank, alpha: Double(2 * rank), targets: all,
                                     seed: seed &+ UInt64(1000 + i), dtype: adapterDType, to: adapterDir)
    }
    print(dir.path)
}
