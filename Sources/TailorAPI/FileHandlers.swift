// /v1/files: upload (multipart, spooled to disk), list, retrieve, download, delete. A fine-tune upload is checked at
// once — UTF-8, one JSON object per non-empty line — and refused naming the first bad line; deeper checks (roles,
// lengths in tokens) happen when a job validates the file against its model.
import Foundation
import TailorHTTP
import TailorStore

enum FileHandlers {
    static let purposes: Set<String> = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]

    /// The request's multipart/form-data body (spooled by a `body: .upload` route), its file parts spooled into the
    /// store's temporary directory; refusals name `param`, the part the request is for.
    static func multipartForm(_ call: APICall, param: String) throws -> MultipartForm {
        guard case .file(let path, _) = call.request.body,
              let contentType = call.head.headers["Content-Type"], contentType.lowercased().hasPrefix("multipart/form-data") else {
            throw APIError(.badRequest, "This request must be sent as multipart/form-data with a '\(param)' part.", param: param,
                           code: "invalid_content_type")
        }
        do {
            return try MultipartReader(contentType: contentType, spoolDirectory: call.services.store.temporaryDirectory).read(file: path)
        } catch let e as MultipartError {
            throw APIError(.badRequest, "The multipart body could not be read: \(e).", param: param, code: "invalid_multipart")
        }
    }

    /// A purpose /v1/files (and /v1/uploads) accepts, else OpenAI's 400 naming `purpose`.
    static func requireKnown(purpose: String) throws {
        guard purposes.contains(purpose) else {
            throw APIError.invalid("purpose", "'\(purpose)' is not one of \(purposes.sorted().map { "'\($0)'" }.joined(separator: ", ")) - 'purpose'")
        }
    }

    static func create(_ call: APICall) throws -> HTTPResponse {
        let store = call.services.store
        let form = try multipartForm(call, param: "file")
        defer { form.removeFiles() }
        guard let purpose = form.part(named: "purpose")?.text?.trimmingCharacters(in: .whitespacesAndNewlines) else {
            throw APIError.missing("purpose")
        }
        try requireKnown(purpose: purpose)
        guard let part = form.part(named: "file"), case .file(let partPath, _) = part.content else {
            throw APIError.missing("file")
        }
        let filename = (part.filename?.isEmpty == false ? part.filename! : "upload")
        var expiresAt: Int?
        if let seconds = form.part(named: "expires_after[seconds]")?.text {
            guard let s = Int(seconds.trimmingCharacters(in: .whitespaces)), (3600...2_592_000).contains(s) else {
                throw APIError.invalid("expires_after[seconds]", "'expires_after[seconds]' must be an integer between 3600 and 2592000.")
            }
            expiresAt = Int(Date().timeIntervalSince1970) + s
        }
        if purpose == "fine-tune" {
            guard filename.lowercased().hasSuffix(".jsonl") else {
                throw APIError(.badRequest, "Invalid file format for Fine-Tuning API. Must be .jsonl", param: "file", code: "invalid_file_format")
            }
            if let problem = try JSONLCheck.firstProblem(path: partPath) {
                throw APIError(.badRequest, "Invalid file format for Fine-Tuning API. \(problem)", param: "file", code: "invalid_file_format")
            }
        }
        let record = try store.createFile(project: call.principal.projectID, filename: filename, purpose: purpose,
                                          from: partPath, expiresAt: expiresAt)
        call.logger.info("file uploaded", metadata: ["file": "\(record.id)", "bytes": "\(record.bytes)", "purpose": "\(purpose)"])
        return Wire.file(record).response
    }

    static func list(_ call: APICall) throws -> HTTPResponse {
        let order = try Query.order(call, default: .desc)
        let limit = try Query.int(call, "limit", default: 10_000, range: Store.fileListLimits)
        let page = try call.services.store.listFiles(project: call.principal.projectID, purpose: call.query("purpose"),
                                                     order: order, after: call.query("after"), limit: limit)
        return Wire.list(page.items.map(Wire.file), hasMore: page.hasMore, ids: page.items.map(\.id)).response
    }

    static func file(_ call: APICall) throws -> FileRecord {
        let id = call.param("id")
        guard let f = try call.services.store.file(id: id, project: call.principal.projectID) else {
            throw APIError(.notFound, "No such File object: \(id)", param: "id")
        }
        return f
    }

    static func retrieve(_ call: APICall) throws -> HTTPResponse { Wire.file(try file(call)).response }

    static func content(_ call: APICall) throws -> HTTPResponse {
        let f = try file(call)
        let type = f.purpose == "fine-tune-results" ? "text/csv; charset=utf-8" : "application/octet-stream"
        return HTTPResponse(status: 200, headers: ["Content-Type": type,
                                                   "Content-Disposition": "attachment; filename=\"\(f.filename.replacingOccurrences(of: "\"", with: ""))\""],
                            body: .file(path: call.services.store.contentPath(of: f), deleteAfterSending: false))
    }

    static func delete(_ call: APICall) throws -> HTTPResponse {
        let id = call.param("id")
        guard try call.services.store.deleteFile(id: id, project: call.principal.projectID) else {
            throw APIError(.notFound, "No such File object: \(id)", param: "id")
        }
        return Wire.deleted(id, object: "file").response
    }
}

/// The fine-tune upload check, streamed line by line so a 512 MB file never sits in memory.
enum JSONLCheck {
    /// `stop` is asked before each MiB read (an Upload's completion, whose client may go); true throws CancellationError.
    static func firstProblem(path: String, stop: () -> Bool = { false }) throws -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "The file could not be read." }
        defer { try? handle.close() }
        var pending = Data()
        var line = 0
        var nonEmpty = 0
        func check(_ bytes: Data) -> String? {
            line += 1
            var content = bytes
            if content.last == 0x0D { content.removeLast() }
            guard content.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return nil }
            nonEmpty += 1
            guard String(data: content, encoding: .utf8) != nil else { return "Line \(line) is not valid UTF-8." }
            guard let any = try? JSONSerialization.jsonObject(with: content, options: [.fragmentsAllowed]) else {
                return "Line \(line) is not valid JSON; every line must be one JSON object."
            }
            guard any is [String: Any] else { return "Line \(line) is not a JSON object; every line must be one JSON object." }
            return nil
        }
        while true {
            if stop() { throw CancellationError() }
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            pending.append(chunk)
            var start = pending.startIndex
            while let nl = pending[start...].firstIndex(of: 0x0A) {
                if let p = check(pending[start..<nl]) { return p }
                start = nl + 1
            }
            pending = Data(pending[start...])
        }
        if !pending.isEmpty, let p = check(pending) { return p }
        return nonEmpty == 0 ? "The file is empty." : nil
    }
}

enum Query {
    static func int(_ call: APICall, _ name: String, default d: Int, range: ClosedRange<Int>) throws -> Int {
        guard let s = call.query(name) else { return d }
        guard let v = Int(s), range.contains(v) else {
            throw APIError.invalid(name, "'\(name)' must be an integer between \(range.lowerBound) and \(range.upperBound); got '\(s)'.")
        }
        return v
    }

    static func order(_ call: APICall, default d: ListOrder) throws -> ListOrder {
        guard let o = call.query("order") else { return d }
        guard let parsed = ListOrder(rawValue: o) else { throw APIError.invalid("order", "'order' must be 'asc' or 'desc'.") }
        return parsed
    }
}
