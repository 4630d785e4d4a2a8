/// One stage of a streaming decode chain. A stage consumes either discrete tokens or, after a fusing stage
/// (Fuse, ByteLevel, or the no-decoder join), consecutive chunks of one growing text; it emits the same kind of
/// items its batch counterpart would, as early as they can no longer change.
protocol StreamStage {
    /// Whether what this stage emits is chunks of one text (true) or separate tokens (false).
    var outputIsText: Bool { get }
    mutating func push(_ item: String, into out: inout [String])
    mutating func finish(into out: inout [String])
}

/// Incremental detokenization: fed one id at a time, returns the text that became final. The concatenation of
/// everything returned (including `finish()`) equals `Tokenizer.decode` of all ids, and no returned piece ends in
/// the middle of a UTF-8 character or a byte-fallback sequence.
///
/// Each decoder stage runs in streaming form: ByteLevel feeds bytes through an incremental lossy UTF-8 decoder;
/// ByteFallback holds a run of `<0xNN>` tokens until a non-byte token or `finish()` ends it (a valid run can still
/// turn into U+FFFD per byte if an invalid byte follows, so it is not final before); Strip after Fuse drops the
/// leading characters once and holds back trailing candidates; Metaspace treats the first token as Hugging Face
/// does. A chain that has no exact streaming form (for example a regex Replace after Fuse) is decoded in one go
/// at `finish()`.
public final class StreamingDecoder {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    private var stages: [any StreamStage]
    private let streams: Bool
    private var pendingIds: [Int] = []   // for chains that cannot stream

    init(tokenizer: Tokenizer, skipSpecialTokens: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
        let built = StreamingDecoder.makeStages(tokenizer.decoder)
        stages = built ?? []
        streams = built != nil
    }

    private static func makeStages(_ decoder: (any TokenDecoder)?) -> [any StreamStage]? {
        guard let decoder else { return [JoinStage()] }
        var flat: [any TokenDecoder] = []
        func flatten(_ d: any TokenDecoder) {
            if let s = d as? DecoderSequence { s.stages.forEach(flatten) } else { flat.append(d) }
        }
        flatten(decoder)
        var stages: [any StreamStage] = []
        var isText = false
        for d in flat {
            guard let stage = d.makeStreamStage(inputIsText: isText) else { return nil }
            isText = stage.outputIsText
            stages.append(stage)
        }
        return stages
    }

    /// Adds one token id; returns the text that is now final (often empty). Unknown ids are ignored, as in
    /// `decode`.
    public func append(_ id: Int) -> String {
        guard let token = tokenizer.token(forId: id) else { return "" }
        if skipSpecialTokens && tokenizer.isSpecial(id) { return "" }
        guard streams else {
            pendingIds.append(id)
            return ""
        }
        return run([token], finishing: false)
    }

    /// Ends the sequence: returns whatever was held back. The decoder can then be reused for a new sequence.
    public func finish() -> String {
        guard streams else {
            defer { pendingIds.removeAll() }
            return tokenizer.decode(pendingIds, skipSpecialTokens: false)
        }
        let text = run([], finishing: true)
        if let fresh = StreamingDecoder.makeStages(tokenizer.decoder) { stages = fresh }
        return text
    }

    private func run(_ input: [String], finishing: Bool) -> String {
        var items = input
        for index in stages.indices {
            var out: [String] = []
            for item in items { stages[index].push(item, into: &out) }
            if finishing { stages[index].finish(into: &out) }
            items = out
        }
        return items.joined()
    }
}

// MARK: - Stages

/// No decoder: tokens joined with spaces.
struct JoinStage: StreamStage {
    var first = true
    var outputIsText: Bool { true }
    mutating func push(_ item: String, into out: inout [String]) {
        out.append(first ? item : " " + item)
        first = false
    }
    mutating func finish(into out: inout [String]) {}
}

/// A per-token map (stateless stages in token mode).
struct MapStage: StreamStage {
    let transform: (String) -> String
    let outputIsText: Bool
    mutating func push(_ item: String, into out: inout [String]) { out.append(transform(item)) }
    mutating func finish(into out: inout [String]) {}
}

extension DecoderSequence {
    func makeStreamStage(inputIsText: Bool) -> (any StreamStage)? { nil }   // flattened by StreamingDecoder
}

/// ByteLevel: bytes through an incremental lossy UTF-8 decoder; emits text.
struct ByteLevelStreamStage: StreamStage {
    var repairer = UTF8Repairer()
    var outputIsText: Bool { true }
    mutating func push(_ item: String, into out: inout [String]) {
        var bytes: [UInt8] = []
        ByteLevelDecoder.appendBytes(of: item, to: &bytes)
        var decoded: [UInt8] = []
        for b in bytes { repairer.feed(b, into: &decoded) }
        if !decoded.isEmpty { out.append(String(decoding: decoded, as: UTF8.self)) }
    }
    mutating func finish(into out: inout [String]) {
        var decoded: [UInt8] = []
        repairer.finish(into: &decoded)
        if !decoded.isEmpty { out.append(String(decoding: decoded, as: UTF8.self)) }
    }
}

extension ByteLevelDecoder {
    func makeStreamStage(inputIsText: Bool) -> (any StreamStage)? {
        // After a fuse the per-token alphabet check would need the whole text.
        inputIsText ? nil : ByteLevelStreamStage()
    }
}

/// ByteFallback: holds a run of byte tokens until it ends.
struct ByteFallbackStreamStage: StreamStage {
    var run: [UInt8] = []
    var outputIsText: Bool { false }
    mutating func push(_ item: String, into out: inout [String]) {
        if let b = ByteFallbackDecoder.byteValue(item) {
            run.append(b)
            return
        }
        ByteFallbackDecoder.flush(run, into: &out)
        run.removeAll()
        out.append(item)
    }
    mutating func finish(into out: inout [String]) {
        ByteFallbackDecoder.flush(run, into: &out)
        run.removeAll()
    }
}

