import Foundation

/// RoPE frequency scaling, as the reference understands it.
enum ReferenceRopeScaling: Sendable {
    case none
    case linear(factor: Double)
    case llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositions: Double)
}

/// The architecture facts the reference needs, given directly (not parsed from config.json).
struct ReferenceConfig: Sendable {
    var hidden: Int
    var intermediate: Int
    var layers: Int
    var heads: Int
    var kvHeads: Int
    var headDim: Int
    var vocab: Int
    var eps: Double = 1e-5
    var theta: Double = 10000
    var scaling: ReferenceRopeScaling = .none
    /// Mistral-style window: a query at position t sees keys at positions s with t - window < s <= t.
    var slidingWindow: Int? = nil
}

/// A deliberately naive, scalar Llama-family forward pass over a whole token sequence: no KV cache, no fusion,
/// every position recomputed, Double accumulation. Weights are looked up by their Hugging Face names; a bias is
/// used exactly when its tensor is present.
enum ReferenceForward {
    /// inv_freq_i = 1 / theta^(2i / headDim), then scaled as transformers does.
    static func inverseFrequencies(_ c: ReferenceConfig) -> [Double] {
        let base = (0..<(c.headDim / 2)).map { i in 1 / pow(c.theta, Double(2 * i) / Double(c.headDim)) }
        switch c.scaling {
        case .none:
            return base
        case .linear(let factor):
            return base.map { $0 / factor }
        case .llama3(let factor, let low, let high, let original):
            let lowWavelen = original / low, highWavelen = original / high
            return base.map { f in
                let wavelen = 2 * Double.pi / f
                if wavelen < highWavelen { return f }
                if wavelen > lowWavelen { return f / factor }
                let smooth = (original / wavelen - low) / (high - low)
                return (1 - smooth) * f / factor + smooth * f
            }
        }
    }

    /// Logits at every position: [tokens.count][vocab].
    static func logits(_ c: ReferenceConfig, weights w: [String: [Float]], tokens: [Int]) -> [[Float]] {
        func tensor(_ name: String) -> [Float] {
            guard let t = w[name] else { fatalError("reference: no tensor \(name)") }
            return t
        }
        let n = tokens.count, h = c.hidden, hd = c.headDim
        let embedding = tensor("model.embed_tokens.weight")
        let invFreq = inverseFrequencies(c)

        // Residual stream, one row per position.
        var x: [[Double]] = tokens.map { t in (0..<h).map { Double(embedding[t * h + $0]) } }

        for l in 0..<c.layers {
            let p = "model.layers.\(l)."
            // Attention: norm, projections, RoPE.
            let xn = x.map { rmsNorm($0, tensor(p + "input_layernorm.weight"), c.eps) }
            var q = xn.map { linear(tensor(p + "self_attn.q_proj.weight"), w[p + "self_attn.q_proj.bias"], $0, out: c.heads * hd) }
            var k = xn.map { linear(tensor(p + "self_attn.k_proj.weight"), w[p + "self_attn.k_proj.bias"], $0, out: c.kvHeads * hd) }
            let v = xn.map { linear(tensor(p + "self_attn.v_proj.weight"), w[p + "self_attn.v_proj.bias"], $0, out: c.kvHeads * hd) }
            for t in 0..<n {
                for head in 0..<c.heads { rotate(&q[t], offset: head * hd, headDim: hd, position: t, invFreq: invFreq) }
                for head in 0..<c.kvHeads { rotate(&k[t], offset: head * hd, headDim: hd, position: t, invFreq: invFreq) }
            }
            // Causal softmax attention per head; query head h reads kv head h / (heads / kvHeads).
            let group = c.heads / c.kvHeads
            let scale = 1 / Double(hd).squareRoot()
            var attn = [[Double]](repeating: [Double](repeating: 0, count: c.heads * hd), count: n)
            for t in 0..<n {
                let first = c.slidingWindow.map { max(0, t - $0 + 1) } ?? 0
                for head in 0..<c.heads {
                    let kvh = head / group
                    var scores: [Double] = []
                    for s in first...t {
                        var dot = 0.0
                        for d in 0..<hd { dot += q[t][head * hd + d] * k[s][kvh * hd + d] }
                        scores.append(dot * scale)
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let total = e.reduce(0, +)
                    for (i, s) in (first...t).enumerated() {
                        for d in 0..<hd { attn[t][head * hd + d] += e[i] / total * v[s][kvh * hd + d] }
                    }
                }
            }
            for t in 0..<n {
                let o = linear(tensor(p + "self_attn.o_proj.weight"), w[p + "self_attn.o_proj.bias"], attn[t], out: h)
                for i in 0..<h { x[t][i] += o[i] }
            }
            // MLP: norm, SwiGLU, residual.
            for t in 0..<n {
                let xm = rmsNorm(x[t], tensor(p + "post_attention_layernorm.weight"), c.eps)
                let gate = linear(tensor(p + "mlp.gate_proj.weight"), w[p + "mlp.gate_proj.bias"], xm, out: c.intermediate)
                let up = linear(tensor(p + "mlp.up_proj.weight"), w[p + "mlp.up_proj.bias"], xm, out: c.intermediate)
                let act = zip(gate, up).map { g, u in g / (1 + exp(-g)) * u }
                let down = linear(tensor(p + "mlp.down_proj.weight"), w[p + "mlp.down_proj.bias"], act, out: h)
                for i in 0..<h { x[t][i] += down[i] }
            }
        }
        // Final norm and LM head (the embedding when there is no lm_head tensor: tied).
        let head = w["lm_head.weight"] ?? embedding
        return x.map { row in
            linear(head, nil, rmsNorm(row, tensor("model.norm.weight"), c.eps), out: c.vocab).map { Float($0) }
        }
    }

    /// x / sqrt(mean(x^2) + eps) * w
    static func rmsNorm(_ x: [Double], _ w: [Float], _ eps: Double) -> [Double] {
        let meanSquare = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
        let r = 1 / (meanSquare + eps).squareRoot()
        return x.indices.map { x[$0] * r * Double(w[$0]) }
    }

    /// W[out, in] · x (+ b)
    static func linear(_ W: [Float], _ b: [Float]?, _ x: [Double], out: Int) -> [Double] {
        let inner = x.count
        precondition(W.count == out * inner, "reference: weight of \(W.count) values is not [\(out), \(inner)]")
        return (0..<out).map { o in
            var s = b.map { Double($0[o]) } ?? 0
            for i in 0..<inner { s += Double(W[o * inner + i]) * x[i] }
            return s
        }
    }

    /// Rotate-half RoPE on one head: element i pairs with i + headDim/2, angle = position · inv_freq[i].
    static func rotate(_ v: inout [Double], offset: Int, headDim: Int, position: Int, invFreq: [Double]) {
        let half = headDim / 2
        for i in 0..<half {
            let angle = Double(position) * invFreq[i]
            let a = v[offset + i], b = v[offset + i + half]
            v[offset + i] = a * cos(angle) - b * sin(angle)
            v[offset + i + half] = b * cos(angle) + a * sin(angle)
        }
    }
}
