/// The bytes each token adds to the decoded text, for walking the vocabulary through a grammar (constrained
/// decoding works on bytes, not on token strings).
extension Tokenizer {
    /// The bytes token `id` adds to decoded text in the middle of a sequence: the decoder chain applied to the token
    /// alone, as neither the first token (Metaspace drops its leading space there) nor the last, without the lossy
    /// UTF-8 step (a token may end inside a character). Strip after Fuse, which trims only the ends of the whole
    /// text, is left out. Nil for unknown ids and special tokens (they never stand for text).
    public func tokenBytes(forId id: Int) -> [UInt8]? {
        guard let token = token(forId: id), !isSpecial(id) else { return nil }
        guard let decoder else { return Array(" \(token)".utf8) }   // no decoder: tokens joined with spaces
        var flat: [any TokenDecoder] = []
        func flatten(_ d: any TokenDecoder) {
            if let s = d as? DecoderSequence { s.stages.forEach(flatten) } else { flat.append(d) }
        }
        flatten(decoder)
        var bytes = Array(token.utf8)
        var fused = false
        for stage in flat {
            let text = { String(decoding: bytes, as: UTF8.self) }
            switch stage {
            case is ByteLevelDecoder:
                var out: [UInt8] = []
                ByteLevelDecoder.appendBytes(of: text(), to: &out)
                bytes = out
            case is ByteFallbackDecoder:
                if let b = ByteFallbackDecoder.byteValue(text()) { bytes = [b] }
            case is FuseDecoder:
                fused = true
            case let m as MetaspaceDecoder:
                bytes = Array(m.decode(text(), isFirst: false).utf8)
            case let r as ReplaceDecoder:
                bytes = r.pattern.replaceAll(in: bytes, with: r.content)
            case let s as StripDecoder:
                if !fused { bytes = Array(s.strip(text()).utf8) }
            case let b as BPESuffixDecoder:
                bytes = Array(b.decode(text(), isLast: false).utf8)
            default:
                bytes = Array(stage.decodeChain([text()]).joined().utf8)
            }
        }
        return bytes
    }
}
