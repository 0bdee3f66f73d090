// The few POSIX calls crash-safe file storage needs (open, read, write, fsync, rename, unlink, flock), each
// wrapped once here with errno turned into StoreError.io. Not a general file API: Foundation covers listing.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns one file descriptor and closes it in deinit. Not Sendable: one thread uses it at a time.
final class FileDescriptor {
    let fd: Int32
    let path: String

    init(path: String, flags: Int32, mode: mode_t = 0o600) throws {
        let fd = open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw StoreError.io(operation: "open", path: path, errno: errno) }
        self.fd = fd
        self.path = path
    }

    deinit {
        close(fd)
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    func readChunk(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw StoreError.io(operation: "read", path: path, errno: errno) }
        }
    }

    func writeAll(_ buffer: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < buffer.count {
            let count = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw StoreError.io(operation: "write", path: path, errno: errno)
            }
            offset += count
        }
    }

    /// Flushes the data to the disk, so a rename that follows never exposes a file whose bytes a crash can lose.
    func sync() throws {
        guard fsync(fd) == 0 else { throw StoreError.io(operation: "fsync", path: path, errno: errno) }
    }

    /// Takes (or converts to) an advisory whole-file lock; returns false if `nonBlocking` and someone holds a conflicting one.
    func lock(exclusive: Bool, nonBlocking: Bool) throws -> Bool {
        let operation = (exclusive ? LOCK_EX : LOCK_SH) | (nonBlocking ? LOCK_NB : 0)
        while flock(fd, operation) != 0 {
            if errno == EWOULDBLOCK && nonBlocking { return false }
            if errno != EINTR { throw StoreError.io(operation: "flock", path: path, errno: errno) }
        }
        return true
    }
}

enum POSIX {
    static func move(_ source: String, to destination: String) throws {
        guard rename(source, destination) == 0 else {
            throw StoreError.io(operation: "rename to \(destination)", path: source, errno: errno)
        }
    }

    /// Removes a file; a file already gone is not an error (every caller wants it gone, not to have removed it).
    static func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw StoreError.io(operation: "unlink", path: path, errno: errno)
        }
    }

    /// Makes the directory's entries (a rename into it, a file created in it) survive a power loss.
    static func syncDirectory(_ path: String) throws {
        try FileDescriptor(path: path, flags: O_RDONLY | O_DIRECTORY).sync()
    }

    /// mkdir -p: creates the directory and missing parents; an existing one is fine.
    static func makeDirectory(_ path: String, mode: mode_t) throws {
        if mkdir(path, mode) == 0 || errno == EEXIST { return }
        let parent = AtomicFiles.parentDirectory(of: path)
        guard errno == ENOENT, parent != path else {
            throw StoreError.io(operation: "mkdir", path: path, errno: errno)
        }
        try makeDirectory(parent, mode: mode)
        guard mkdir(path, mode) == 0 || errno == EEXIST else {
            throw StoreError.io(operation: "mkdir", path: path, errno: errno)
        }
    }

    /// The filesystem a path is on (following symlinks); a missing path is an error.
    static func device(of path: String) throws -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw StoreError.io(operation: "stat", path: path, errno: errno) }
        return UInt64(info.st_dev)
    }

    /// Size and kind of a path (not following a final symlink), or nil if it does not exist.
    static func status(of path: String) throws -> (size: Int, isRegularFile: Bool)? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw StoreError.io(operation: "lstat", path: path, errno: errno)
        }
        return (Int(info.st_size), (info.st_mode & S_IFMT) == S_IFREG)
    }
}
