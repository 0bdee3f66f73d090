// Every model the server can serve: base models (loaded once, shared read-only) and fine-tuned models and checkpoints
// (LoRA adapters on a base, read from disk on first use and kept in a small LRU cache; a full fine-tuning's
// checkpoint is a whole model directory, loaded as a model of its own with its base's tokenizer and template; an
// encoder–decoder's is a T5 directory of its own, loaded as it is). Fine-tuned models are visible only to their
// project; base models to everyone. A base is a decoder (GGUF file or Hugging Face directory)
// or an encoder–decoder (a T5 Hugging Face directory); `served` answers either kind (ServedModel.swift), `resolve`
// and `locate` the decoders that training and evals work on.
import Foundation
import Logging
import TailorEngine
import TailorStore

public struct ResolvedModel: Sendable {
    public enum Kind: String, Sendable { case base, fineTuned = "fine_tuned", checkpoint }
    public let id: String
    public let kind: Kind
    public let base: LanguageModel
    public let adapter: LoRAAdapter?
    public let created: Int
    public let ownedBy: String

    public init(id: String, kind: Kind, base: LanguageModel, adapter: LoRAAdapter?, created: Int, ownedBy: String) {
        self.id = id; self.kind = kind; self.base = base; self.adapter = adapter; self.created = created; self.ownedBy = ownedBy
    }
}

/// What `ModelRegistry.locate` finds: a model's kind, base and adapter files, without loading them.
public struct ModelLocation: Sendable {
    public let kind: ResolvedModel.Kind
    public let base: LanguageModel
    public let adapterDirectory: String?
    public let created: Int
    public let ownedBy: String
}

public struct ModelListing: Sendable {
    public let id: String
    public let created: Int
    public let ownedBy: String
    public let kind: ResolvedModel.Kind
}

public enum ModelRegistryError: Error, CustomStringConvertible {
    case duplicateName(String, String, String)
    public var description: String {
        switch self {
        case let .duplicateName(name, a, b): return "two base models are both named \(name) (\(a) and \(b)); rename one of the files"
        }
    }
}

public final class ModelRegistry: @unchecked Sendable {
    // @unchecked Sendable: mutable state (the adapter cache, frozen bases) is guarded by `lock`.
    public let store: Store
    private let bases: [String: (model: LanguageModel, created: Int)]
    /// Encoder–decoder bases (T5 directories), named by their directory.
    private let encoderDecoders: [String: (model: T5Model, created: Int, path: String)]
    /// Every base's name, decoders and encoder–decoders, in the order they were given.
    public let baseOrder: [String]
    private let lock = NSLock()
    private var adapterCache: [String: (adapter: LoRAAdapter, used: UInt64)] = [:]
    private var clock: UInt64 = 0
    private var frozen: [String: FrozenBase] = [:]
    private var fullCache: [String: (model: LanguageModel, used: UInt64)] = [:]
    /// Encoder–decoder models with their adapter merged in, or fully fine-tuned ones, by directory (each a copy of
    /// its base's weights).
    private var mergedCache: [String: (model: T5Model, used: UInt64)] = [:]
    public var mergedModelCacheLimit = 4
    /// Fully fine-tuned models kept in memory (each is the whole model in fp32: ~540 MB for SmolLM2-135M).
    public var fullModelCacheLimit = 2
    let logger: Logger
    /// Adapters kept in memory (r=8 on all projections of SmolLM2-135M is ~10 MB each).
    public var adapterCacheLimit = 32

    /// Loads every base model: the paths given on the command line, then those registered with `tailor models add`.
    public init(store: Store, modelPaths: [String], logger: Logger) throws {
        self.store = store
        self.logger = logger
        var bases: [String: (LanguageModel, Int)] = [:]
        var encoderDecoders: [String: (T5Model, Int, String)] = [:]
        var paths: [String: String] = [:]
        var order: [String] = []
        let registered = try store.baseModels().map(\.path)
        var seen = Set<String>()
        for path in modelPaths + registered {
            let canonical = URL(fileURLWithPath: path).standardizedFileURL.path
            guard seen.insert(canonical).inserted else { continue }
            let created = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
                .map { Int($0.timeIntervalSince1970) } ?? Int(Date().timeIntervalSince1970)
            let name: String
            if T5Config.describes(directory: path) {
                name = URL(fileURLWithPath: canonical).lastPathComponent
                if let other = paths[name] { throw ModelRegistryError.duplicateName(name, other, path) }
                let model = try T5Model(directory: path)
                encoderDecoders[name] = (model, created, path)
                logger.info("base model loaded (encoder-decoder)", metadata: ["model": "\(name)", "path": "\(path)"])
            } else {
                let model = try LanguageModel(path: path)
                model.transformer.prepareForInference()
                name = model.name
                if let other = paths[name] { throw ModelRegistryError.duplicateName(name, other, path) }
                bases[name] = (model, created)
                logger.info("base model loaded", metadata: ["model": "\(name)", "path": "\(path)",
                                                            "parameters": "\(model.transformer.parameterCount)"])
            }
            paths[name] = path
            order.append(name)
        }
        self.bases = bases
        self.encoderDecoders = encoderDecoders
        baseOrder = order
    }

