// The job rules that need no server: "auto" hyperparameters, and the compute gate that lets generation take the
// cores from training.
import Foundation
import Testing
@testable import TailorJobs
import TailorEngine

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

@Suite struct TrainingMemoryTests {
    /// SmolLM2-135M's shape: the figures the pre-flight states for it need no weights.
    static let smolLM2 = LlamaConfig(architecture: "llama", vocabSize: 49_152, dim: 576, hiddenDim: 1536, layers: 30, heads: 9,
                                     kvHeads: 3, headDim: 64, contextLength: 8192, ropeTheta: 100_000, rmsEps: 1e-5,
                                     tiedEmbeddings: true, qkvBias: false)

    @Test func memoryGrowsLinearlyAndTheBudgetDecidesRecomputation() {
        let config = TrainingConfig()
        let short = JobRunner.memoryNeeded(config, Self.smolLM2, tokens: 256)
        let long = JobRunner.memoryNeeded(config, Self.smolLM2, tokens: 2048)
        let longest = JobRunner.memoryNeeded(config, Self.smolLM2, tokens: 8192)
        #expect(short.recomputed == 0 && long.recomputed > 0 && longest.recomputed == 30)
        // Within the activation budget on top of the weights while any layer is kept; linear past it.
        // Weights: the f32 base, and the adapter with its gradients and two AdamW moments.
        let weights = FrozenBase.bytes(Self.smolLM2) + 16 * config.lora.parameterCount(for: Self.smolLM2)
        #expect(long.planned - weights <= TrainingConfig.defaultActivationBudget + (8 << 20))
        // Every layer recomputed: a fixed part (the loss head's logits buffer) and a part proportional to the length.
        let least2k = JobRunner.memoryNeeded(config, Self.smolLM2, tokens: 2048).least
        let least4k = JobRunner.memoryNeeded(config, Self.smolLM2, tokens: 4096).least
        let growth = Double(longest.least - least4k) / Double(least4k - least2k)
        #expect(abs(growth - 2) < 0.1, "\(least2k) → \(least4k) → \(longest.least)")
        // An 8,192-token example fits in under 3 GB with every layer recomputed.
        #expect(longest.least < 3_000_000_000, "\(longest.least)")
    }

    /// Full fine-tuning: every weight, its gradient and two moments (16 bytes a parameter) plus the activations of an
    /// adapter-less pass; the LoRA figures stay as they were.
    @Test func fullFineTuningNeedsSixteenBytesAParameter() {
        var config = TrainingConfig()
        let lora = JobRunner.memoryNeeded(config, Self.smolLM2, tokens: 512)
        config.trainingType = .full
        let full = JobRunner.memoryNeeded(config, Self.smolLM2, tokens: 512)
        let params = 49_152 * 576 + 30 * (2 * 576 + 2 * 576 * 576 + 2 * 192 * 576 + 3 * 1536 * 576) + 576
        #expect(params == 134_515_008, "SmolLM2-135M's parameter count")
        #expect(FullParameters.bytes(Self.smolLM2) == 16 * params)
        let activations = TrainingModel.plan(Self.smolLM2, rank: 0, tokens: 512, budget: config.effectiveActivationBudget, full: true).bytes
        #expect(full.planned == 16 * params + activations)
        #expect(full.planned > lora.planned + 1_500_000_000)
        #expect(JobRunner.diskNeeded(config, Self.smolLM2) > 9 * 4 * params)
    }
}

@Suite struct TrainingTypeOptionTests {
    @Test func trainingTypeIsLoRAByDefaultAndFullOnRequest() throws {
        let h = ResolvedHyperparameters(nEpochs: 1, batchSize: 2, learningRateMultiplier: 2, beta: nil)
        let lora = JobOptions().trainingConfig(h, seed: 1)
        #expect(!lora.isFull && lora.adam.weightDecay == 0 && lora.learningRate == 2e-3)
        var o = JobOptions(); o.trainingType = "full"
        #expect(o.validate() == nil)
        let full = o.trainingConfig(h, seed: 1)
        #expect(full.isFull && full.adam.weightDecay == 0.01 && full.learningRate == Float(1e-4))
        o.trainingType = "qlora"
        #expect(o.validate()?.hasPrefix("tailor.training_type") == true)
        o.trainingType = "full"; o.loraRank = 8
        #expect(o.validate()?.contains("lora_rank") == true)
        let decoded = try JSONDecoder().decode(JobOptions.self, from: Data(#"{"training_type": "full"}"#.utf8))
        #expect(decoded.isFull && JobOptions.names.contains("training_type"))
    }
}
