// Recognises the failures that mean the data directory cannot take writes — the disk is full or read-only — in
// whichever layer raised them (the store's own I/O, SQLite through GRDB, Foundation's file writes), so callers
// answer 507 with a message about the server's disk instead of blaming the client or leaking internal paths.
import Foundation
import GRDB

public enum StorageFailure {
    /// A message for people when `error` is a full or read-only disk, else nil.
    public static func message(for error: Error) -> String? {
        isFull(error) ? "The server's data directory is full or read-only, so it cannot store this; free disk space (or fix the mount) on the server, then try again." : nil
    }

    public static func isFull(_ error: Error) -> Bool {
        switch error {
        case let e as StoreError:
            return e.isStorageFull
        case let e as DatabaseError:
            return [.SQLITE_FULL, .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_CANTOPEN].contains(e.resultCode)
        case let e as CocoaError:
            if [.fileWriteOutOfSpace, .fileWriteVolumeReadOnly].contains(e.code) { return true }
            return (e.userInfo[NSUnderlyingErrorKey] as? Error).map(isFull) ?? false
        case let e as POSIXError:
            return [.ENOSPC, .EDQUOT, .EROFS].contains(e.code)
        default:
            let ns = error as NSError
            if ns.domain == NSPOSIXErrorDomain { return [ENOSPC, EDQUOT, EROFS].contains(Int32(ns.code)) }
            return (ns.userInfo[NSUnderlyingErrorKey] as? Error).map(isFull) ?? false
        }
    }
}
