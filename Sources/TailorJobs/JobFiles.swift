// Everything a job keeps on disk under DATA/jobs/<id>, with one owner: the dataset validation tokenized, the
// checkpoints and step_metrics.csv. The fine-tuned model is a reference to one of the checkpoints, not a copy. Where
// they live and how they go away is decided here only.
import Foundation
import TailorEngine
import TailorStore

struct JobFiles {
    let directory: String

    init(store: Store, jobID: String) { directory = store.jobDirectory(jobID) }

    var checkpoints: String { directory + "/checkpoints" }
    /// Where models of jobs finished before models referred to their checkpoint keep their own copy.
    var legacyModel: String { directory + "/model" }
    var csv: String { directory + "/step_metrics.csv" }
    var dataset: String { directory + "/dataset.json" }

    func checkpointDirectory(step: Int) -> String { checkpoints + String(format: "/step-%06d", step) }

    private struct Dataset: Codable {
        var train: [TrainingExample]
        var validation: [TrainingExample]
    }

    /// The examples exactly as validation tokenized them.
    func writeDataset(train: [TrainingExample], validation: [TrainingExample]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeFileAtomically(try JSONEncoder().encode(Dataset(train: train, validation: validation)), to: dataset)
    }

    func readDataset() throws -> (train: [TrainingExample], validation: [TrainingExample]) {
        let d = try JSONDecoder().decode(Dataset.self, from: Data(contentsOf: URL(fileURLWithPath: dataset)))
        return (d.train, d.validation)
    }

    private struct Pairs: Codable {
        var train: [T5TrainingExample]
        var validation: [T5TrainingExample]
    }

    /// An encoder–decoder job's (source, target) pairs exactly as validation tokenized them (in the same file).
    func writePairs(train: [T5TrainingExample], validation: [T5TrainingExample]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeFileAtomically(try JSONEncoder().encode(Pairs(train: train, validation: validation)), to: dataset)
    }

    func readPairs() throws -> (train: [T5TrainingExample], validation: [T5TrainingExample]) {
        let d = try JSONDecoder().decode(Pairs.self, from: Data(contentsOf: URL(fileURLWithPath: dataset)))
        return (d.train, d.validation)
    }

    /// Removes one checkpoint: its row, its adapter from the serving cache, its files.
    func remove(_ checkpoint: CheckpointRecord, store: Store, registry: ModelRegistry, lease: JobLease? = nil) throws {
        try store.deleteCheckpoint(id: checkpoint.id, job: checkpoint.jobID, lease: lease)
        registry.evictAdapter(at: checkpoint.directory)
        try? FileManager.default.removeItem(atPath: checkpoint.directory)
    }

    /// Every checkpoint (a job that failed for want of disk gives its space back; it has no model).
    func removeCheckpoints(store: Store, registry: ModelRegistry) {
        for c in (try? store.checkpoints(job: URL(fileURLWithPath: directory).lastPathComponent)) ?? [] {
            try? remove(c, store: store, registry: registry)
        }
        try? FileManager.default.removeItem(atPath: checkpoints)
    }

    /// A deleted model's files. The checkpoint that carries its name goes with it; a checkpoint it refers to under
    /// another name (use_best_checkpoint) stays, servable under that name; an older model's own copy is removed.
    func removeModel(_ record: FineTunedModelRecord, store: Store, registry: ModelRegistry) throws {
        registry.evictAdapter(at: record.adapterDirectory)
        if let twin = try store.checkpoint(modelName: record.id) { try remove(twin, store: store, registry: registry) }
        if record.adapterDirectory == legacyModel { try? FileManager.default.removeItem(atPath: legacyModel) }
    }
}

extension JobRunner {
    /// Deletes a fine-tuned model: its row, the job checkpoint that carries its name, their cached adapters and their
    /// files. A request already generating with it finishes with the adapter it holds; new requests no longer find it.
    public func deleteFineTunedModel(_ id: String, project: String) throws -> Bool {
        guard let record = try store.model(id: id), try store.deleteModel(id: id, project: project) else { return false }
        // Every model comes from a job; the column is optional only because the table predates that rule.
        guard let job = record.jobID else { registry.evictAdapter(at: record.adapterDirectory); return true }
        try JobFiles(store: store, jobID: job).removeModel(record, store: store, registry: registry)
        return true
    }
}
