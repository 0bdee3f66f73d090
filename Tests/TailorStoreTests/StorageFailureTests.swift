// Which failures mean "the server's disk cannot take this" (answered 507) and which do not, raised for real:
// SQLite writing to a read-only database, a write into a full filesystem's stand-in, Foundation and POSIX errors.
import Foundation
import GRDB
import Testing
@testable import TailorStore

@Suite struct StorageFailureTests {
    @Test func sqliteWritingToAReadOnlyDatabaseIsAStorageFailure() throws {
        try withDataDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/ro.sqlite"
            try DatabaseQueue(path: path).write { try $0.execute(sql: "CREATE TABLE t (x INTEGER)") }
            var configuration = Configuration()
            configuration.readonly = true
            let readOnly = try DatabaseQueue(path: path, configuration: configuration)
            let error = try #require(throws: DatabaseError.self) {
                try readOnly.writeWithoutTransaction { try $0.execute(sql: "INSERT INTO t VALUES (1)") }
            }
            #expect(StorageFailure.isFull(error))
            #expect(StorageFailure.message(for: error)?.contains("full or read-only") == true)
        }
    }

    @Test func writingToDevFullIsAStorageFailure() throws {
        // /dev/full answers every write with ENOSPC, as a full disk does.
        let error = try #require(throws: (any Error).self) {
            try Data("x".utf8).write(to: URL(fileURLWithPath: "/dev/full"))
        }
        #expect(StorageFailure.isFull(error), "\(error)")
        #expect(StorageFailure.isFull(StoreError.io(operation: "write", path: "/x", errno: ENOSPC)))
        #expect(StorageFailure.isFull(POSIXError(.EROFS)))
    }

    @Test func otherFailuresAreNot() {
        #expect(!StorageFailure.isFull(StoreError.io(operation: "open", path: "/x", errno: ENOENT)))
        #expect(!StorageFailure.isFull(StoreError.unknownKey("k")))
        #expect(!StorageFailure.isFull(POSIXError(.EACCES)))
        #expect(!StorageFailure.isFull(CocoaError(.fileNoSuchFile)))
    }
}
