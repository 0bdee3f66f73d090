// A LoRA pair keeps A and Bᵀ in one allocation for the decode kernels; what export and training read back (A, B) must
// be what it was built from, and the adapter's flat table (the decode step's lookup) must hold the same pairs as its
// per-layer dictionaries.
import Testing
@testable import TailorEngine

@Suite struct LoRAPairTests {
    @Test(arguments: [(8, 576, 192), (4, 7, 13), (1, 3, 1)]) func readsBackWhatItWasBuiltFrom(rank: Int, inF: Int, outF: Int) {
        var rng = SeededRandom(seed: UInt64(rank * 100 + outF))
        let a = (0..<(rank * inF)).map { _ in rng.nextGaussian() }, b = (0..<(outF * rank)).map { _ in rng.nextGaussian() }
        let pair = LoRAPair(a: a, b: b, rank: rank)
        #expect(pair.a == a)
        #expect(pair.b == b)
        #expect(pair.aCount == a.count && pair.bCount == b.count)
        let bT = pair.bT
        for o in 0..<outF { for k in 0..<rank { #expect(bT[k * outF + o] == b[o * rank + k]) } }
        #expect(Array(UnsafeBufferPointer(start: pair.aPointer, count: a.count)) == a)
        #expect(Array(UnsafeBufferPointer(start: pair.bTPointer, count: b.count)) == bT)
    }

    @Test func flatTableHoldsEveryLayersPairs() {
        let config = TinyModel.make(seed: 3).config
        let adapter = LoRAParameters.randomAdapter(LoRAConfig(rank: 4, alpha: 8, targets: [.q, .v, .down]), model: config,
                                                   seed: 5, std: 0.1)
        #expect(LoRATarget.allCases.enumerated().allSatisfy { $0.offset == $0.element.index })
        for l in 0..<config.layers {
            for t in LoRATarget.allCases {
                let want = adapter.layers[l][t], got = adapter.pair(layer: l, t)
                #expect((want == nil) == (got == nil), "layer \(l) \(t.moduleName)")
                if let want, let got { #expect(want.aPointer == got.aPointer && want.bTPointer == got.bTPointer) }
            }
        }
    }
}
