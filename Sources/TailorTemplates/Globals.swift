// The global functions transformers gives chat templates: range, namespace, dict, raise_exception, strftime_now.
// strftime here is C-locale only (English month and day names), which is what Python uses by default.
import Foundation

extension Renderer {
    /// The global function called `name`, if there is one.
    func global(_ name: String) -> Value? {
        switch name {
        case "range": return .function(Function("range") { arguments in
                let bounds = try arguments.positional.map { value -> Int in
                    guard case .int(let number) = value else {
                        throw TemplateError(.type, "'\(value.typeName)' object cannot be interpreted as an integer")
                    }
                    return number
                }
                let (start, stop, step): (Int, Int, Int)
                switch bounds.count {
                case 1: (start, stop, step) = (0, bounds[0], 1)
                case 2: (start, stop, step) = (bounds[0], bounds[1], 1)
                case 3: (start, stop, step) = (bounds[0], bounds[1], bounds[2])
                default: throw TemplateError(.type, "range expected 1 to 3 arguments, got \(bounds.count)")
                }
                guard step != 0 else { throw TemplateError(.type, "range() arg 3 must not be zero") }
                let values = stride(from: start, to: stop, by: step)
                // jinja2's sandbox caps ranges at 100000 items.
                guard values.underestimatedCount <= 100_000 else {
                    throw TemplateError(.security, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).")
                }
                return .list(values.map(Value.int))
            })
        case "namespace": return .function(Function("namespace") { [unowned self] arguments in
                let attributes = try self.dictionary(from: arguments, function: "namespace")
                for case .string(let key) in attributes.keys { try self.checkNamespaceName(key) }
                return .namespace(Namespace(attributes))
            })
        case "dict": return .function(Function("dict") { [unowned self] arguments in
                .dict(try self.dictionary(from: arguments, function: "dict"))
            })
        case "raise_exception": return .function(Function("raise_exception") { arguments in
                throw TemplateError(.raised, arguments.value(0, "message")?.pythonString ?? "")
            })
        case "strftime_now": return .function(Function("strftime_now") { [unowned self] arguments in
                .string(strftime(arguments.value(0, "format")?.pythonString ?? "", self.clock, self.timeZone))
            })
        default: return nil
        }
    }

    /// Python's `dict(*args, **kwargs)`: an optional mapping or sequence of pairs, then keywords.
    private func dictionary(from arguments: CallArguments, function: String) throws -> OrderedDict {
        var dict = OrderedDict()
        if arguments.positional.count > 1 {
            throw TemplateError(.type, "\(function) expected at most 1 argument, got \(arguments.positional.count)")
        }
        switch arguments.positional.first {
        case nil: break
        case .dict(let source)?: dict = source
        case .namespace(let namespace)?: dict = namespace.attributes
        case let source?:
            for pair in try iterate(source) {
                let parts = try iterate(pair)
                guard parts.count == 2, let key = DictKey(parts[0]) else {
                    throw TemplateError(.type, "\(function) needs (key, value) pairs")
                }
                dict[key] = parts[1]
            }
        }
        for (key, value) in arguments.keywords { dict[key] = value }
        return dict
    }
}

private let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
private let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                      "October", "November", "December"]

/// C's strftime in the C locale for the directives templates use; unknown directives are kept as written.
func strftime(_ format: String, _ date: Date, _ timeZone: TimeZone) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = timeZone
    let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday, .nanosecond], from: date)
    let year = parts.year!, month = parts.month!, day = parts.day!, hour = parts.hour!
    let minute = parts.minute!, second = parts.second!, weekday = parts.weekday! - 1
    let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date)!
    func pad(_ number: Int, _ width: Int = 2, _ fill: Character = "0") -> String {
        let text = String(number)
        return String(repeating: fill, count: max(0, width - text.count)) + text
    }
    var out = ""
    var characters = format[...]
    while let character = characters.popFirst() {
        guard character == "%", let directive = characters.popFirst() else {
            out.append(character)
            continue
        }
        switch directive {
        case "a": out += weekdays[weekday].prefix(3)
        case "A": out += weekdays[weekday]
        case "b", "h": out += months[month - 1].prefix(3)
        case "B": out += months[month - 1]
        case "d": out += pad(day)
        case "e": out += pad(day, 2, " ")
        case "H": out += pad(hour)
        case "I": out += pad(hour % 12 == 0 ? 12 : hour % 12)
        case "j": out += pad(dayOfYear, 3)
        case "m": out += pad(month)
        case "M": out += pad(minute)
        case "p": out += hour < 12 ? "AM" : "PM"
        case "S": out += pad(second)
        case "f": out += pad((parts.nanosecond ?? 0) / 1000, 6)
        case "w": out += String(weekday)
        case "y": out += pad(year % 100)
        case "Y": out += String(year)
        case "F": out += "\(year)-\(pad(month))-\(pad(day))"
        case "T": out += "\(pad(hour)):\(pad(minute)):\(pad(second))"
        case "D": out += "\(pad(month))/\(pad(day))/\(pad(year % 100))"
        case "c": out += "\(weekdays[weekday].prefix(3)) \(months[month - 1].prefix(3)) \(pad(day, 2, " ")) \(pad(hour)):\(pad(minute)):\(pad(second)) \(year)"
        case "x": out += "\(pad(month))/\(pad(day))/\(pad(year % 100))"
        case "X": out += "\(pad(hour)):\(pad(minute)):\(pad(second))"
        case "Z": out += timeZone.abbreviation(for: date) ?? ""
        case "z":
            let offset = timeZone.secondsFromGMT(for: date) / 60
            out += (offset < 0 ? "-" : "+") + pad(abs(offset) / 60) + pad(abs(offset) % 60)
        case "%": out += "%"
        default: out += "%\(directive)"
        }
    }
    return out
}
