// Reads a multipart/form-data body (a spooled file, or bytes) into parts: small fields in memory with a cap,
// file parts copied to their own temp files in bounded memory. Which parts are required is the caller's call.

public enum MultipartContent: Sendable, Equatable {
    case bytes([UInt8])
    /// A temporary file owned by the caller once read() returns: move it or remove it.
    case file(path: String, count: Int)
}

public struct MultipartPart: Sendable {
    public var headers: HTTPHeaders
    /// From Content-Disposition.
    public var name: String?
    public var filename: String?
    public var contentType: String?
    public var content: MultipartContent

    /// A field's value as UTF-8 text; nil for file parts.
    public var text: String? {
        if case .bytes(let bytes) = content { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }
}

public struct MultipartForm: Sendable {
    public var parts: [MultipartPart]

    public func part(named name: String) -> MultipartPart? { parts.first { $0.name == name } }

    /// Removes every file part's temporary file; call when done with them unless they were moved.
    public func removeFiles() {
        for part in parts { if case .file(let path, _) = part.content { removeFile(path) } }
    }
}

public struct MultipartReader: Sendable {
    public let boundary: String
    public var spoolDirectory: String
    /// Largest in-memory field (a part without a filename); beyond it reading fails.
    public var maxFieldBytes = 1 << 20
    public var maxParts = 256
    public var maxPartHeaderBytes = 16 * 1024
    /// Bytes read from a file per step; with the delimiter, this bounds the reader's memory.
    public var chunkBytes = 64 * 1024

    /// Takes the boundary from a Content-Type header such as `multipart/form-data; boundary="abc"`.
    public init(contentType: String, spoolDirectory: String) throws {
        boundary = try Self.boundary(fromContentType: contentType)
        self.spoolDirectory = spoolDirectory
    }

    public static func boundary(fromContentType contentType: String) throws -> String {
        let parameters = parseHeaderParameters(contentType)
        guard asciiCaseInsensitiveEquals(parameters.value, "multipart/form-data") else {
            throw MultipartError(description: "Content-Type is '\(parameters.value)', expected multipart/form-data; send the form as multipart/form-data")
        }
        guard let boundary = parameters["boundary"], (1...70).contains(boundary.utf8.count) else {
            throw MultipartError(description: "The multipart Content-Type has no valid boundary parameter (1 to 70 characters); let the client library set the header")
        }
        return boundary
    }

