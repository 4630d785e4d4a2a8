import Foundation
import Kernels
import Synchronization

/// The Llama-family forward pass over a `StepBatch`. Not reentrant: one thread (the engine's) runs steps.
public final class Transformer: @unchecked Sendable {
    // @unchecked Sendable: immutable weights; the scratch buffers are used only inside `forward`, which one thread
    // calls at a time (documented contract of the engine).
    public let config: ModelConfig
    public let weights: ModelWeights
    public let rope: Rope
    public let kvAllocator: KVBlockAllocator
    private var scratch: Scratch?
    /// Serialises forward passes: the scratch buffers are shared.
    private let busy = Mutex(())

    public init(weights: ModelWeights, blockTokens: Int = 16) {
        self.config = weights.config
        self.weights = weights
        self.rope = Rope(config: weights.config)
        self.kvAllocator = KVBlockAllocator(config: weights.config, blockTokens: blockTokens)
    }

    /// A new, empty KV cache for one sequence.
    public func makeCache() -> KVCache { KVCache(allocator: kvAllocator) }

    /// Runs the step and returns logits [logitRows.count, vocab]. With `commit`, every row's K/V is appended to its
    /// sequence's cache (rows of a span must then be the positions right after the committed ones, in order).
    public func forward(_ batch: StepBatch, commit: Bool = true) throws -> [Float] {
        try busy.withLock { _ in try forwardLocked(batch, commit: commit, hiddenOnly: false) }
    }

    /// Runs the step without committing, then `finish(logits, commit)` while no other step can run: `commit(span,
    /// rows)` appends the K/V of those batch rows (in order) to the span's cache. Lookahead keeps only accepted rows.
    public func forward(_ batch: StepBatch,
                        finish: (_ logits: [Float], _ commit: (SequenceSpan, [Int]) -> Void) throws -> Void) throws {
        try busy.withLock { _ in
            let logits = try forwardLocked(batch, commit: false, hiddenOnly: false)
            try finish(logits) { span, rows in commitRows(span, rows: rows, stepRows: batch.rowCount) }
        }
    }

    /// The mean over `tokens` of the final (normed) hidden states of the base model: [hidden]. Used to compare
    /// prompts with adapter descriptions. Runs on its own temporary cache.
    public func meanHiddenState(tokens: [Int]) throws -> [Float] {
        guard !tokens.isEmpty else { throw ModelError("cannot embed an empty text") }
        var batch = StepBatch()
        batch.append(tokens, cache: makeCache(), wantLogits: false)
        batch.logitRows = Array(0..<tokens.count)
        let rows = try busy.withLock { _ in try forwardLocked(batch, commit: false, hiddenOnly: true) }
        let h = config.hiddenSize
        var mean = [Float](repeating: 0, count: h)
        for r in 0..<tokens.count { for i in 0..<h { mean[i] += rows[r * h + i] } }
        return mean.map { $0 / Float(tokens.count) }
    }

