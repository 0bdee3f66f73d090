// A compiled grammar: a recursive transition network, one deterministic byte automaton per rule whose states may
// also call other rules. It is immutable and Sendable, so one compile can serve every matcher (cache it by schema
// text). Building it from Nodes lives here; what the matcher does with it lives in GrammarMatcher.swift.

public final class CompiledGrammar: Sendable {
    // All rules' states in one index space; a matcher's stack frame is just one of these state ids.
    let edgeStart: [Int32]       // (states + 1): byte edges of state s are edgeStart[s]..<edgeStart[s+1]
    let edgeLo: [UInt8], edgeHi: [UInt8], edgeTo: [Int32]
    let callStart: [Int32]       // (states + 1): calls of state s
    let callee: [Int32], callReturn: [Int32]   // callee's start state, and the caller's state after it returns
    let accepting: [Bool]
    /// Accepting with nothing left to read or call: returning here is the same as returning from the rule.
    let isFinal: [Bool]
    let root: Int32
    public var stateCount: Int { accepting.count }

    init(edgeStart: [Int32], edgeLo: [UInt8], edgeHi: [UInt8], edgeTo: [Int32], callStart: [Int32], callee: [Int32],
         callReturn: [Int32], accepting: [Bool], root: Int32) {
        self.edgeStart = edgeStart; self.edgeLo = edgeLo; self.edgeHi = edgeHi; self.edgeTo = edgeTo
        self.callStart = callStart; self.callee = callee; self.callReturn = callReturn
        self.accepting = accepting; self.root = root
        isFinal = (0..<accepting.count).map { accepting[$0] && edgeStart[$0] == edgeStart[$0 + 1] && callStart[$0] == callStart[$0 + 1] }
    }

    /// The state reached from `s` on byte `b`, or -1. Edges of a state are disjoint (the rule automata are DFAs).
    @inline(__always) func next(_ s: Int32, _ b: UInt8) -> Int32 {
        var e = Int(edgeStart[Int(s)])
        let end = Int(edgeStart[Int(s) + 1])
        while e < end {
            if b >= edgeLo[e] && b <= edgeHi[e] { return edgeTo[e] }
            e += 1
        }
        return -1
    }

    func hasByteEdges(_ s: Int32) -> Bool { edgeStart[Int(s)] != edgeStart[Int(s) + 1] }
}

/// Collects rules as Nodes, then lowers each to a DFA (Thompson NFA, subset construction) and links the calls.
struct GrammarBuilder {
    private var rules: [Node?] = []
    /// Beyond this many DFA states in one rule the pattern or length bound is too big to enforce in memory.
    static let maxStatesPerRule = 250_000

    mutating func newRule() -> Int { rules.append(nil); return rules.count - 1 }
    mutating func define(_ r: Int, _ n: Node) { rules[r] = n }
    mutating func add(_ n: Node) -> Int { let r = newRule(); define(r, n); return r }
    /// The keyword and pointer a size refusal of rule n should name (when that rule stands for one keyword).
    private var labels: [Int: (keyword: String, pointer: String)] = [:]
    mutating func add(_ n: Node, label: (keyword: String, pointer: String)) -> Int {
        let r = add(n); labels[r] = label; return r
    }

    func build(root: Int) throws -> CompiledGrammar {
        var dfas: [RuleDFA] = []
        for (i, r) in rules.enumerated() {
            do { dfas.append(try RuleDFA(r ?? .never, rule: i)) } catch let e as GrammarError {
                if let l = labels[i] { throw e.at(keyword: l.keyword, pointer: l.pointer) }
                throw e
            }
        }
        var offset: [Int32] = []
        var total: Int32 = 0
        for d in dfas { offset.append(total); total += Int32(d.accept.count) }
        try checkLeftRecursion(dfas)

        var edgeStart: [Int32] = [0], edgeLo: [UInt8] = [], edgeHi: [UInt8] = [], edgeTo: [Int32] = []
        var callStart: [Int32] = [0], callee: [Int32] = [], callReturn: [Int32] = [], accepting: [Bool] = []
        for (ri, d) in dfas.enumerated() {
            for s in 0..<d.accept.count {
                for e in d.edges[s] { edgeLo.append(e.lo); edgeHi.append(e.hi); edgeTo.append(offset[ri] + Int32(e.to)) }
                for c in d.calls[s] { callee.append(offset[c.rule]); callReturn.append(offset[ri] + Int32(c.to)) }
                edgeStart.append(Int32(edgeLo.count)); callStart.append(Int32(callee.count))
                accepting.append(d.accept[s])
            }
        }
        return CompiledGrammar(edgeStart: edgeStart, edgeLo: edgeLo, edgeHi: edgeHi, edgeTo: edgeTo, callStart: callStart,
                               callee: callee, callReturn: callReturn, accepting: accepting, root: offset[root])
    }

