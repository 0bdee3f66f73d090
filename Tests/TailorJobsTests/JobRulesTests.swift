// The job rules that need no server: "auto" hyperparameters, and the compute gate that lets generation take the
// cores from training.
import Foundation
import Testing
@testable import TailorJobs

@Suite struct AutoHyperparameterTests {
    @Test(arguments: [(1, 25), (3, 25), (10, 10), (12, 8), (33, 3), (34, 3), (200, 3), (8_333, 3), (8_334, 2), (30_000, 1)])
    func epochsFollowTheCookbookRule(examples: Int, epochs: Int) {
        #expect(AutoHyperparameters.epochs(examples: examples) == epochs)
    }

    @Test(arguments: [(1, 4), (200, 4), (2_000, 4), (2_001, 5), (10_000, 20), (1_000_000, 256)])
    func batchSizeIsATinyShareWithAFloor(examples: Int, batch: Int) {
        #expect(AutoHyperparameters.batchSize(examples: examples) == batch)
    }

    @Test func givenNumbersWinOverAuto() {
        let r = HyperparameterRequest(nEpochs: .number(2), batchSize: .auto, learningRateMultiplier: .number(0.5))
        #expect(AutoHyperparameters.resolve(r, examples: 200) == ResolvedHyperparameters(nEpochs: 2, batchSize: 4, learningRateMultiplier: 0.5))
        #expect(AutoHyperparameters.resolve(HyperparameterRequest(), examples: 12)
                == ResolvedHyperparameters(nEpochs: 8, batchSize: 4, learningRateMultiplier: 1))
    }

    @Test func wireFormIsAutoOrANumber() throws {
        let decoded = try JSONDecoder().decode(HyperparameterRequest.self,
                                               from: Data(#"{"n_epochs":"auto","batch_size":8,"learning_rate_multiplier":0.25}"#.utf8))
        #expect(decoded == HyperparameterRequest(nEpochs: .auto, batchSize: .number(8), learningRateMultiplier: .number(0.25)))
        let encoder = JSONEncoder(); encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(decoded), as: UTF8.self)
                == #"{"batch_size":8,"learning_rate_multiplier":0.25,"n_epochs":"auto"}"#)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(HyperparameterRequest.self, from: Data(#"{"n_epochs":"many"}"#.utf8)) }
    }
}

@Suite struct ComputeGateTests {
    /// Generation waits for a training step to reach its next yield point, then training waits until generation ends.
    @Test func inferenceTakesTheCoresAtTheNextYieldPoint() {
        let gate = ComputeGate()
        let log = Log()
        gate.enterTraining()
        let inference = Thread {
            gate.beginInference()
            log.add("inference in")
            Thread.sleep(forTimeInterval: 0.05)
            log.add("inference out")
            gate.endInference()
        }
        inference.start()
        while !gate.inferenceActive { Thread.sleep(forTimeInterval: 0.001) }
        Thread.sleep(forTimeInterval: 0.05)
        log.add("training yields")   // generation must still be waiting: training holds the cores until it yields
        gate.trainingYieldPoint()
        log.add("training resumes")
        gate.exitTraining()
        #expect(log.entries == ["training yields", "inference in", "inference out", "training resumes"])
    }

    @Test func trainingWaitsForRunningInference() {
        let gate = ComputeGate()
        let log = Log()
        gate.beginInference()
        let training = Thread { gate.enterTraining(); log.add("training in"); gate.exitTraining() }
        training.start()
        Thread.sleep(forTimeInterval: 0.05)
        log.add("inference done")
        gate.endInference()
        while log.entries.count < 2 { Thread.sleep(forTimeInterval: 0.001) }
        #expect(log.entries == ["inference done", "training in"])
    }

    final class Log: @unchecked Sendable {
        // @unchecked Sendable: guarded by `lock`.
        private let lock = NSLock()
        private var items: [String] = []
        func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
        var entries: [String] { lock.lock(); defer { lock.unlock() }; return items }
    }
}

@Suite struct JobErrorTests {
    /// OpenAI's FineTuningJob.error requires code, message and param; param is null when no parameter is to blame.
    @Test func paramIsWrittenAsNull() throws {
        let e = JobError(code: "server_error", message: "Training failed unexpectedly", param: nil)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(e.json.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["code", "message", "param"])
        #expect(object["param"] is NSNull)
        #expect(try JSONDecoder().decode(JobError.self, from: Data(e.json.utf8)) == e)
    }
}
