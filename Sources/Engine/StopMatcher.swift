/// Finds stop strings in generated text as it grows, holding back any tail that might be the start of one, so
/// streamed text never contains (a piece of) a stop string, even when the stop spans token boundaries.
struct StopMatcher {
    let stops: [String]
    private(set) var text = ""        // all text so far (up to a found stop)
    private(set) var emitted = 0      // characters of `text` already released
    private(set) var stopped = false

    init(stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Adds newly decoded text; returns the text that is now safe to release. Sets `stopped` when a stop string
    /// appears (the text is cut before it).
    mutating func append(_ piece: String) -> String {
        guard !stopped else { return "" }
        text += piece
        guard !stops.isEmpty else { return release(upTo: text.count) }
        // Earliest occurrence of any stop string in the unreleased part (a stop may straddle the boundary of
        // released text only if it was a prefix hold-back, so search from the hold-back start).
        let searchStart = text.index(text.startIndex, offsetBy: emitted)
        var cut: String.Index?
        for stop in stops {
            if let r = text.range(of: stop, range: searchStart..<text.endIndex), cut == nil || r.lowerBound < cut! {
                cut = r.lowerBound
            }
        }
        if let cut {
            stopped = true
            text = String(text[..<cut])
            return release(upTo: text.count)
        }
        // Hold back the longest tail that is a proper prefix of some stop string.
        var hold = 0
        for stop in stops {
            let maxLen = min(stop.count - 1, text.count - emitted)
            if maxLen <= hold { continue }
            for len in stride(from: maxLen, to: hold, by: -1) where text.hasSuffix(String(stop.prefix(len))) {
                hold = len
                break
            }
        }
        return release(upTo: text.count - hold)
    }

    /// Releases everything held back (at the end of generation without a stop).
    mutating func flush() -> String { release(upTo: text.count) }

    private mutating func release(upTo end: Int) -> String {
        guard end > emitted else { return "" }
        let from = text.index(text.startIndex, offsetBy: emitted)
        let to = text.index(text.startIndex, offsetBy: end)
        emitted = end
        return String(text[from..<to])
    }
}