    /// A rule that can reach a call to itself without reading a byte would make the matcher's stack grow forever
    /// ({"$ref": "#"} in an anyOf, say); such grammars are refused here rather than looping at run time.
    private func checkLeftRecursion(_ dfas: [RuleDFA]) throws {
        var nullable = [Bool](repeating: false, count: dfas.count)
        var changed = true
        while changed {
            changed = false
            for (i, d) in dfas.enumerated() where !nullable[i] {
                if d.reachableWithoutBytes(nullable).accepts { nullable[i] = true; changed = true }
            }
        }
        let firstCalls = dfas.map { $0.reachableWithoutBytes(nullable).callees }
        for start in 0..<dfas.count {
            var seen = Set<Int>(), work = Array(firstCalls[start])
            while let r = work.popLast() {
                if r == start { throw GrammarError.unsupported(keyword: "$ref", pointer: "", reason: "a reference recurses without consuming input (left recursion)") }
                if seen.insert(r).inserted { work.append(contentsOf: firstCalls[r]) }
            }
        }
    }
}

struct RuleDFA: Sendable {
    struct Edge { var lo: UInt8, hi: UInt8, to: Int }
    struct Call { var rule: Int, to: Int }
    var edges: [[Edge]] = []
    var calls: [[Call]] = []
    var accept: [Bool] = []

    init() {}

    init(_ node: Node, rule: Int) throws {
        var nfa = NFA()
        let end = nfa.build(node, from: 0)
        nfa.accept.insert(end)
        try determinize(nfa, rule: rule)
    }

    func reachableWithoutBytes(_ nullable: [Bool]) -> (accepts: Bool, callees: Set<Int>) {
        var seen: Set<Int> = [0], work = [0], accepts = false, callees = Set<Int>()
        while let s = work.popLast() {
            if accept[s] { accepts = true }
            for c in calls[s] {
                callees.insert(c.rule)
                if nullable[c.rule], seen.insert(c.to).inserted { work.append(c.to) }
            }
        }
        return (accepts, callees)
    }

    private mutating func determinize(_ nfa: NFA, rule: Int) throws {
        var index: [[Int]: Int] = [:]
        var sets: [[Int]] = []
        func intern(_ s: [Int]) -> Int {
            if let i = index[s] { return i }
            index[s] = sets.count; sets.append(s)
            edges.append([]); calls.append([]); accept.append(s.contains { nfa.accept.contains($0) })
            return sets.count - 1
        }
        var scratch = ClosureScratch(nfa.eps.count)
        _ = intern(nfa.closure([0], &scratch))
        var i = 0
        var memo: [[Int]: Int] = [:]
        while i < sets.count {
            if sets.count > GrammarBuilder.maxStatesPerRule {
                throw GrammarError.unsupported(keyword: "", pointer: "", reason: "the grammar needs more than \(GrammarBuilder.maxStatesPerRule) automaton states in one rule (a long pattern or a large length bound)")
            }
            let set = sets[i]
            var byCallee: [Int: [Int]] = [:]
            var calleeOrder: [Int] = []
            var es: [NFA.ByteEdge] = []
            var cuts: Set<Int> = []
            for s in set {
                for e in nfa.byteEdges[s] { es.append(e); cuts.insert(Int(e.lo)); cuts.insert(Int(e.hi) + 1) }
                for c in nfa.callEdges[s] {
                    if byCallee[c.rule] == nil { calleeOrder.append(c.rule) }
                    byCallee[c.rule, default: []].append(c.to)
                }
            }
            // Split the byte range at every edge boundary; within a piece every byte has the same NFA targets.
            let points = cuts.sorted()
            var out: [Edge] = []
            memo.removeAll(keepingCapacity: true)
            for k in 0..<max(0, points.count - 1) {
                let lo = points[k], hi = points[k + 1] - 1
                var raw: [Int] = []
                for e in es where Int(e.lo) <= lo && Int(e.hi) >= hi { raw.append(e.to) }
                if raw.isEmpty { continue }
                raw.sort()
                let to: Int
                if let m = memo[raw] { to = m } else { to = intern(nfa.closure(raw, &scratch)); memo[raw] = to }
                if let last = out.last, last.to == to, Int(last.hi) + 1 == lo { out[out.count - 1].hi = UInt8(hi) }
                else { out.append(Edge(lo: UInt8(lo), hi: UInt8(hi), to: to)) }
            }
            edges[i] = out
            for r in calleeOrder { let to = intern(nfa.closure(byCallee[r]!, &scratch)); calls[i].append(Call(rule: r, to: to)) }
            i += 1
        }
    }
}

