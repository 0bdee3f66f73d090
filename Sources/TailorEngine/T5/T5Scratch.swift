// Working memory of one T5 forward call, kept by its owner (a decoder cache, or one encode call) so that decode
// steps allocate nothing: buffers grow to the largest call seen and are reused after.

final class T5Scratch {
    private(set) var rows = 0, keys = 0
    private let C: Int, I: Int, FF: Int, NH: Int
    private(set) var x: UnsafeMutablePointer<Float>       // (rows, C) residual stream
    private(set) var h: UnsafeMutablePointer<Float>       // (rows, C) normed input
    private(set) var y: UnsafeMutablePointer<Float>       // (rows, C) sublayer output
    private(set) var q: UnsafeMutablePointer<Float>       // (rows, I)
    private(set) var k: UnsafeMutablePointer<Float>       // (rows, I), the encoder's own keys
    private(set) var v: UnsafeMutablePointer<Float>       // (rows, I)
    private(set) var att: UnsafeMutablePointer<Float>     // (rows, I) attention output
    private(set) var bias: UnsafeMutablePointer<Float>    // (NH, rows, keys)
    private(set) var scores: UnsafeMutablePointer<Float>  // (rows, keys)
    private(set) var hidden: UnsafeMutablePointer<Float>  // (rows, FF)
    private(set) var linear: UnsafeMutablePointer<Float>  // (rows, FF), the gated models' linear branch

    init(config c: T5Config) {
        C = c.dim; I = c.inner; FF = c.hiddenDim; NH = c.heads
        x = .allocate(capacity: 0); h = .allocate(capacity: 0); y = .allocate(capacity: 0)
        q = .allocate(capacity: 0); k = .allocate(capacity: 0); v = .allocate(capacity: 0); att = .allocate(capacity: 0)
        bias = .allocate(capacity: 0); scores = .allocate(capacity: 0)
        hidden = .allocate(capacity: 0); linear = .allocate(capacity: 0)
    }

    deinit { free() }

    /// Makes room for `rows` query rows over `keys` keys (the larger of self- and cross-attention lengths).
    func reserve(rows newRows: Int, keys newKeys: Int) {
        guard newRows > rows || newKeys > keys else { return }
        free()
        rows = max(rows, newRows)
        keys = max(keys, newKeys)
        x = .allocate(capacity: rows * C); h = .allocate(capacity: rows * C); y = .allocate(capacity: rows * C)
        q = .allocate(capacity: rows * I); k = .allocate(capacity: rows * I); v = .allocate(capacity: rows * I)
        att = .allocate(capacity: rows * I)
        bias = .allocate(capacity: NH * rows * keys); scores = .allocate(capacity: rows * keys)
        hidden = .allocate(capacity: rows * FF); linear = .allocate(capacity: rows * FF)
    }

    private func free() {
        for p in [x, h, y, q, k, v, att, bias, scores, hidden, linear] { p.deallocate() }
    }
}
