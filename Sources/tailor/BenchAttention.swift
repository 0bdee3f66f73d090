// `tailor bench attention`: the training attention alone (blocked forward and backward, causal, one layer of the
// model's shape) at several lengths — milliseconds, GFLOP/s against this machine's sgemm peak, and how far it is from
// the naive attention it replaces. Not the whole step: `tailor train` and `tailor bench train` measure that.
import ArgumentParser
import Foundation
import Logging
import TailorEngine

struct BenchAttention: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attention", abstract: "Blocked attention forward/backward ms and GFLOP/s by length.")
    @Option(help: "Sequence lengths.") var lengths = "260,1000,2000,4000"
    @Option var heads = 9
    @Option(name: .customLong("kv-heads")) var kvHeads = 3
    @Option(name: .customLong("head-dim")) var headDim = 64
    @Option(help: "Timed repetitions per length (the median is reported).") var reps = 5
    @Option(help: "Lengths up to this also run the naive attention (it holds heads × T² floats).") var naiveUpTo = 2048
    @Option var threads: Int?
    @Flag var json = false

    func run() throws {
        var logger = Logger(label: "bench"); logger.logLevel = .warning
        CPURuntime.configure(threads: threads, logger: logger)
        let peak = BenchTrain.sgemmPeak()
        let peakCPU = Self.sgemmPerCPUSecond()
        BenchSupport.log("sgemm peak: \(BenchSupport.round(peak)) GFLOP/s, \(BenchSupport.round(peakCPU)) GFLOP per CPU second")
        let shape = AttentionShape(heads: heads, kvHeads: kvHeads, headDim: headDim, qStride: heads * headDim,
                                   kvStride: kvHeads * headDim)
        let B = attentionBlockSize(headDim: headDim)
        for T in lengths.split(separator: ",").compactMap({ Int($0) }) {
            var rng = SystemRandomNumberGenerator()
            func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &rng) } }
            let q = random(T * shape.qStride), k = random(T * shape.kvStride), v = random(T * shape.kvStride)
            let dout = random(T * shape.qStride)
            var out = [Float](repeating: 0, count: T * shape.qStride), lse = [Float](repeating: 0, count: T * heads)
            var dq = out, dk = [Float](repeating: 0, count: T * shape.kvStride), dv = dk
            var scratch = [Float](repeating: 0, count: max(blockedAttentionForwardScratch(shape, block: B),
                                                           blockedAttentionBackwardScratch(shape, T: T, block: B)))
            var fwd: [Double] = [], bwd: [Double] = [], fwdCPU: [Double] = [], bwdCPU: [Double] = []
            for _ in 0..<(reps + 1) {
                var t = Date(), c = Self.cpuSeconds()
                blockedAttentionForward(&out, &lse, q, k, v, Tq: T, start: 0, firstKey: nil, shape: shape, block: B, scratch: &scratch)
                fwd.append(Date().timeIntervalSince(t)); fwdCPU.append(Self.cpuSeconds() - c)
                t = Date(); c = Self.cpuSeconds()
                blockedAttentionBackward(&dq, &dk, &dv, dout, out, lse, q, k, v, T: T, firstKey: nil, shape: shape, block: B,
                                         scratch: &scratch)
                bwd.append(Date().timeIntervalSince(t)); bwdCPU.append(Self.cpuSeconds() - c)
            }
            fwd.removeFirst(); bwd.removeFirst(); fwdCPU.removeFirst(); bwdCPU.removeFirst()
            // Causal products: T(T+1)/2 (query, key) pairs per head, 2·HD flops per pair per product; 2 products
            // forward (q·kᵀ, p·v), 5 backward (q·kᵀ again, dO·vᵀ, pᵀ·dO, dS·k, dSᵀ·q).
            let pairFlops = Double(T * (T + 1) / 2) * Double(2 * headDim * heads)
            let f = BenchSupport.median(fwd), b = BenchSupport.median(bwd)
            let fc = BenchSupport.median(fwdCPU), bc = BenchSupport.median(bwdCPU)
            var result: [String: Any] = [
                "length": T, "block": B, "forward_ms": BenchSupport.round(f * 1000, 2), "backward_ms": BenchSupport.round(b * 1000, 2),
                "forward_gflops": BenchSupport.round(2 * pairFlops / f / 1e9), "backward_gflops": BenchSupport.round(5 * pairFlops / b / 1e9),
                // Per second of CPU time (all threads): what a shared machine's load does not distort.
                "forward_gflops_per_cpu_s": BenchSupport.round(2 * pairFlops / fc / 1e9),
                "backward_gflops_per_cpu_s": BenchSupport.round(5 * pairFlops / bc / 1e9),
                "sgemm_peak_gflops": BenchSupport.round(peak), "sgemm_peak_gflops_per_cpu_s": BenchSupport.round(peakCPU),
                "threads": KernelThreads.count,
            ]
            if T <= naiveUpTo {
                var o2 = out, probs = [Float](repeating: 0, count: heads * T * T), dprobs = probs
                var dq2 = [Float](repeating: 0, count: dq.count), dk2 = [Float](repeating: 0, count: dk.count), dv2 = dk2
                dq = dq2; dk = dk2; dv = dv2
                blockedAttentionBackward(&dq, &dk, &dv, dout, out, lse, q, k, v, T: T, firstKey: nil, shape: shape, block: B,
                                         scratch: &scratch)
                var t = Date()
                attentionForward(&o2, &probs, q, k, v, Tq: T, start: 0, shape: shape)
                let nf = Date().timeIntervalSince(t)
                t = Date()
                attentionBackward(&dq2, &dk2, &dv2, &dprobs, dout, probs, q, k, v, T: T, shape: shape)
                let nb = Date().timeIntervalSince(t)
                func maxDiff(_ a: [Float], _ b: [Float]) -> Double { Double(zip(a, b).map { abs($0 - $1) }.max() ?? 0) }
                result["naive_forward_ms"] = BenchSupport.round(nf * 1000, 2)
                result["naive_backward_ms"] = BenchSupport.round(nb * 1000, 2)
                result["max_abs_diff_out"] = maxDiff(out, o2)
                result["max_abs_diff_grads"] = max(maxDiff(dq, dq2), maxDiff(dk, dk2), maxDiff(dv, dv2))
            }
            BenchSupport.emit(result, json: json)
        }
    }

    static func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// A training-sized sgemm's GFLOP per second of CPU time, the best of a few runs.
    static func sgemmPerCPUSecond() -> Double {
        let m = 512, n = 1536, k = 576
        let a = [Float](repeating: 0.01, count: m * k), b = [Float](repeating: 0.02, count: n * k)
        var c = [Float](repeating: 0, count: m * n), best = 0.0
        for _ in 0..<8 {
            let t = cpuSeconds()
            Blas.linear(&c, a, b, rows: m, inFeatures: k, outFeatures: n)
            best = max(best, 2 * Double(m * n * k) / (cpuSeconds() - t) / 1e9)
        }
        return best
    }
}
