// The trainers' bookkeeping after each step: the best step by full validation loss (what use_best_checkpoint
// publishes), early stopping after `patience` epochs without improvement, and which steps write a checkpoint.
import Testing
@testable import TailorEngine

@Suite struct TrainerStateTests {
    private func state(patience: Int, interval: Int = 0, totalSteps: Int = 12) -> TrainerState {
        var config = TrainingConfig()
        config.earlyStoppingPatience = patience
        config.checkpointInterval = interval
        return TrainerState(step: 0, totalSteps: totalSteps, epoch: 0, epochOffset: 0, tokensSoFar: 0, seed: 1, config: config,
                            trainExamples: 8, bestValidLoss: nil, bestStep: nil, epochsWithoutImprovement: 0,
                            baseModel: "m", metrics: nil)
    }

    @Test func theBestEpochIsKeptAndPatienceEndsTheRun() {
        var s = state(patience: 2)
        // Epoch ends at steps 2, 4, 6, 8 with full validation losses 1.0, 0.8, 0.9, 0.85: the best stays step 4.
        var stops: [Bool] = []
        for (step, loss) in [(2, 1.0), (4, 0.8), (6, 0.9), (8, 0.85)] {
            s.step = step
            let midEpoch = s.noteStep(fullValidLoss: loss, epochEnd: false)
            #expect(!midEpoch, "mid-epoch losses decide nothing")
            stops.append(s.noteStep(fullValidLoss: loss, epochEnd: true))
        }
        #expect(s.bestStep == 4 && s.bestValidLoss == 0.8)
        #expect(stops == [false, false, false, true], "two epochs without improvement with patience 2")
        #expect(s.epochsWithoutImprovement == 2)

        var improving = state(patience: 1)
        for (step, loss) in [(2, 1.0), (4, 0.9)] {
            improving.step = step
            let stop = improving.noteStep(fullValidLoss: loss, epochEnd: true)
            #expect(!stop)
        }
        #expect(improving.bestStep == 4 && improving.epochsWithoutImprovement == 0)

        var never = state(patience: 0)
        for step in 1...5 {
            never.step = step
            let stop = never.noteStep(fullValidLoss: 2.0, epochEnd: true)
            #expect(!stop, "patience 0: no early stop")
        }
        let withoutValidation = never.noteStep(fullValidLoss: nil, epochEnd: true)
        #expect(!withoutValidation, "no validation file: nothing to judge")
    }

    @Test func checkpointsAtEpochEndsIntervalsTheLastStepAndAnEarlyStop() {
        var s = state(patience: 0, interval: 5, totalSteps: 12)
        var due: [Int] = []
        for step in 1...12 {
            s.step = step
            if s.checkpointDue(epochEnd: step % 4 == 0, stopEarly: step == 7) { due.append(step) }
        }
        #expect(due == [4, 5, 7, 8, 10, 12])
    }
}