    public func base(named name: String) -> LanguageModel? { bases[name]?.model }

    /// The encoder–decoder base called `name`.
    public func encoderDecoder(named name: String) -> T5Model? { encoderDecoders[name]?.model }

    /// The Hugging Face directory the encoder–decoder base `name` was loaded from (full fine-tuning reads it again).
    public func encoderDecoderDirectory(named name: String) -> String? { encoderDecoders[name]?.path }

    /// What a job on the encoder–decoder `id` starts from, as `project` sees it: its base's name, and the directory
    /// of the fine-tuned model or checkpoint `id` names (nil for a base) — nil when `id` is not an encoder–decoder.
    public func encoderDecoderStart(_ id: String, project: String) throws -> (baseName: String, directory: String?)? {
        if encoderDecoders[id] != nil { return (id, nil) }
        if let m = try store.model(id: id), m.projectID == project, encoderDecoders[m.baseModel] != nil {
            return (m.baseModel, m.adapterDirectory)
        }
        if let c = try store.checkpoint(modelName: id), let job = try store.job(id: c.jobID), job.projectID == project {
            let baseName = (job.plan.flatMap { try? JobPlan.decode($0) })?.baseModel ?? job.model
            if encoderDecoders[baseName] != nil { return (baseName, c.directory) }
        }
        return nil
    }

    /// The model `id` as `project` sees it, of either kind, ready to generate with (an encoder–decoder's adapter
    /// merged into its weights), or nil.
    public func served(_ id: String, project: String) throws -> ServedModel? {
        if let b = encoderDecoders[id] {
            return .encoderDecoder(ResolvedEncoderDecoder(id: id, kind: .base, baseName: id, model: b.model, created: b.created, ownedBy: "tailor"))
        }
        if let m = try store.model(id: id), m.projectID == project, let base = encoderDecoders[m.baseModel]?.model {
            return .encoderDecoder(ResolvedEncoderDecoder(id: id, kind: .fineTuned, baseName: m.baseModel,
                                                          model: try encoderDecoder(base, at: m.adapterDirectory),
                                                          created: m.createdAt, ownedBy: m.ownedBy))
        }
        if let c = try store.checkpoint(modelName: id), let job = try store.job(id: c.jobID), job.projectID == project {
            let baseName = (job.plan.flatMap { try? JobPlan.decode($0) })?.baseModel ?? job.model
            if let base = encoderDecoders[baseName]?.model {
                return .encoderDecoder(ResolvedEncoderDecoder(id: id, kind: .checkpoint, baseName: baseName,
                                                              model: try encoderDecoder(base, at: c.directory),
                                                              created: c.createdAt, ownedBy: try ownerName(project)))
            }
        }
        return try resolve(id, project: project).map(ServedModel.decoder)
    }

    /// The encoder–decoder a job of `base` wrote to `directory`, from the cache or made now: `base` with the adapter
    /// there merged in, or (full fine-tuning) the Hugging Face T5 directory there, a model of its own.
    func encoderDecoder(_ base: T5Model, at directory: String) throws -> T5Model {
        lock.lock()
        clock += 1
        if let hit = mergedCache[directory] {
            mergedCache[directory] = (hit.model, clock)
            lock.unlock()
            return hit.model
        }
        lock.unlock()
        let model = FullModelFiles.isFullModel(directory) ? try T5Model(directory: directory)
                                                          : try base.merging(adapterDirectory: directory)
        lock.lock(); defer { lock.unlock() }
        mergedCache[directory] = (model, clock)
        while mergedCache.count > mergedModelCacheLimit, let oldest = mergedCache.min(by: { $0.value.used < $1.value.used }) {
            mergedCache.removeValue(forKey: oldest.key)
        }
        return model
    }

