// The intersection of two byte languages as one automaton: how a pattern or format meets minLength/maxLength (the
// pattern's strings, counted in characters). Only for call-free nodes; states that cannot reach acceptance are
// pruned so the matcher never offers a byte that leads nowhere.

extension RuleDFA {
    /// The product automaton of two call-free nodes.
    static func intersection(_ a: Node, _ b: Node) throws -> RuleDFA {
        let da = try RuleDFA(a, rule: -1), db = try RuleDFA(b, rule: -1)
        var index: [Int64: Int] = [:], pairs: [(Int, Int)] = []
        var product = RuleDFA()
        func intern(_ x: Int, _ y: Int) -> Int {
            let k = Int64(x) << 32 | Int64(y)
            if let i = index[k] { return i }
            index[k] = pairs.count; pairs.append((x, y))
            product.edges.append([]); product.calls.append([]); product.accept.append(da.accept[x] && db.accept[y])
            return pairs.count - 1
        }
        _ = intern(0, 0)
        var i = 0
        while i < pairs.count {
            if pairs.count > GrammarBuilder.maxStatesPerRule {
                throw GrammarError.unsupported(keyword: "", pointer: "", reason: "a pattern with length bounds needs more than \(GrammarBuilder.maxStatesPerRule) automaton states")
            }
            let (x, y) = pairs[i]
            var out: [Edge] = []
            for ea in da.edges[x] {
                for eb in db.edges[y] {
                    let lo = max(ea.lo, eb.lo), hi = min(ea.hi, eb.hi)
                    if lo <= hi { out.append(Edge(lo: lo, hi: hi, to: intern(ea.to, eb.to))) }
                }
            }
            product.edges[i] = out.sorted { $0.lo < $1.lo }
            i += 1
        }
        // Keep only states from which an accepting state is reachable.
        var reverse = [[Int]](repeating: [], count: pairs.count)
        for (s, es) in product.edges.enumerated() { for e in es { reverse[e.to].append(s) } }
        var live = product.accept, work = (0..<pairs.count).filter { product.accept[$0] }
        while let s = work.popLast() { for p in reverse[s] where !live[p] { live[p] = true; work.append(p) } }
        for s in 0..<pairs.count { product.edges[s].removeAll { !live[$0.to] } }
        return product
    }

    /// Every byte string a call-free node does not match, as an automaton (a sink takes the bytes it has no edge
    /// for). Meant to be intersected with the strings that are wanted: on its own it accepts any byte soup.
    static func complement(_ n: Node) throws -> RuleDFA {
        var d = try RuleDFA(n, rule: -1)
        let sink = d.accept.count
        d.edges.append([]); d.calls.append([]); d.accept.append(false)
        for s in 0..<d.edges.count {
            var out: [Edge] = [], next = 0
            for e in d.edges[s].sorted(by: { $0.lo < $1.lo }) {
                if Int(e.lo) > next { out.append(Edge(lo: UInt8(next), hi: e.lo - 1, to: sink)) }
                out.append(e); next = Int(e.hi) + 1
            }
            if next <= 255 { out.append(Edge(lo: UInt8(next), hi: 255, to: sink)) }
            d.edges[s] = out
            d.accept[s].toggle()
        }
        return d
    }
}
