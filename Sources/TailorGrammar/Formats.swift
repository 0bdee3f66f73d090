// `format` values as regular languages over characters. Each admits only strings that are valid for the format (it
// may be stricter than the RFC: documented per entry); a standard format not listed here is refused by the compiler.

enum Formats {
    /// The formats JSON Schema defines. Any other name ("url", "path", "textarea"…) has no meaning a validator
    /// checks, so it is ignored exactly as validators ignore it; a defined one Tailor lacks is refused.
    static let standard: Set<String> = ["date", "time", "date-time", "duration", "email", "idn-email", "hostname",
        "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
        "json-pointer", "relative-json-pointer", "regex"]

    static func node(_ format: String) -> Node? {
        switch format {
        case "date": return date
        case "time": return time
        case "date-time": return .seq([date, .chars(.char("T")), time])
        case "uuid": return uuid
        case "email": return email
        case "uri": return uri
        case "ipv4": return ipv4
        case "hostname": return hostname
        default: return nil
        }
    }

    private static func c(_ s: String) -> Node { .seq(s.unicodeScalars.map { .chars(CodePointSet([$0.value...$0.value])) }) }
    private static func range(_ a: Character, _ b: Character) -> Node {
        .chars(CodePointSet([a.unicodeScalars.first!.value...b.unicodeScalars.first!.value]))
    }
    private static let d = range("0", "9")
    private static let hex = Node.chars(CodePointSet([0x30...0x39, 0x41...0x46, 0x61...0x66]))

    /// RFC 3339 full-date with real calendar days: 29 February only in leap years (a four-digit year makes this
    /// finite, hence regular).
    static let date: Node = {
        let month31 = Node.alt([c("01"), c("03"), c("05"), c("07"), c("08"), c("10"), c("12")])
        let month30 = Node.alt([c("04"), c("06"), c("09"), c("11")])
        let day28 = Node.alt([.seq([c("0"), range("1", "9")]), .seq([c("1"), d]), .seq([c("2"), range("0", "8")])])
        let anyYear = Node.seq([d, d, d, d])
        let leapYear = Node.alt([
            .seq([d, d, .alt([.seq([c("0"), .chars(.chars("48"))]), .seq([.chars(.chars("2468")), .chars(.chars("048"))]),
                              .seq([.chars(.chars("13579")), .chars(.chars("26"))])])]),
            .seq([.alt([.seq([.chars(.chars("02468")), .chars(.chars("048"))]), .seq([.chars(.chars("13579")), .chars(.chars("26"))])]), c("00")]),
        ])
        let monthDay = Node.alt([
            .seq([month31, c("-"), .alt([day28, c("29"), c("30"), c("31")])]),
            .seq([month30, c("-"), .alt([day28, c("29"), c("30")])]),
            .seq([c("02-"), day28]),
        ])
        return .alt([.seq([anyYear, c("-"), monthDay]), .seq([leapYear, c("-02-29")])])
    }()

    /// RFC 3339 full-time. Stricter than the RFC: upper-case "Z" only, and no leap second (:60), which is valid only
    /// at the end of particular days.
    static let time: Node = {
        let hour = Node.alt([.seq([range("0", "1"), d]), .seq([c("2"), range("0", "3")])])
        let minute = Node.seq([range("0", "5"), d])
        let offset = Node.alt([c("Z"), .seq([.chars(.chars("+-")), hour, c(":"), minute])])
        return .seq([hour, c(":"), minute, c(":"), minute, .opt(.seq([c("."), .plus(d)])), offset])
    }()

    static let uuid: Node = {
        func h(_ n: Int) -> Node { .rep(hex, min: n, max: n) }
        return .seq([h(8), c("-"), h(4), c("-"), h(4), c("-"), h(4), c("-"), h(12)])
    }()

    private static let alnum = CodePointSet([0x30...0x39, 0x41...0x5A, 0x61...0x7A])
    private static let label: Node = {
        let inner = Node.chars(alnum.union(.char("-")))
        return .seq([.chars(alnum), .opt(.seq([.rep(inner, min: 0, max: 61), .chars(alnum)]))])
    }()

    /// RFC 5321 addr-spec in dot-atom form only (no quoted local parts, no IP-literal domains): a strict subset.
    static let email: Node = {
        let atext = Node.chars(alnum.union(.chars("!#$%&'*+/=?^_`{|}~-")))
        let dotAtom = Node.seq([.plus(atext), .star(.seq([c("."), .plus(atext)]))])
        return .seq([dotAtom, c("@"), label, .star(.seq([c("."), label]))])
    }()

    /// RFC 1123 host names: dot-separated labels of at most 63 characters. Stricter: no trailing dot.
    static let hostname: Node = .seq([label, .star(.seq([c("."), label]))])

    static let ipv4: Node = {
        let octet = Node.alt([d, .seq([range("1", "9"), d]), .seq([c("1"), d, d]), .seq([c("2"), range("0", "4"), d]), .seq([c("25"), range("0", "5")])])
        return .seq([octet, c("."), octet, c("."), octet, c("."), octet])
    }()

    /// RFC 3986 absolute URI (scheme ":" hier-part [ "?" query ] [ "#" fragment ]). Stricter: no IP-literal
    /// ("[…]") hosts.
    static let uri: Node = {
        let unreserved = alnum.union(.chars("-._~"))
        let subDelims = CodePointSet.chars("!$&'()*+,;=")
        let pct = Node.seq([c("%"), hex, hex])
        let pchar = Node.alt([.chars(unreserved.union(subDelims).union(.chars(":@"))), pct])
        let scheme = Node.seq([.chars(CodePointSet([0x41...0x5A, 0x61...0x7A])), .star(.chars(alnum.union(.chars("+-."))))])
        let userinfo = Node.star(.alt([.chars(unreserved.union(subDelims).union(.char(":"))), pct]))
        let regName = Node.star(.alt([.chars(unreserved.union(subDelims)), pct]))
        let authority = Node.seq([.opt(.seq([userinfo, c("@")])), regName, .opt(.seq([c(":"), .star(d)]))])
        let segment = Node.star(pchar)
        let pathAbEmpty = Node.star(.seq([c("/"), segment]))
        let pathAbsolute = Node.seq([c("/"), .opt(.seq([.plus(pchar), pathAbEmpty]))])
        let pathRootless = Node.seq([.plus(pchar), pathAbEmpty])
        let hier = Node.alt([.seq([c("//"), authority, pathAbEmpty]), pathAbsolute, pathRootless, .empty])
        let qf = Node.star(.alt([pchar, .chars(.chars("/?"))]))
        return .seq([scheme, c(":"), hier, .opt(.seq([c("?"), qf])), .opt(.seq([c("#"), qf]))])
    }()
}
