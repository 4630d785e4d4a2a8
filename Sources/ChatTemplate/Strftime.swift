// `datetime.now().strftime(format)` for transformers' `strftime_now`: local time, C-locale (English) names.

import Foundation

enum Strftime {
    private static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    private static let months = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
        "December",
    ]

    /// Formats `date` in the local time zone; unknown directives are kept as written, as glibc does.
    static func format(_ format: String, _ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var tm = tm()
        localtime_r(&t, &tm)
        let year = Int(tm.tm_year) + 1900
        let month = Int(tm.tm_mon), day = Int(tm.tm_mday), weekday = Int(tm.tm_wday), yearDay = Int(tm.tm_yday)
        let hour = Int(tm.tm_hour), minute = Int(tm.tm_min), second = Int(tm.tm_sec)
        let offset = Int(tm.tm_gmtoff)
        let zone = tm.tm_zone.map { String(cString: $0) } ?? ""

        func expand(_ c: Character, pad: Character?) -> String? {
            func num(_ n: Int, _ width: Int, _ defaultPad: Character = "0") -> String {
                let digits = String(n)
                let fill = pad ?? defaultPad
                if fill == "-" { return digits }
                return String(repeating: fill, count: max(0, width - digits.count)) + digits
            }
            switch c {
            case "a": return String(weekdays[weekday].prefix(3))
            case "A": return weekdays[weekday]
            case "b", "h": return String(months[month].prefix(3))
            case "B": return months[month]
            case "c":
                return "\(weekdays[weekday].prefix(3)) \(months[month].prefix(3)) \(num(day, 2, " ")) "
                    + "\(num(hour, 2)):\(num(minute, 2)):\(num(second, 2)) \(year)"
            case "C": return num(year / 100, 2)
            case "d": return num(day, 2)
            case "e": return num(day, 2, " ")
            case "D", "x": return "\(num(month + 1, 2))/\(num(day, 2))/\(num(year % 100, 2))"
            case "F": return "\(num(year, 4))-\(num(month + 1, 2))-\(num(day, 2))"
            case "H": return num(hour, 2)
            case "I": return num(hour % 12 == 0 ? 12 : hour % 12, 2)
            case "j": return num(yearDay + 1, 3)
            case "k": return num(hour, 2, " ")
            case "l": return num(hour % 12 == 0 ? 12 : hour % 12, 2, " ")
            case "m": return num(month + 1, 2)
            case "M": return num(minute, 2)
            case "n": return "\n"
            case "p": return hour < 12 ? "AM" : "PM"
            case "P": return hour < 12 ? "am" : "pm"
            case "R": return "\(num(hour, 2)):\(num(minute, 2))"
            case "S": return num(second, 2)
            case "t": return "\t"
            case "T", "X": return "\(num(hour, 2)):\(num(minute, 2)):\(num(second, 2))"
            case "u": return String(weekday == 0 ? 7 : weekday)
            case "w": return String(weekday)
            case "U": return num((yearDay + 7 - weekday) / 7, 2)
            case "W": return num((yearDay + 7 - (weekday + 6) % 7) / 7, 2)
            case "y": return num(year % 100, 2)
            case "Y": return String(year)
            case "z":
                let m = abs(offset) / 60
                return (offset < 0 ? "-" : "+") + num(m / 60, 2) + num(m % 60, 2)
            case "Z": return zone
            case "%": return "%"
            default: return nil
            }
        }

        var out = ""
        var chars = format.makeIterator()
        while let c = chars.next() {
            guard c == "%" else { out.append(c); continue }
            guard var d = chars.next() else { out.append("%"); break }
            var pad: Character? = nil
            if d == "-" || d == "_" || d == "0" {
                pad = d == "_" ? " " : d
                guard let next = chars.next() else { out += "%" + String(d); break }
                d = next
            }
            if let text = expand(d, pad: pad) {
                out += text
            } else {
                out += "%" + (pad.map { String($0 == " " ? "_" : $0) } ?? "") + String(d)
            }
        }
        return out
    }
}
