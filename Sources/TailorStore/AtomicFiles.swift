// Crash-safe placement of bytes: write (or copy) into tmp/, fsync, rename into place, fsync the directory,
// hashing on the way. Not the database half: the caller inserts the row only after these return.
import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Size and SHA-256 (lowercase hex) of bytes that were placed.
struct PlacedBytes: Equatable {
    var count: Int
    var sha256: String
}

enum AtomicFiles {
    /// Copy and hash in chunks of this size, so a 512 MB upload needs 1 MiB of memory.
    static let chunkSize = 1 << 20

    /// Writes `bytes` to `temporary`, fsyncs, renames to `destination`, fsyncs its directory.
    static func write(_ bytes: [UInt8], via temporary: String, to destination: String,
                      mode: mode_t = 0o600) throws -> PlacedBytes {
        do {
            let file = try FileDescriptor(path: temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: mode)
            try bytes.withUnsafeBytes { try file.writeAll($0) }
            try file.sync()
        } catch {
            try? POSIX.remove(temporary)
            throw error
        }
        try publish(temporary, to: destination)
        return PlacedBytes(count: bytes.count, sha256: hexDigest(SHA256.hash(data: bytes)))
    }

    /// Copies `source` to `temporary` while hashing, fsyncs, renames to `destination`, fsyncs its directory.
    /// The source is left as it is.
    static func copy(_ source: String, via temporary: String, to destination: String) throws -> PlacedBytes {
        let placed: PlacedBytes
        do {
            let input = try FileDescriptor(path: source, flags: O_RDONLY)
            let output = try FileDescriptor(path: temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            placed = try stream(input) { try output.writeAll($0) }
            try output.sync()
        } catch {
            try? POSIX.remove(temporary)
            throw error
        }
        try publish(temporary, to: destination)
        return placed
    }

    /// Hashes `source` in place, fsyncs it and renames it to `destination`: for a source on the same
    /// filesystem, where a rename moves no bytes. The source is gone afterwards.
    static func adopt(_ source: String, to destination: String) throws -> PlacedBytes {
        let file = try FileDescriptor(path: source, flags: O_RDONLY)
        let placed = try stream(file) { _ in }
        // fsync works on a read-only descriptor and flushes whatever the writer left in the page cache.
        try file.sync()
        try publish(source, to: destination)
        return placed
    }

    private static func publish(_ synced: String, to destination: String) throws {
        try POSIX.move(synced, to: destination)
        do {
            try POSIX.syncDirectory(parentDirectory(of: destination))
        } catch {
            try? POSIX.remove(destination)
            throw error
        }
    }

    private static func stream(_ input: FileDescriptor,
                               into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> PlacedBytes {
        var hasher = SHA256()
        var total = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try input.readChunk(into: buffer)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            hasher.update(bufferPointer: chunk)
            try sink(chunk)
            total += count
        }
        return PlacedBytes(count: total, sha256: hexDigest(hasher.finalize()))
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

func hexDigest(_ digest: SHA256.Digest) -> String {
    let hex = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(SHA256.byteCount * 2)
    for byte in digest {
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}
