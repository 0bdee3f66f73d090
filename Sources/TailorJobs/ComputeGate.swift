// Who owns the CPU cores right now. Serving has priority: while any chat request is being generated, training waits
// at its next layer boundary (a few tens of milliseconds) and continues when generation goes idle. Both sides use
// all cores while they hold the gate, so OpenBLAS threads and Tailor's kernel threads never compete.
import Foundation

public final class ComputeGate: @unchecked Sendable {
    // @unchecked Sendable: all state is guarded by `condition`.
    private let condition = NSCondition()
    private var inferenceHolders = 0
    private var trainersInside = 0

    public init() {}

    /// Blocks until training has parked, then holds the cores for generation.
    public func beginInference() {
        condition.lock()
        inferenceHolders += 1
        while trainersInside > 0 { condition.wait() }
        condition.unlock()
    }

    public func endInference() {
        condition.lock()
        inferenceHolders -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Training takes the cores (waiting while generation holds them).
    public func enterTraining() {
        condition.lock()
        while inferenceHolders > 0 { condition.wait() }
        trainersInside += 1
        condition.unlock()
    }

    public func exitTraining() {
        condition.lock()
        trainersInside -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Called by training between layers: parks if generation wants the cores.
    public func trainingYieldPoint() {
        condition.lock()
        if inferenceHolders > 0 {
            trainersInside -= 1
            condition.broadcast()
            while inferenceHolders > 0 { condition.wait() }
            trainersInside += 1
        }
        condition.unlock()
    }

    /// Whether generation is running or waiting (for /v1/status and tests).
    public var inferenceActive: Bool {
        condition.lock(); defer { condition.unlock() }
        return inferenceHolders > 0
    }
}
