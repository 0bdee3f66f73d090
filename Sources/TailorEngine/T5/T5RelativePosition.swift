// T5's relative position bias: the key–query distance falls into one of `buckets` buckets (exact for short
// distances, logarithmic up to maxDistance, then the last bucket), each with a learned bias per head, added to the
// attention scores. The encoder's buckets are bidirectional (half for keys after the query); the decoder's are
// causal. Only the first layer of each stack has the table; every layer adds the same bias.
import Foundation

/// transformers' T5Attention._relative_position_bucket for `relative = key − query`, in f32 as PyTorch computes it.
func t5RelativeBucket(_ relative: Int, bidirectional: Bool, buckets: Int, maxDistance: Int) -> Int {
    var n = buckets, bucket = 0, distance: Int
    if bidirectional {
        n /= 2
        if relative > 0 { bucket += n }
        distance = abs(relative)
    } else {
        distance = max(-relative, 0)
    }
    let maxExact = n / 2
    if distance < maxExact { return bucket + distance }
    let scaled = log(Float(distance) / Float(maxExact)) / Float(log(Double(maxDistance) / Double(maxExact)))
        * Float(n - maxExact)
    return bucket + min(maxExact + Int(scaled), n - 1)
}

/// bias[NH, Tq, Tk] for queries at positions start..<start+Tq over keys 0..<Tk, from the table (buckets, NH).
func t5PositionBias(_ bias: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>, Tq: Int, Tk: Int, start: Int,
                    bidirectional: Bool, config c: T5Config) {
    for i in 0..<Tq {
        for j in 0..<Tk {
            let b = t5RelativeBucket(j - (start + i), bidirectional: bidirectional, buckets: c.buckets, maxDistance: c.maxDistance)
            for h in 0..<c.heads { bias[(h * Tq + i) * Tk + j] = table[b * c.heads + h] }
        }
    }
}

/// dtable (buckets, NH) += dbias (NH, Tq, Tk) summed over the query–key pairs of each bucket: t5PositionBias's backward.
func t5PositionBiasBackward(_ dtable: UnsafeMutablePointer<Float>, _ dbias: UnsafePointer<Float>, Tq: Int, Tk: Int,
                            start: Int, bidirectional: Bool, config c: T5Config) {
    for i in 0..<Tq {
        for j in 0..<Tk {
            let b = t5RelativeBucket(j - (start + i), bidirectional: bidirectional, buckets: c.buckets, maxDistance: c.maxDistance)
            for h in 0..<c.heads { dtable[b * c.heads + h] += dbias[(h * Tq + i) * Tk + j] }
        }
    }
}
