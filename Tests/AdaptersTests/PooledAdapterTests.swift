import Adapters
import Foundation
import Model
import Safetensors
import Testing
import TestSupport

/// Adapters read straight from their files into pool pages hold exactly the weights of the same adapter read onto
/// the heap, however the pages cut their rank rows; a bad value fails the read and gives every page back.
@Suite struct PooledAdapterTests {
    static let config = InvalidAdapterTests.config

    /// A pair's A rows [rank, input] and Bᵀ rows [rank, output] as bytes, gathered from its pieces.
    static func gather(_ pair: LoRAPair, input: Int, output: Int) -> (a: [UInt8], b: [UInt8]) {
        var a: [UInt8] = [], b: [UInt8] = []
        for piece in pair.pieces {
            let size = piece.element.byteSize
            a += UnsafeRawBufferPointer(start: piece.a, count: piece.rank * input * size)
            b += UnsafeRawBufferPointer(start: piece.b, count: piece.rank * output * size)
        }
        return (a, b)
    }

    /// A fixture adapter as the file stores it (F32), or rewritten in BF16 / F16 (kept narrow in the pages).
    static func adapterDirectory(_ name: String, _ dtype: DType) throws -> URL {
        let dir = Fixtures.tinyLlama.appendingPathComponent("adapters").appendingPathComponent(name)
        return dtype == .f32 ? dir : try FixtureAdapterTests.rewritten(dir, as: dtype)
    }

    @Test(arguments: [("a0-r4-all", DType.f32), ("a2-r16-all-rslora", .f32), ("a2-r16-all-rslora", .bf16),
                      ("a3-r8-all-alpha24", .f16)], [4096, 16 * 1024, 1 << 20])
    func pagesHoldTheHeapWeights(adapter: (name: String, dtype: DType), pageBytes: Int) throws {
        let dir = try Self.adapterDirectory(adapter.name, adapter.dtype)
        let heap = try PeftAdapter(directory: dir, model: Self.config)
        let files = try PeftAdapterFiles(directory: dir, model: Self.config)
        #expect(files.modules.allSatisfy { $0.element.byteSize == adapter.dtype.byteSize })
        let pages = try PooledAdapter.pagesNeeded(files, pageBytes: pageBytes, config: Self.config)
        let pool = PagePool(budgetBytes: (pages + 3) * pageBytes, pageBytes: pageBytes)
        let pooled = try PooledAdapter(files, pool: pool, config: Self.config)
        #expect(pooled.pageCount == pages)
        #expect(pool.freePages == pool.pageCount - pages)
        var split = false
        for layer in 0..<Self.config.layerCount {
            for projection in Projection.allCases {
                let want = heap.weights.pair(layer: layer, projection)
                let got = pooled.weights.pair(layer: layer, projection)
                #expect((want == nil) == (got == nil), "layer \(layer) \(projection)")
                guard let want, let got else { continue }
                let (input, output) = projection.shape(Self.config)
                #expect(got.rank == want.rank && got.scale == want.scale)
                split = split || got.pieces.count > 1
                let w = Self.gather(want, input: input, output: output)
                let g = Self.gather(got, input: input, output: output)
                #expect(g.a == w.a && g.b == w.b, "layer \(layer) \(projection)")
            }
        }
        // The smallest pages cut pairs into several pieces (that is what the case is for).
        if pageBytes == 4096 { #expect(split) }
    }

    @Test(arguments: [DType.f32, .bf16, .f16])
    func aNonFiniteValueFailsThePagingAndReturnsThePages(dtype: DType) throws {
        let config = try InvalidAdapterTests.fixture().config
        var tensors = try InvalidAdapterTests.fixture().tensors
        let last = tensors.count - 1
        tensors[last].values[tensors[last].values.count - 1] = .nan   // every page is taken before any is written
        let dir = try Fixtures.temporaryDirectory("adapter-inf")
        defer { try? FileManager.default.removeItem(at: dir) }
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("adapter_config.json"))
        try SafetensorsWriter.write(to: dir.appendingPathComponent("adapter_model.safetensors"), tensors: tensors,
                                    dtype: dtype)
        let files = try PeftAdapterFiles(directory: dir, name: "bad", model: Self.config)
        let pool = PagePool(budgetBytes: 64 * 16 * 1024, pageBytes: 16 * 1024)
        #expect {
            _ = try PooledAdapter(files, pool: pool, config: Self.config)
        } throws: { error in
            let text = "\(error)"
            return text.contains("adapter \"bad\"") && text.contains("non-finite")
        }
        #expect(pool.freePages == pool.pageCount)
    }
}
