// DPO's objective for one pair (Rafailov et al. 2023; TRL's `sigmoid` loss): from the policy's and the reference's
// log-likelihoods of the chosen and the rejected answer, the loss, the two implicit rewards and the coefficient the
// backward weighs each answer's tokens by. Not here: computing the log-likelihoods (TrainingModel).
import Foundation

public struct PreferenceTerms: Sendable, Equatable {
    /// −log σ(β·((πc − rc) − (πr − rr)))
    public var loss: Double
    /// β·(πc − rc) and β·(πr − rr).
    public var chosenReward: Double
    public var rejectedReward: Double
    /// −∂loss/∂πc = ∂loss/∂πr = β·σ(−z).
    public var coefficient: Double

    public init(policyChosen: Double, policyRejected: Double, referenceChosen: Double, referenceRejected: Double, beta: Double) {
        chosenReward = beta * (policyChosen - referenceChosen)
        rejectedReward = beta * (policyRejected - referenceRejected)
        let z = chosenReward - rejectedReward
        // softplus(−z) and σ(−z) in forms that neither overflow nor lose the small tail.
        loss = max(-z, 0) + log1p(exp(-abs(z)))
        coefficient = beta * (z >= 0 ? exp(-z) / (1 + exp(-z)) : 1 / (1 + exp(z)))
    }
}