    private func forwardLocked(_ batch: StepBatch, commit: Bool, hiddenOnly: Bool) throws -> [Float] {
        let T = batch.rowCount
        guard T > 0 else { return [] }
        guard batch.positions.count == T else { throw ModelError("step has \(T) tokens but \(batch.positions.count) positions") }
        for t in batch.tokens where t < 0 || t >= config.vocabSize {
            throw ModelError("token id \(t) is outside the vocabulary (0..<\(config.vocabSize))")
        }
        for p in batch.positions where p < 0 {
            throw ModelError("negative position \(p)")
        }
        var covered = 0
        for seg in batch.segments.sorted(by: { $0.rows.lowerBound < $1.rows.lowerBound }) {
            guard seg.rows.lowerBound >= covered, seg.rows.upperBound <= T else {
                throw ModelError("adapter segments overlap or fall outside the step's \(T) rows")
            }
            guard seg.weights.pairs.count == config.layerCount else {
                throw ModelError("adapter has \(seg.weights.pairs.count) layers, the model has \(config.layerCount)")
            }
            covered = seg.rows.upperBound
        }
        let s = scratchFor(rows: T)
        let segments = batch.segments
        let maxRank = segments.map(\.weights.maxRank).max() ?? 0
        let shrink = AlignedBuffer<Float>(count: max(1, segments.reduce(0) { $0 + $1.rows.count } * maxRank))
        /// LoRA deltas of `projection` for every segment: x [T, ldx] -> y [T, ldy] at its columns.
        func lora(_ layer: Int, _ projection: Projection, x: UnsafePointer<Float>, ldx: Int,
                  y: UnsafeMutablePointer<Float>, ldy: Int) {
            guard !segments.isEmpty else { return }
            let (input, output) = projection.shape(config)
            SGMV.apply(segments, layer: layer, projection: projection, x: x, ldx: ldx, inputFeatures: input,
                       y: y, ldy: ldy, outputFeatures: output, shrink: shrink.pointer, maxRank: maxRank)
        }
        let h = config.hiddenSize, inter = config.intermediateSize
        let qDim = config.qDim, kvDim = config.kvDim, qkvDim = qDim + 2 * kvDim
        let half = config.headDim / 2

        // Embedding rows: x [T, hidden]
        for r in 0..<T {
            memcpy(s.x.pointer + r * h, weights.embedding.pointer + batch.tokens[r] * h, h * 4)
        }
        // RoPE tables per row: cos/sin [T, headDim/2]
        for r in 0..<T {
            rope.angles(position: batch.positions[r], cos: s.cos.pointer + r * half, sin: s.sin.pointer + r * half)
        }

        let stepAttention = StepAttention(batch: batch, config: config, blockTokens: kvAllocator.blockTokens)
        for (l, layer) in weights.layers.enumerated() {
            // Attention block.
            for r in 0..<T {
                Vector.rmsNorm(s.x.pointer + r * h, weight: layer.attentionNorm.pointer, eps: config.rmsNormEps,
                               out: s.xn.pointer + r * h, h)
            }
            Matmul.packed(x: s.xn.pointer, rows: T, weight: layer.qkv, y: s.qkv.pointer)
            if let bias = layer.qkvBias {
                for r in 0..<T { Vector.add(s.qkv.pointer + r * qkvDim, bias.pointer, qkvDim) }
            }
            lora(l, .q, x: s.xn.pointer, ldx: h, y: s.qkv.pointer, ldy: qkvDim)
            lora(l, .k, x: s.xn.pointer, ldx: h, y: s.qkv.pointer + qDim, ldy: qkvDim)
            lora(l, .v, x: s.xn.pointer, ldx: h, y: s.qkv.pointer + qDim + kvDim, ldy: qkvDim)
            let stepK = s.stepK.pointer + l * T * kvDim, stepV = s.stepV.pointer + l * T * kvDim
            for r in 0..<T {
                let row = s.qkv.pointer + r * qkvDim
                let c = s.cos.pointer + r * half, sn = s.sin.pointer + r * half
                rope.apply(row, heads: config.headCount, cos: c, sin: sn)
                rope.apply(row + qDim, heads: config.kvHeadCount, cos: c, sin: sn)
                memcpy(stepK + r * kvDim, row + qDim, kvDim * 4)
                memcpy(stepV + r * kvDim, row + qDim + kvDim, kvDim * 4)
            }
            stepAttention.run(layer: l, qkv: s.qkv.pointer, stepK: stepK, stepV: stepV, out: s.attn.pointer)
            // x += attn · Woᵀ
            Matmul.packed(x: s.attn.pointer, rows: T, weight: layer.output, y: s.x.pointer, beta: 1)
            lora(l, .o, x: s.attn.pointer, ldx: qDim, y: s.x.pointer, ldy: h)
            if let bias = layer.outputBias { for r in 0..<T { Vector.add(s.x.pointer + r * h, bias.pointer, h) } }

            // MLP block.
            for r in 0..<T {
                Vector.rmsNorm(s.x.pointer + r * h, weight: layer.mlpNorm.pointer, eps: config.rmsNormEps,
                               out: s.xn.pointer + r * h, h)
            }
            Matmul.packed(x: s.xn.pointer, rows: T, weight: layer.gateUp, y: s.gateUp.pointer)
            if let bias = layer.gateUpBias {
                for r in 0..<T { Vector.add(s.gateUp.pointer + r * 2 * inter, bias.pointer, 2 * inter) }
            }
            lora(l, .gate, x: s.xn.pointer, ldx: h, y: s.gateUp.pointer, ldy: 2 * inter)
            lora(l, .up, x: s.xn.pointer, ldx: h, y: s.gateUp.pointer + inter, ldy: 2 * inter)
            for r in 0..<T {
                let row = s.gateUp.pointer + r * 2 * inter
                Vector.siluMul(row, row + inter, inter)
            }
            // x += silu(gate)·up · Wdownᵀ   (gate part of each row, row stride 2·intermediate)
            Matmul.packed(x: s.gateUp.pointer, ldx: 2 * inter, rows: T, weight: layer.down, y: s.x.pointer, beta: 1)
            lora(l, .down, x: s.gateUp.pointer, ldx: 2 * inter, y: s.x.pointer, ldy: h)
            if let bias = layer.downBias { for r in 0..<T { Vector.add(s.x.pointer + r * h, bias.pointer, h) } }
        }

        // Logits for the rows that need them.
        let R = batch.logitRows.count
        var logits = [Float](repeating: 0, count: hiddenOnly ? 0 : R * config.vocabSize)
        if R > 0 {
            for (i, r) in batch.logitRows.enumerated() {
                Vector.rmsNorm(s.x.pointer + r * h, weight: weights.finalNorm.pointer, eps: config.rmsNormEps,
                               out: s.xn.pointer + i * h, h)
            }
            if hiddenOnly {
                return Array(UnsafeBufferPointer(start: s.xn.pointer, count: R * h))
            }
            logits.withUnsafeMutableBufferPointer { out in
                Matmul.packed(x: s.xn.pointer, rows: R, weight: weights.lmHead, y: out.baseAddress!)
            }
        }
        if commit {
            for span in batch.spans { commitRows(span, rows: Array(span.rows), stepRows: T) }
        }
        return logits
    }

