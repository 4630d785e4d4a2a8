/// A span of the text flowing through the pipeline: either text still to be pre-tokenized and tokenized, or an
/// added token already matched (`token >= 0`).
struct Piece: Sendable {
    var start: Int
    var end: Int
    /// The added token's id, or -1 for text.
    var token: Int = -1
    /// Whether the piece starts at offset 0 of the original input (Metaspace `prepend_scheme: first`).
    var atOrigin: Bool = false

    var isText: Bool { token < 0 }
}

/// The pieces of one input over a shared UTF-8 buffer. Splitting stages only rewrite `pieces`; transforming stages
/// (ByteLevel, Metaspace) write a new buffer.
struct PieceList: Sendable {
    var bytes: [UInt8]
    var pieces: [Piece]
}

/// What Split-like pre-tokenizers do with the delimiters they find (HF `SplitDelimiterBehavior`).
enum SplitBehavior: Sendable {
    case removed, isolated, mergedWithPrevious, mergedWithNext, contiguous

    init(json name: String, context: String) throws {
        switch name.lowercased() {
        case "removed": self = .removed
        case "isolated": self = .isolated
        case "mergedwithprevious": self = .mergedWithPrevious
        case "mergedwithnext": self = .mergedWithNext
        case "contiguous": self = .contiguous
        default: throw TokenizerError("\(context) has unknown split behavior \"\(name)\"")
        }
    }
}

/// One span of a piece after matching: a delimiter match or the text between matches.
struct SplitSpan {
    var start: Int
    var end: Int
    var isMatch: Bool
}

/// Reusable buffers for splitting, so a pass over many pieces allocates once.
struct SplitScratch {
    var matches: [Range<Int>] = []
    var spans: [SplitSpan] = []
    var merged: [SplitSpan] = []
}

extension PieceList {
    /// Re-splits every text piece: `findMatches` appends the delimiter matches inside a piece (in order,
    /// non-overlapping); the behaviour decides what becomes of matches and gaps. Empty results are dropped.
    mutating func split(behavior: SplitBehavior, invert: Bool = false,
                        _ findMatches: (UnsafeBufferPointer<UInt8>, Int, Int, inout [Range<Int>]) -> Void) {
        var scratch = SplitScratch()
        var output: [Piece] = []
        output.reserveCapacity(pieces.count * 2)
        bytes.withUnsafeBufferPointer { p in
            for piece in pieces {
                guard piece.isText else { output.append(piece); continue }
                scratch.matches.removeAll(keepingCapacity: true)
                findMatches(p, piece.start, piece.end, &scratch.matches)
                // Matches and gaps, covering the piece (HF `Pattern::find_matches`).
                scratch.spans.removeAll(keepingCapacity: true)
                var previous = piece.start
                for m in scratch.matches {
                    if previous < m.lowerBound { scratch.spans.append(SplitSpan(start: previous, end: m.lowerBound, isMatch: invert)) }
                    scratch.spans.append(SplitSpan(start: m.lowerBound, end: m.upperBound, isMatch: !invert))
                    previous = m.upperBound
                }
                if previous < piece.end { scratch.spans.append(SplitSpan(start: previous, end: piece.end, isMatch: invert)) }
                applyBehavior(behavior, &scratch)
                for span in scratch.merged where span.start < span.end {
                    output.append(Piece(start: span.start, end: span.end, token: -1,
                                        atOrigin: piece.atOrigin && span.start == piece.start))
                }
            }
        }
        pieces = output
    }

    /// HF `NormalizedString::split`'s behaviours; result in `scratch.merged` (isMatch there means "remove").
    private func applyBehavior(_ behavior: SplitBehavior, _ scratch: inout SplitScratch) {
        scratch.merged.removeAll(keepingCapacity: true)
        switch behavior {
        case .isolated:
            for s in scratch.spans { scratch.merged.append(SplitSpan(start: s.start, end: s.end, isMatch: false)) }
        case .removed:
            for s in scratch.spans where !s.isMatch { scratch.merged.append(s) }
        case .mergedWithPrevious:
            var previousMatch = false
            for s in scratch.spans {
                if s.isMatch && !previousMatch, !scratch.merged.isEmpty {
                    scratch.merged[scratch.merged.count - 1].end = s.end
                } else {
                    scratch.merged.append(SplitSpan(start: s.start, end: s.end, isMatch: false))
                }
                previousMatch = s.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for s in scratch.spans.reversed() {
                if s.isMatch && !previousMatch, !scratch.merged.isEmpty {
                    scratch.merged[scratch.merged.count - 1].start = s.start
                } else {
                    scratch.merged.append(SplitSpan(start: s.start, end: s.end, isMatch: false))
                }
                previousMatch = s.isMatch
            }
            scratch.merged.reverse()
        case .contiguous:
            var previousMatch = false
            for s in scratch.spans {
                if s.isMatch == previousMatch, !scratch.merged.isEmpty {
                    scratch.merged[scratch.merged.count - 1].end = s.end
                } else {
                    scratch.merged.append(SplitSpan(start: s.start, end: s.end, isMatch: false))
                }
                previousMatch = s.isMatch
            }
        }
    }

    /// Splits on single characters: every character whose class flags intersect `mask` (or, with
    /// `scalar`, equal it) is its own match (HF's `Fn(char) -> bool` and `char` patterns).
    mutating func split(characterFlags mask: UInt8, behavior: SplitBehavior) {
        split(behavior: behavior) { p, start, end, out in
            var i = start
            while i < end {
                let (scalar, n) = decodeScalar(p, i)
                if CharClass.flags(scalar) & mask != 0 { out.append(i..<(i + n)) }
                i += n
            }
        }
    }

    mutating func split(character: Unicode.Scalar, behavior: SplitBehavior) {
        let target = character.value
        split(behavior: behavior) { p, start, end, out in
            var i = start
            while i < end {
                let (scalar, n) = decodeScalar(p, i)
                if scalar == target { out.append(i..<(i + n)) }
                i += n
            }
        }
    }

    /// Rewrites every text piece through `transform` into a new buffer (token pieces keep their bytes too).
    mutating func transform(_ body: (UnsafeBufferPointer<UInt8>, Piece, inout [UInt8]) -> Void) {
        var newBytes: [UInt8] = []
        newBytes.reserveCapacity(bytes.count + bytes.count / 4 + 16)
        var newPieces: [Piece] = []
        newPieces.reserveCapacity(pieces.count)
        bytes.withUnsafeBufferPointer { p in
            for piece in pieces {
                let start = newBytes.count
                if piece.isText {
                    body(p, piece, &newBytes)
                } else {
                    newBytes.append(contentsOf: UnsafeBufferPointer(rebasing: p[piece.start..<piece.end]))
                }
                var q = piece
                q.start = start
                q.end = newBytes.count
                if !piece.isText || q.end > q.start { newPieces.append(q) }
            }
        }
        bytes = newBytes
        pieces = newPieces
    }
}
