import Foundation
import Wire

/// Human output: aligned tables, byte sizes, relative times.
enum Output {
    /// Columns padded to their widest cell; the header row first.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// 1023 B, 1.5 KiB, 12.0 MiB, 3.2 GiB.
    static func size(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// "just now", "5 min ago", "3 h ago", "2 days ago", or "never" for nil.
    static func relative(_ seconds: Int?, now: Date = Date()) -> String {
        guard let seconds else { return "never" }
        let delta = Int(now.timeIntervalSince1970) - seconds
        switch delta {
        case ..<0: return "in the future"
        case 0..<45: return "just now"
        case 45..<3600: return "\(max(1, delta / 60)) min ago"
        case 3600..<86400: return "\(delta / 3600) h ago"
        default: return delta < 2 * 86400 ? "1 day ago" : "\(delta / 86400) days ago"
        }
    }

    static func json(_ object: Any) -> String {
        guard JSONSerialization.isValidJSONObject(object),
              let data = try? JSONSerialization.data(withJSONObject: object,
                                                      options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        else { return "\(object)" }
        return String(decoding: data, as: UTF8.self)
    }

    static func string(_ v: Any?) -> String {
        switch v {
        case nil, is NSNull: return "-"
        case let s as String: return s
        // JSON booleans arrive as NSNumber too: tell them apart from 0 and 1.
        case let n as NSNumber where Fields.isBool(n): return n.boolValue ? "yes" : "no"
        case let n as NSNumber: return n.stringValue
        case let list as [Any]: return list.map { string($0) }.joined(separator: ",")
        default: return "\(v!)"
        }
    }
}
