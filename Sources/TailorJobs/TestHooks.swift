// Points where a test can hold a job's worker or validator, or an eval run's thread, to fire a competing request at
// a chosen moment, instead of sleeping and hoping. Off unless the server runs with TAILOR_TEST_HOOKS=1; then a hook
// is armed by creating DATA/test-hooks/hold-<point>, reports DATA/test-hooks/<job>.<point>.reached, and waits for
// <job>.<point>.release.
import Foundation

enum TestHooks {
    enum Point: String {
        /// The validator has the job and is about to read its files.
        case validating
        /// A worker has claimed the job and is about to train.
        case claimed
        /// The trainer finished a step (its metrics are written) and is about to ask whether to stop.
        case step
        /// Training is complete; the result is about to be published.
        case finishing
        /// An eval run's thread is about to sample and grade its next item (the ones before it are stored); `job` is
        /// the run's id.
        case evalItem = "eval_item"
    }

    static let enabled = ProcessInfo.processInfo.environment["TAILOR_TEST_HOOKS"] == "1"

    static func reach(_ point: Point, job: String, dataDirectory: String) {
        guard enabled else { return }
        let dir = dataDirectory + "/test-hooks"
        let fm = FileManager.default
        guard fm.fileExists(atPath: "\(dir)/hold-\(point.rawValue)") else { return }
        fm.createFile(atPath: "\(dir)/\(job).\(point.rawValue).reached", contents: nil)
        let release = "\(dir)/\(job).\(point.rawValue).release"
        // Bounded, so a test that forgets to release cannot hang a server for ever.
        let deadline = Date().addingTimeInterval(300)
        while !fm.fileExists(atPath: release) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        try? fm.removeItem(atPath: release)
    }
}