extension ByteFallbackDecoder {
    func makeStreamStage(inputIsText: Bool) -> (any StreamStage)? {
        inputIsText ? nil : ByteFallbackStreamStage()
    }
}

/// Fuse: from here on, one growing text.
struct FuseStreamStage: StreamStage {
    var outputIsText: Bool { true }
    mutating func push(_ item: String, into out: inout [String]) { if !item.isEmpty { out.append(item) } }
    mutating func finish(into out: inout [String]) {}
}

extension FuseDecoder {
    func makeStreamStage(inputIsText: Bool) -> (any StreamStage)? { FuseStreamStage() }
}

/// Metaspace: in text mode the whole text is the first token.
struct MetaspaceStreamStage: StreamStage {
    let decoder: MetaspaceDecoder
    let outputIsText: Bool
    var index = 0
    mutating func push(_ item: String, into out: inout [String]) {
        out.append(decoder.decode(item, isFirst: outputIsText || index == 0))
        index += 1
    }
    mutating func finish(into out: inout [String]) {}
}

extension MetaspaceDecoder {
    func makeStreamStage(inputIsText: Bool) -> (any StreamStage)? {
        MetaspaceStreamStage(decoder: self, outputIsText: inputIsText)
    }
}

/// Replace of a literal inside one growing text: holds back the bytes that could start a match.
struct ReplaceTextStreamStage: StreamStage {
    let matcher: LiteralMatcher
    let content: [UInt8]
    var buffer: [UInt8] = []
    var outputIsText: Bool { true }

    mutating func push(_ item: String, into out: inout [String]) {
        buffer.append(contentsOf: item.utf8)
        let n = matcher.literal.count
        guard n > 0 else {
            out.append(String(decoding: buffer, as: UTF8.self))
            buffer.removeAll()
            return
        }
        var matches: [Range<Int>] = []
        buffer.withUnsafeBufferPointer { matcher.findMatches($0, 0, $0.count, into: &matches) }
        var emitted: [UInt8] = []
        var previous = 0
        for m in matches {
            emitted.append(contentsOf: buffer[previous..<m.lowerBound])
            emitted.append(contentsOf: content)
            previous = m.upperBound
        }
        // Bytes from `keepFrom` on could be the start of a match that is not complete yet.
        var keepFrom = max(previous, buffer.count - (n - 1))
        while keepFrom < buffer.count && keepFrom > previous && buffer[keepFrom] & 0xC0 == 0x80 { keepFrom -= 1 }
        emitted.append(contentsOf: buffer[previous..<keepFrom])
        buffer.removeSubrange(..<keepFrom)
        if !emitted.isEmpty { out.append(String(decoding: emitted, as: UTF8.self)) }
    }

    mutating func finish(into out: inout [String]) {
        if !buffer.isEmpty { out.append(String(decoding: buffer, as: UTF8.self)) }
        buffer.removeAll()
    }
}

extension ReplaceDecoder {
    func makeStreamStage(inputIsText: Bool) -> (any StreamStage)? {
        if !inputIsText {
            let decoder = self
            return MapStage(transform: { decoder.decode($0) }, outputIsText: false)
        }
        guard case .literal(let matcher) = pattern else { return nil }
        return ReplaceTextStreamStage(matcher: matcher, content: content)
    }
}

/// Strip inside one growing text: strips the leading characters once, holds back trailing candidates.
struct StripTextStreamStage: StreamStage {
    let content: Unicode.Scalar
    let stop: Int
    var leadingRemaining: Int
    var leadingDone = false
    var held = 0
    var outputIsText: Bool { true }

    mutating func push(_ item: String, into out: inout [String]) {
        var emitted = String.UnicodeScalarView()
        for s in item.unicodeScalars {
            if !leadingDone {
                if s == content && leadingRemaining > 0 {
                    leadingRemaining -= 1
                    continue
                }
                leadingDone = true
            }
            if stop > 0 && s == content {
                held += 1
                if held > stop {
                    emitted.append(content)
                    held -= 1
                }
                continue
            }
            for _ in 0..<held { emitted.append(content) }
            held = 0
            emitted.append(s)
        }
        if !emitted.isEmpty { out.append(String(emitted)) }
    }

    mutating func finish(into out: inout [String]) {
        held = 0   // the trailing characters `stop` allows to strip
    }
}

extension StripDecoder {
    func makeStreamStage(inputIsText: Bool) -> (any StreamStage)? {
        if !inputIsText {
            let decoder = self
            return MapStage(transform: { decoder.strip($0) }, outputIsText: false)
        }
        return StripTextStreamStage(content: content, stop: stop, leadingRemaining: start)
    }
}

/// BPEDecoder: the last token is decoded differently, so each token waits for the next.
struct BPESuffixStreamStage: StreamStage {
    let decoder: BPESuffixDecoder
    var held: String?
    var outputIsText: Bool { false }
    mutating func push(_ item: String, into out: inout [String]) {
        if let h = held { out.append(decoder.decode(h, isLast: false)) }
        held = item
    }
    mutating func finish(into out: inout [String]) {
        if let h = held { out.append(decoder.decode(h, isLast: true)) }
        held = nil
    }
}

extension BPESuffixDecoder {
    func makeStreamStage(inputIsText: Bool) -> (any StreamStage)? {
        inputIsText ? nil : BPESuffixStreamStage(decoder: self)
    }
}