    /// Appends the K/V of `rows` (batch row indices, in order) to the span's cache. Used by `forward(commit:)` and,
    /// for lookahead, with only the accepted rows.
    public func commitRows(_ span: SequenceSpan, rows: [Int], stepRows T: Int) {
        guard let s = scratch else { return }
        let kvDim = config.kvDim
        for r in rows {
            span.cache.append(keys: { l in UnsafePointer(s.stepK.pointer + (l * T + r) * kvDim) },
                              values: { l in UnsafePointer(s.stepV.pointer + (l * T + r) * kvDim) })
        }
    }

    private func scratchFor(rows: Int) -> Scratch {
        if let s = scratch, s.rows >= rows { return s }
        let s = Scratch(config: config, rows: max(rows, scratch?.rows ?? 0))
        scratch = s
        return s
    }

    /// Per-step buffers, sized for `rows` rows.
    private final class Scratch {
        let rows: Int
        let x, xn, qkv, attn, gateUp, cos, sin, stepK, stepV: AlignedBuffer<Float>
        init(config c: ModelConfig, rows T: Int) {
            rows = T
            x = AlignedBuffer(count: T * c.hiddenSize)                    // [T, hidden] residual stream
            xn = AlignedBuffer(count: T * c.hiddenSize)                   // [T, hidden] normed
            qkv = AlignedBuffer(count: T * (c.qDim + 2 * c.kvDim))        // [T, qDim + 2 kvDim]
            attn = AlignedBuffer(count: T * c.qDim)                       // [T, qDim]
            gateUp = AlignedBuffer(count: T * 2 * c.intermediateSize)     // [T, 2 intermediate]
            cos = AlignedBuffer(count: T * c.headDim / 2)                 // [T, headDim/2]
            sin = AlignedBuffer(count: T * c.headDim / 2)
            stepK = AlignedBuffer(count: c.layerCount * T * c.kvDim)      // [layers, T, kvDim]
            stepV = AlignedBuffer(count: c.layerCount * T * c.kvDim)
        }
    }
}