    /// Where the model `id` leads as `project` sees it — the base it runs on and the adapter directory on top (none
    /// for a base model) — or nil (unknown, or another project's). The one place that tells the kinds apart, for
    /// serving and for fine-tuning alike.
    public func locate(_ id: String, project: String) throws -> ModelLocation? {
        if let b = bases[id] {
            return ModelLocation(kind: .base, base: b.model, adapterDirectory: nil, created: b.created, ownedBy: "tailor")
        }
        if let m = try store.model(id: id), m.projectID == project, let base = bases[m.baseModel]?.model {
            return ModelLocation(kind: .fineTuned, base: base, adapterDirectory: m.adapterDirectory, created: m.createdAt, ownedBy: m.ownedBy)
        }
        // A job that continued a fine-tuned model names that model; its plan names the base underneath.
        if let c = try store.checkpoint(modelName: id), let job = try store.job(id: c.jobID), job.projectID == project,
           let base = bases[(job.plan.flatMap { try? JobPlan.decode($0) })?.baseModel ?? job.model]?.model {
            return ModelLocation(kind: .checkpoint, base: base, adapterDirectory: c.directory, created: c.createdAt,
                                 ownedBy: try ownerName(project))
        }
        return nil
    }

    /// The model `id` as seen by `project`, with its adapter loaded, or nil.
    public func resolve(_ id: String, project: String) throws -> ResolvedModel? {
        guard let l = try locate(id, project: project) else { return nil }
        if let dir = l.adapterDirectory, FullModelFiles.isFullModel(dir) {
            return ResolvedModel(id: id, kind: l.kind, base: try fullModel(at: dir, base: l.base), adapter: nil,
                                 created: l.created, ownedBy: l.ownedBy)
        }
        return ResolvedModel(id: id, kind: l.kind, base: l.base, adapter: try l.adapterDirectory.map { try adapter(at: $0, base: l.base) },
                             created: l.created, ownedBy: l.ownedBy)
    }

    /// The fully fine-tuned model in `directory`, from the cache or disk, named by its directory (unique, and the
    /// same whichever of its names — model or checkpoint — asked for it).
    func fullModel(at directory: String, base: LanguageModel) throws -> LanguageModel {
        lock.lock()
        clock += 1
        if let hit = fullCache[directory] {
            fullCache[directory] = (hit.model, clock)
            lock.unlock()
            return hit.model
        }
        lock.unlock()
        let model = LanguageModel(name: "\(base.name)@\(directory)", path: directory,
                                  transformer: try ModelLoader.loadTransformer(path: directory), trainedFrom: base)
        lock.lock(); defer { lock.unlock() }
        fullCache[directory] = (model, clock)
        while fullCache.count > fullModelCacheLimit, let oldest = fullCache.min(by: { $0.value.used < $1.value.used }) {
            fullCache.removeValue(forKey: oldest.key)
        }
        return model
    }

    public func listModels(project: String) throws -> [ModelListing] {
        var out = baseOrder.map { ModelListing(id: $0, created: bases[$0]?.created ?? encoderDecoders[$0]!.created, ownedBy: "tailor", kind: .base) }
        for m in try store.allModels() where m.projectID == project && (bases[m.baseModel] != nil || encoderDecoders[m.baseModel] != nil) {
            out.append(ModelListing(id: m.id, created: m.createdAt, ownedBy: m.ownedBy, kind: .fineTuned))
        }
        return out
    }

    func ownerName(_ project: String) throws -> String {
        try store.listProjects().first { $0.id == project }?.name ?? project
    }

    /// The adapter in `directory`, from the cache or disk.
    func adapter(at directory: String, base: LanguageModel) throws -> LoRAAdapter {
        lock.lock()
        clock += 1
        if let hit = adapterCache[directory] {
            adapterCache[directory] = (hit.adapter, clock)
            lock.unlock()
            return hit.adapter
        }
        lock.unlock()
        let adapter = try PEFTAdapter.read(directory: directory, config: base.transformer.config)
        lock.lock(); defer { lock.unlock() }
        adapterCache[directory] = (adapter, clock)
        while adapterCache.count > adapterCacheLimit, let oldest = adapterCache.min(by: { $0.value.used < $1.value.used }) {
            adapterCache.removeValue(forKey: oldest.key)
        }
        return adapter
    }

    /// Forgets a cached adapter (its model was deleted).
    public func evictAdapter(at directory: String) {
        lock.lock(); defer { lock.unlock() }
        adapterCache.removeValue(forKey: directory)
        fullCache.removeValue(forKey: directory)
        mergedCache.removeValue(forKey: directory)
    }

    public var loadedAdapterCount: Int {
        lock.lock(); defer { lock.unlock() }
        return adapterCache.count
    }

    /// The f32 training copy of a base model, made once (call while holding the compute gate).
    public func frozenBase(_ model: LanguageModel) -> FrozenBase {
        lock.lock()
        if let f = frozen[model.name] { lock.unlock(); return f }
        lock.unlock()
        let f = FrozenBase(model.transformer)
        lock.lock(); defer { lock.unlock() }
        frozen[model.name] = frozen[model.name] ?? f
        return frozen[model.name]!
    }

    /// Drops training copies no job needs (they are ~4 bytes per parameter).
    public func releaseFrozenBases() {
        lock.lock(); defer { lock.unlock() }
        frozen.removeAll()
    }
}
