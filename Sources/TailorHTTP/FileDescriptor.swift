// POSIX file descriptors owned by a class that closes them: spooled uploads being written, files being sent.
// Blocking calls on purpose: they run on the loop only for page-cache-sized chunks, never for whole files.
import Foundation
import Glibc

/// An error from a file system call, phrased for the log. It bridges to NSError in the POSIX domain, so layers
/// above can tell a full disk (ENOSPC) from other failures without knowing this type.
struct FileError: Error, CustomStringConvertible, CustomNSError {
    let call: String
    let path: String
    let code: Int32

    var description: String { "\(call)(\(path)) failed: \(String(cString: strerror(code)))" }
    static var errorDomain: String { NSPOSIXErrorDomain }
    var errorCode: Int { Int(code) }
}

final class FileDescriptor {
    let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { Glibc.close(fd) }

    static func openForReading(_ path: String) throws(FileError) -> FileDescriptor {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(call: "open", path: path, code: errno) }
        return FileDescriptor(fd: fd, path: path)
    }

    /// A new, uniquely named file in `directory`, readable only by this user.
    static func makeTemporary(in directory: String, prefix: String) throws(FileError) -> FileDescriptor {
        var template = Array("\(directory)/\(prefix)XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        guard fd >= 0 else { throw FileError(call: "mkstemp", path: path, code: errno) }
        // Glibc's mkostemp is not visible from Swift; close-on-exec keeps uploads out of child processes.
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return FileDescriptor(fd: fd, path: path)
    }

    func size() throws(FileError) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError(call: "fstat", path: path, code: errno) }
        return Int(info.st_size)
    }

    func writeAll(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileError(call: "write", path: path, code: errno)
            }
            offset += written
        }
    }

    /// Reads up to `buffer.count` bytes; 0 at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileError) -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw FileError(call: "read", path: path, code: errno) }
        }
    }
}

/// Removes a file, ignoring one that is already gone (a handler may have moved it).
func removeFile(_ path: String) {
    unlink(path)
}