/// Thompson construction: ε-edges, byte-range edges and call edges.
struct NFA {
    struct ByteEdge { var lo: UInt8, hi: UInt8, to: Int }
    struct CallEdge { var rule: Int, to: Int }
    var eps: [[Int]] = [[]]
    var byteEdges: [[ByteEdge]] = [[]]
    var callEdges: [[CallEdge]] = [[]]
    var accept = Set<Int>()

    mutating func newState() -> Int { eps.append([]); byteEdges.append([]); callEdges.append([]); return eps.count - 1 }

    /// Adds `node` starting at state `from`; returns the state where it ends.
    mutating func build(_ node: Node, from: Int) -> Int {
        switch node {
        case .empty:
            return from
        case .never:
            return newState()   // unreachable end: nothing leads there
        case .bytes(let r):
            let t = newState(); byteEdges[from].append(ByteEdge(lo: r.lowerBound, hi: r.upperBound, to: t)); return t
        case .literal(let bs):
            var s = from
            for b in bs { let t = newState(); byteEdges[s].append(ByteEdge(lo: b, hi: b, to: t)); s = t }
            return s
        case .chars(let set):
            let end = newState()
            for r in set.ranges {
                for seq in utf8Sequences(r.lowerBound, r.upperBound) {
                    var s = from
                    for (k, br) in seq.enumerated() {
                        let t = k == seq.count - 1 ? end : newState()
                        byteEdges[s].append(ByteEdge(lo: br.lowerBound, hi: br.upperBound, to: t)); s = t
                    }
                }
            }
            return end
        case .seq(let xs):
            var s = from
            for x in xs { s = build(x, from: s) }
            return s
        case .alt(let xs):
            let end = newState()
            for x in xs where !x.isNever {
                let s = newState(); eps[from].append(s)
                eps[build(x, from: s)].append(end)
            }
            return end
        case .rep(let x, let mn, let mx):
            var s = from
            for _ in 0..<mn { let t = newState(); eps[s].append(t); s = build(x, from: t) }
            if let mx {
                let end = newState()
                eps[s].append(end)
                for _ in mn..<mx {
                    let t = newState(); eps[s].append(t); s = build(x, from: t); eps[s].append(end)
                }
                return end
            }
            let loop = newState(); eps[s].append(loop)
            let body = newState(); eps[loop].append(body)
            eps[build(x, from: body)].append(loop)
            return loop
        case .call(let r):
            let t = newState(); callEdges[from].append(CallEdge(rule: r, to: t)); return t
        case .automaton(let d):
            let base = eps.count
            for _ in d.accept.indices { _ = newState() }
            let end = newState()
            eps[from].append(base)
            for (s, es) in d.edges.enumerated() {
                for e in es { byteEdges[base + s].append(ByteEdge(lo: e.lo, hi: e.hi, to: base + e.to)) }
                if d.accept[s] { eps[base + s].append(end) }
            }
            return end
        }
    }

    /// The ε-closure of `starts`, keeping only states with something to do (or accepting): dropping pure ε-hops
    /// keeps DFA state sets small. `scratch` marks visited states (one generation per call, no allocation).
    func closure(_ starts: [Int], _ scratch: inout ClosureScratch) -> [Int] {
        scratch.generation &+= 1
        let g = scratch.generation
        var work = starts, out: [Int] = []
        for s in starts { scratch.mark[s] = g }
        while let s = work.popLast() {
            if !byteEdges[s].isEmpty || !callEdges[s].isEmpty || accept.contains(s) { out.append(s) }
            for t in eps[s] where scratch.mark[t] != g { scratch.mark[t] = g; work.append(t) }
        }
        return out.sorted()
    }
}

struct ClosureScratch {
    var mark: [Int32]
    var generation: Int32 = 0
    init(_ n: Int) { mark = [Int32](repeating: 0, count: n) }
}