    public func read(file path: String) throws -> MultipartForm {
        let file = try FileDescriptor.openForReading(path)
        var chunk = [UInt8](repeating: 0, count: chunkBytes)
        return try read { feed in
            while true {
                let count = try chunk.withUnsafeMutableBytes { try file.read(into: $0) }
                if count == 0 { return }
                try chunk.withUnsafeBytes { try feed(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            }
        }
    }

    public func read(bytes: [UInt8]) throws -> MultipartForm {
        try read { feed in
            try bytes.withUnsafeBytes { all in
                for offset in stride(from: 0, to: all.count, by: max(1, chunkBytes)) {
                    try feed(UnsafeRawBufferPointer(rebasing: all[offset..<min(all.count, offset + chunkBytes)]))
                }
            }
        }
    }

    /// Also reports the parser's largest buffer, so tests can check that memory does not follow part size.
    func read(source: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> (MultipartForm, peakBuffer: Int) {
        let parser = MultipartParser(boundary: boundary, maxHeaderBytes: maxPartHeaderBytes)
        let collector = PartCollector(reader: self)
        do {
            try source { chunk in try parser.feed(chunk) { try collector.handle($0) } }
            try parser.finish()
        } catch {
            collector.abandon()
            throw error
        }
        return (MultipartForm(parts: collector.parts), parser.peakBufferBytes)
    }

    private func read(_ source: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> MultipartForm {
        try read(source: source).0
    }
}

/// Turns parser events into parts, writing file parts straight to disk.
private final class PartCollector {
    let reader: MultipartReader
    var parts: [MultipartPart] = []
    private var current: MultipartPart?
    private var field: [UInt8] = []
    private var file: FileDescriptor?
    private var fileCount = 0

    init(reader: MultipartReader) { self.reader = reader }

    func handle(_ event: MultipartEvent) throws {
        switch event {
        case .partBegin(let headers):
            guard parts.count < reader.maxParts else {
                throw MultipartError(description: "The form has more than \(reader.maxParts) parts; send fewer fields")
            }
            let disposition = parseHeaderParameters(headers["Content-Disposition"] ?? "")
            let filename = disposition["filename*"].flatMap(decodeExtendedValue) ?? disposition["filename"]
            current = MultipartPart(headers: headers, name: disposition["name"], filename: filename,
                                    contentType: headers["Content-Type"], content: .bytes([]))
            field = []
            fileCount = 0
            if filename != nil {
                file = try FileDescriptor.makeTemporary(in: reader.spoolDirectory, prefix: "tailor-part-")
            }
        case .partData(let bytes):
            if let file {
                try file.writeAll(bytes)
                fileCount += bytes.count
            } else {
                guard field.count + bytes.count <= reader.maxFieldBytes else {
                    throw MultipartError(description: "Form field '\(current?.name ?? "?")' exceeds \(reader.maxFieldBytes) bytes; send large content as a file part")
                }
                field.append(contentsOf: bytes)
            }
        case .partEnd:
            guard var part = current else { return }
            if let file {
                part.content = .file(path: file.path, count: fileCount)
                self.file = nil
            } else {
                part.content = .bytes(field)
            }
            parts.append(part)
            current = nil
        }
    }

    /// Reading failed: remove every file this read created.
    func abandon() {
        if let file { removeFile(file.path) }
        file = nil
        MultipartForm(parts: parts).removeFiles()
    }
}

/// A header value split into its leading value and `; key=value` parameters (quoted strings unescaped).
struct HeaderParameters {
    var value: String
    var parameters: [(name: String, value: String)]

    subscript(name: String) -> String? {
        parameters.first { asciiCaseInsensitiveEquals($0.name, name) }?.value
    }
}

func parseHeaderParameters(_ header: String) -> HeaderParameters {
    var items: [Substring] = []
    var inQuotes = false
    var escaped = false
    var itemStart = header.startIndex
    for index in header.indices {
        let character = header[index]
        if escaped { escaped = false; continue }
        if inQuotes && character == "\\" { escaped = true; continue }
        if character == "\"" { inQuotes.toggle(); continue }
        if character == ";" && !inQuotes {
            items.append(header[itemStart..<index])
            itemStart = header.index(after: index)
        }
    }
    items.append(header[itemStart...])
    var result = HeaderParameters(value: String(trimmingOptionalWhitespace(items.removeFirst())), parameters: [])
    for item in items {
        guard let equals = item.firstIndex(of: "=") else { continue }
        let name = trimmingOptionalWhitespace(item[..<equals])
        var value = trimmingOptionalWhitespace(item[item.index(after: equals)...])
        if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 {
            value = value.dropFirst().dropLast()
            var unescaped = ""
            var escape = false
            for character in value {
                if escape || character != "\\" {
                    unescaped.append(character)
                    escape = false
                } else {
                    escape = true
                }
            }
            result.parameters.append((String(name), unescaped))
        } else {
            result.parameters.append((String(name), String(value)))
        }
    }
    return result
}

/// RFC 8187 `UTF-8''na%C3%AFve.txt` to "naïve.txt"; nil for other charsets.
private func decodeExtendedValue(_ value: String) -> String? {
    let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
    guard pieces.count == 3, asciiCaseInsensitiveEquals(pieces[0], "UTF-8") else { return nil }
    return percentDecode(pieces[2], plusIsSpace: false)
}
