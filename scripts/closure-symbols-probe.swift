// Not part of any target: scripts/check-closure-symbols.py --self-test compiles it with a test module's options and
// must report its closure pair. Under Swift 6.3 the closure inside #expect and the later `xs.map` closure (same type,
// same enclosing closure) are given one symbol, and `later` is computed by the first one.
import Testing

func probeOuter<T>(_ body: () throws -> T) rethrows -> T { try body() }

func probeOfTheKnownPattern() {
    probeOuter {
        let xs = [1, 2]
        #expect(xs.map { $0 * 10 } == [10, 20])
        let later = xs.map { $0 * 100 }
        #expect(later == [100, 200])
    }
}
