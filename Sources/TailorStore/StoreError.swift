// Every failure the store reports on purpose, each with a message that ends in what to do about it.
// Not a wrapper for SQLite errors: GRDB's DatabaseError passes through untouched (the API maps it to a logged 500).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// `after` named no object of this listing (unknown id, deleted, or another project's). The API answers 400, param "after".
    case unknownCursor(String)
    /// `limit` outside what a listing accepts.
    case invalidLimit(Int, range: ClosedRange<Int>)
    case unknownKey(String)
    /// No Upload with this id in this project (Store+Uploads).
    case unknownUpload(String)
    case unknownProject(String)
    case invalidProjectName(String)
    case invalidKeyName(String)
    case invalidSecret(reason: String)
    /// A filesystem call failed; `operation` is the syscall, `path` what it was given.
    case io(operation: String, path: String, errno: Int32)
    /// A file cannot be deleted while a job that has not finished needs it.
    case fileInUse(fileID: String, jobID: String)
    /// A fine-tuned model cannot be deleted while a job that has not finished continues from it.
    case modelInUse(model: String, jobID: String)
    /// The data directory and the database do not belong together (see `DataLayout.bind(toDatabase:)`).
    case wrongDataDirectory(String)
    /// A worker wrote to a job (or an eval run: `jobID` is then the run's id) it no longer holds: its lease expired
    /// and the job was re-queued, or another worker claimed it (a higher generation). The worker must stop the job
    /// without writing anything more.
    case leaseLost(jobID: String, worker: String, generation: Int)

    /// The request parameter a client got wrong, for the API's `param` field; nil for server-side failures.
    public var parameter: String? {
        switch self {
        case .unknownCursor: "after"
        case .invalidLimit: "limit"
        case .fileInUse: "file_id"
        case .modelInUse: "model"
        default: nil
        }
    }

    /// Whether `error` means the disk is full or the data directory is read-only (not the client's fault: 507).
    public var isStorageFull: Bool {
        if case .io(_, _, let code) = self { return [ENOSPC, EDQUOT, EROFS].contains(code) }
        return false
    }

    public var description: String {
        switch self {
        case .unknownCursor(let id):
            "No object with id '\(id)' in this listing to page after; pass the last id of the previous page, or omit 'after' to start over"
        case .invalidLimit(let limit, let range):
            "limit \(limit) is out of range; pass a limit between \(range.lowerBound) and \(range.upperBound)"
        case .unknownUpload(let id):
            "No such Upload: \(id)"
        case .unknownKey(let id):
            "No API key with id '\(id)'; run `tailor keys list` to see the ids"
        case .unknownProject(let project):
            "No project '\(project)'; create it with `tailor keys create --project \(project)` or use an existing one"
        case .invalidProjectName(let name):
            "Project name '\(name)' is not allowed; use 1-64 characters from A-Z a-z 0-9 . _ -"
        case .invalidKeyName(let name):
            "Key name '\(name.prefix(40))…' is too long or has control characters; use at most 128 printable characters"
        case .invalidSecret(let reason):
            "The given API key cannot be used: \(reason)"
        case .fileInUse(let file, let job):
            "File \(file) is used by fine-tuning job \(job), which has not finished; cancel the job or wait for it to end, then delete the file"
        case .modelInUse(let model, let job):
            "Model \(model) is the starting point of fine-tuning job \(job), which has not finished; cancel the job or wait for it to end, then delete the model"
        case .leaseLost(let job, let worker, let generation):
            "Worker \(worker) no longer holds \(job.hasPrefix("evalrun") ? "eval run" : "job") \(job) (lease generation \(generation)): its lease expired or another worker took it over; this worker stops it without writing more"
        case .wrongDataDirectory(let message):
            "The data directory does not match the database: \(message)"
        case .io(let operation, let path, let code):
            "\(operation) failed for \(path): \(String(cString: strerror(code))); check the data directory's permissions and free space"
        }
    }
}
