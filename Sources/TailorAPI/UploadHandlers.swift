// /v1/uploads: OpenAI's Uploads API, for files sent in Parts (the SDKs' `uploads.upload_file_chunked`). Create an
// Upload with the file's name, purpose, MIME type and size; add Parts (multipart `data`, at most 64 MB each); complete
// it with the Parts in order (and optionally their MD5), which makes the File — checked as /v1/files checks an upload
// of that purpose — or cancel it. An Upload expires an hour after it was created. The state: Store+Uploads.swift.
import Foundation
import TailorHTTP
import TailorStore

enum UploadHandlers {
    /// OpenAI's limit for one Part.
    static let maxPartBytes = 64 << 20
    /// MIME types of JSON Lines, the one format a fine-tune file has.
    static let jsonLinesTypes: Set<String> = ["text/jsonl", "application/jsonl", "application/x-ndjson",
                                              "application/jsonlines", "application/json-lines", "text/x-jsonl"]

    static func create(_ call: APICall) throws -> HTTPResponse {
        let body = try RequestBody(call.request)
        let filename = try body.requiredString("filename")
        let purpose = try body.requiredString("purpose")
        try FileHandlers.requireKnown(purpose: purpose)
        let mimeType = try body.requiredString("mime_type")
        guard let bytes = try body.integer("bytes", in: 1...Store.uploadMaxBytes) else { throw APIError.missing("bytes") }
        if purpose == "fine-tune" {
            guard filename.lowercased().hasSuffix(".jsonl") else {
                throw APIError(.badRequest, "Invalid file format for Fine-Tuning API. Must be .jsonl", param: "filename", code: "invalid_file_format")
            }
            guard jsonLinesTypes.contains(mimeType.lowercased()) else {
                throw APIError.invalid("mime_type", "'mime_type' must be a JSON Lines type for purpose 'fine-tune' (e.g. 'text/jsonl'); got '\(mimeType)'.")
            }
        }
        var fileExpiresAfter: Int?
        if let expiry = try body.object("expires_after") {
            guard try expiry.requiredString("anchor") == "created_at" else {
                throw APIError.invalid("expires_after.anchor", "'expires_after.anchor' must be 'created_at'.")
            }
            guard let seconds = try expiry.integer("seconds", in: 3600...2_592_000, param: "expires_after.seconds") else {
                throw APIError.missing("expires_after.seconds")
            }
            fileExpiresAfter = seconds
        }
        let upload = try call.services.store.createUpload(project: call.principal.projectID, filename: filename, purpose: purpose,
                                                          mimeType: mimeType, bytes: bytes, fileExpiresAfter: fileExpiresAfter)
        call.logger.info("upload created", metadata: ["upload": "\(upload.id)", "bytes": "\(bytes)", "purpose": "\(purpose)"])
        return Wire.upload(upload, file: nil).response
    }

    static func addPart(_ call: APICall) throws -> HTTPResponse {
        let store = call.services.store
        let id = call.param("id")
        _ = try upload(call)  // a 404 before the body is read any further
        let form = try FileHandlers.multipartForm(call, param: "data")
        defer { form.removeFiles() }
        guard let data = form.part(named: "data") else { throw APIError.missing("data") }
        let partPath: String
        switch data.content {
        case .file(let spooled, let count):
            guard count <= maxPartBytes else { throw partTooLarge(count) }
            partPath = spooled
        case .bytes(let bytes):
            // A field without a filename arrives in memory (at most 1 MiB): spool it like a file part.
            partPath = store.temporaryDirectory + "/part-" + UUID().uuidString
            guard FileManager.default.createFile(atPath: partPath, contents: Data(bytes)) else {
                throw APIError(.server, "The Part could not be stored.", code: "server_error")
            }
        }
        defer { try? FileManager.default.removeItem(atPath: partPath) }
        let part = try mapped { try store.addUploadPart(upload: id, project: call.principal.projectID, from: partPath) }
        call.logger.info("upload part added", metadata: ["upload": "\(id)", "part": "\(part.id)", "bytes": "\(part.bytes)"])
        return JSONValue.object([("id", .string(part.id)), ("object", "upload.part"), ("created_at", .int(part.createdAt)),
                                 ("upload_id", .string(part.uploadID))]).response
    }

    static func complete(_ call: APICall) throws -> HTTPResponse {
        let store = call.services.store, project = call.principal.projectID
        let upload = try upload(call)
        let body = try RequestBody(call.request)
        guard let raw = body.raw("part_ids") else { throw APIError.missing("part_ids") }
        guard let partIDs = raw as? [String] else {
            throw APIError.invalid("part_ids", "'part_ids' must be an array of Part ids.", code: "invalid_type")
        }
        let md5 = try body.string("md5")
        if let md5, md5.count != 32 || !md5.allSatisfy(\.isHexDigit) {
            throw APIError.invalid("md5", "'md5' must be 32 hexadecimal digits; got '\(md5)'.")
        }
        // Up to 8 GB to copy and check: not for a client that has gone (the Upload stays pending; completing again works).
        let left = { call.request.disconnect.hasFired }
        let joined = try mapped { try store.joinUploadParts(upload: upload.id, project: project, partIDs: partIDs, md5: md5, stop: left) }
        if upload.purpose == "fine-tune" {
            let problem: String?
            do {
                problem = try mapped { try JSONLCheck.firstProblem(path: joined, stop: left) }
            } catch {
                try? FileManager.default.removeItem(atPath: joined)
                throw error
            }
            if let problem {
                try? FileManager.default.removeItem(atPath: joined)
                throw APIError(.badRequest, "Invalid file format for Fine-Tuning API. \(problem)", param: "part_ids", code: "invalid_file_format")
            }
        }
        let (completed, file) = try mapped { try store.completeUpload(id: upload.id, project: project, joined: joined) }
        call.logger.info("upload completed", metadata: ["upload": "\(upload.id)", "file": "\(file.id)", "bytes": "\(file.bytes)"])
        return Wire.upload(completed, file: file).response
    }

    static func cancel(_ call: APICall) throws -> HTTPResponse {
        let id = call.param("id")
        guard let cancelled = try mapped({ try call.services.store.cancelUpload(id: id, project: call.principal.projectID) }) else {
            throw notFound(id)
        }
        call.logger.info("upload cancelled", metadata: ["upload": "\(id)"])
        return Wire.upload(cancelled, file: nil).response
    }

    private static func upload(_ call: APICall) throws -> UploadRecord {
        let id = call.param("id")
        guard let upload = try call.services.store.upload(id: id, project: call.principal.projectID) else { throw notFound(id) }
        return upload
    }

    private static func notFound(_ id: String) -> APIError {
        APIError(.notFound, "No such Upload: \(id)", param: "upload_id")
    }

    private static func partTooLarge(_ count: Int) -> APIError {
        APIError(.badRequest, "A Part may hold at most \(maxPartBytes) bytes (64 MB); this one holds \(count).", param: "data", code: "invalid_value")
    }

    /// The store's refusals as OpenAI's error bodies; a stop because the client has gone as a 499.
    private static func mapped<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch is CancellationError {
            throw APIError(.clientClosedRequest, "The client closed the connection before the Upload was completed.")
        } catch StoreError.unknownUpload(let id) {
            throw notFound(id)
        } catch let error as UploadError {
            switch error {
            case .notPending: throw APIError(.badRequest, error.description, param: "upload_id", code: "invalid_state")
            case .checksumMismatch: throw APIError.invalid("md5", error.description)
            case .unknownPart, .repeatedPart, .noParts, .sizeMismatch: throw APIError.invalid("part_ids", error.description)
            }
        }
    }
}
