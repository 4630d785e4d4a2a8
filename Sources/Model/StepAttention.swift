import CKernels
import Kernels

/// Attention of one step's rows over their sequences' committed KV and the step's own visible rows, with the
/// context split into fixed chunks (Flash-Decoding, CKernels/attention.c) so a long context keeps every thread
/// busy. Built once per step (who sees what is the same in every layer); `run` does one layer. Owned by the forward
/// pass that made it.
final class StepAttention {
    /// One row's context: committed positions c0 ..< c0 + nc, then stepRows[stepStart ..< stepStart + stepCount].
    private struct RowContext {
        var span: Int, c0: Int, nc: Int, stepStart: Int, stepCount: Int, chunks: Int, partBase: Int
        var length: Int { nc + stepCount }
    }

    private let config: ModelConfig
    private let rows: [RowContext]                         // [T]
    private let stepRows: AlignedBuffer<Int32>             // visible step rows of every row, concatenated
    private let blockTables: [AlignedBuffer<UnsafePointer<Float>?>]  // per span: its cache's blocks
    private let items: [(row: Int32, kvHead: Int32, chunk: Int32)]
    private let parts: AlignedBuffer<Float>                // per row: [kvHeads][chunks][group][headDim + 2]
    private let work: Int
    private let blockTokens: Int

    init(batch: StepBatch, config: ModelConfig, blockTokens: Int) {
        self.config = config
        self.blockTokens = blockTokens
        let window = config.slidingWindow ?? Int.max
        let positions = batch.positions
        let group = config.headCount / config.kvHeadCount, kvHeads = config.kvHeadCount, hd = config.headDim
        let chunk = Int(LK_ATTN_CHUNK)
        var rows = [RowContext](repeating: RowContext(span: 0, c0: 0, nc: 0, stepStart: 0, stepCount: 0, chunks: 0,
                                                      partBase: 0), count: batch.rowCount)
        var visible: [Int32] = []
        var partFloats = 0, work = 0
        var items: [(row: Int32, kvHead: Int32, chunk: Int32)] = []
        for (si, span) in batch.spans.enumerated() {
            let committed = span.cache.length
            for r in span.rows {
                let pos = positions[r]
                let lowest = window == Int.max ? 0 : max(0, pos - window + 1)
                let c0 = min(lowest, committed)
                let start = visible.count
                let local = r - span.rows.lowerBound
                for r2 in span.rows {
                    let seen: Bool
                    if let mask = span.mask { seen = mask[local][r2 - span.rows.lowerBound] }
                    else { seen = positions[r2] <= pos && positions[r2] >= lowest }
                    if seen { visible.append(Int32(r2)) }
                }
                var row = RowContext(span: si, c0: c0, nc: committed - c0, stepStart: start,
                                     stepCount: visible.count - start, chunks: 0, partBase: partFloats)
                row.chunks = (row.length + chunk - 1) / chunk
                partFloats += kvHeads * row.chunks * group * (hd + 2)
                work += row.length
                for kvh in 0..<kvHeads {
                    for c in 0..<row.chunks { items.append((Int32(r), Int32(kvh), Int32(c))) }
                }
                rows[r] = row
            }
        }
        self.rows = rows
        self.items = items
        self.work = work * config.headCount * hd
        stepRows = AlignedBuffer(count: max(1, visible.count))
        for (i, v) in visible.enumerated() { stepRows.pointer[i] = v }
        parts = AlignedBuffer(count: max(1, partFloats))
        blockTables = batch.spans.map { span in
            let blocks = span.cache.blockPointers
            let table = AlignedBuffer<UnsafePointer<Float>?>(count: max(1, blocks.count))
            for (i, b) in blocks.enumerated() { table.pointer[i] = UnsafePointer(b) }
            return table
        }
    }

    /// qkv: [T, qDim + 2 kvDim] (q rotated), stepK/stepV: [T, kvDim] (this layer's), out: [T, qDim].
    func run(layer: Int, qkv: UnsafeMutablePointer<Float>, stepK: UnsafeMutablePointer<Float>,
             stepV: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        let hd = config.headDim, group = config.headCount / config.kvHeadCount
        let qDim = config.qDim, kvDim = config.kvDim, qkvDim = qDim + 2 * kvDim
        let scale = 1 / Float(hd).squareRoot()
        let bt = blockTokens
        let kOff = layer * 2 * bt * kvDim, vOff = (layer * 2 + 1) * bt * kvDim
        let chunk = Int(LK_ATTN_CHUNK), partStride = group * (hd + 2)
        let q = SharedPointer(qkv), sk = SharedPointer(stepK), sv = SharedPointer(stepV), o = SharedPointer(out)
        let p = SharedPointer(parts.pointer), visible = SharedPointer(stepRows.pointer)
        let tables = blockTables.map { SharedPointer($0.pointer) }
        let rows = self.rows, items = self.items
        Parallel.forChunks(items.count, minimumPerThread: work > 1 << 16 ? 1 : items.count) { range in
            for i in range {
                let item = items[i], r = Int(item.row), kvh = Int(item.kvHead), c = Int(item.chunk)
                let row = rows[r]
                let n0 = c * chunk, n1 = min(row.length, n0 + chunk)
                lk_attn_partial(q.base + r * qkvDim + kvh * group * hd, group, hd, scale,
                                UnsafePointer(tables[row.span].base), bt, kOff, vOff, kvDim, row.c0, row.nc,
                                sk.base, sv.base, visible.base + row.stepStart, kvh, n0, n1,
                                p.base + row.partBase + (kvh * row.chunks + c) * partStride)
            }
        }
        let heads = config.headCount
        Parallel.forChunks(rows.count, minimumPerThread: work > 1 << 16 ? 1 : rows.count) { range in
            for r in range {
                let row = rows[r]
                for h in 0..<heads {
                    let dst = o.base + r * qDim + h * hd
                    guard row.chunks > 0 else {
                        for d in 0..<hd { dst[d] = 0 }
                        continue
                    }
                    let kvh = h / group, g = h % group
                    lk_attn_combine(p.base + row.partBase + kvh * row.chunks * partStride + g * (hd + 2), row.chunks,
                                    partStride, hd, dst)
                }
            }
        }
    }
}
