// API keys on a real database: creation, authentication, revocation (also from a second store), hashing,
// the admin bootstrap and the configured admin key.
import Foundation
import GRDB
import Testing
@testable import TailorStore

@Suite struct KeyTests {
    @Test(arguments: testBackends) func createAuthenticateRevoke(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let (key, secret) = try store.createKey(project: "research", name: "notebook", admin: false)
            #expect(secret.hasPrefix("sk-tailor-") && secret.count == 10 + 40)
            #expect(secret.dropFirst(10).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
            #expect(key.id.hasPrefix("key_") && key.id.count == 4 + 24)
            #expect(key.prefix == String(secret.prefix(14)) + "…")
            #expect(key.projectName == "research" && key.name == "notebook" && !key.isAdmin && !key.isRevoked)

            let principal = try #require(try store.authenticate(secret: secret))
            #expect(principal == Principal(keyID: key.id, projectID: key.projectID, projectName: "research", isAdmin: false))
            #expect(try store.authenticate(secret: secret + "x") == nil)
            #expect(try store.authenticate(secret: "") == nil)

            try store.revokeKey(id: key.id)
            #expect(try store.authenticate(secret: secret) == nil)
            let listed = try #require(try store.listKeys().first { $0.id == key.id })
            #expect(listed.isRevoked)
            // Revoking again keeps the key revoked and is not an error.
            try store.revokeKey(id: key.id)
            #expect(try store.authenticate(secret: secret) == nil)
        }
    }

    @Test(arguments: testBackends) func revokingAnUnknownKeyIsAClearError(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            #expect(throws: StoreError.unknownKey("key_nope")) { try store.revokeKey(id: "key_nope") }
        }
    }

    @Test(arguments: testBackends) func revocationByAnotherStoreTakesEffectOnTheNextRequest(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let server = try openStore(directory, database)
            defer { try? server.close() }
            let (key, secret) = try server.createKey(project: "default", name: nil, admin: false)
            #expect(try server.authenticate(secret: secret) != nil)

            let cli = try openStore(directory, database)
            try cli.revokeKey(id: key.id)
            try cli.close()

            #expect(try server.authenticate(secret: secret) == nil, "a key revoked by another process is still accepted")
        }
    }

    @Test func onlyTheHashIsStoredNeverTheSecret() throws {
        try withDataDirectory { directory in
            let store = try openStore(directory)
            let (_, secret) = try store.createKey(project: "default", name: "grep me", admin: true)
            _ = try store.authenticate(secret: secret)
            let hash = Store.hash(secret: secret)
            #expect(hash.count == 64)
            // Look before closing too, so the WAL still holds the recent pages.
            var images: [[UInt8]] = []
            for suffix in ["", "-wal", "-shm"] where fileExists(directory + "/tailor.sqlite" + suffix) {
                images.append(try readFile(directory + "/tailor.sqlite" + suffix))
            }
            try store.close()
            images.append(try readFile(directory + "/tailor.sqlite"))
            let all = images.flatMap { $0 }
            // The hash being found shows the search reads the right bytes; the secret must not be anywhere.
            #expect(find(Array(hash.utf8), in: all) != nil)
            #expect(find(Array(secret.utf8), in: all) == nil)
            #expect(find(Array(secret.dropFirst(10).utf8), in: all) == nil)
        }
    }

    @Test(arguments: testBackends) func bootstrapWritesAdminKeyOnceWithMode0600(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            let secret = try #require(try store.bootstrapAdminKeyIfNeeded())
            let path = directory + "/admin.key"
            #expect(String(decoding: try readFile(path), as: UTF8.self) == secret + "\n")
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
            #expect(mode == 0o600)
            let principal = try #require(try store.authenticate(secret: secret))
            #expect(principal.isAdmin && principal.projectName == "default")
            #expect(try store.bootstrapAdminKeyIfNeeded() == nil)
            try store.close()

            let again = try openStore(directory, database)
            defer { try? again.close() }
            #expect(try again.bootstrapAdminKeyIfNeeded() == nil)
            #expect(String(decoding: try readFile(path), as: UTF8.self) == secret + "\n")
            #expect(try again.listKeys().count == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/tmp").isEmpty)

            // With every admin key revoked, the next bootstrap mints a new one: the operator's way back in.
            try again.revokeKey(id: principal.keyID)
            let replacement = try #require(try again.bootstrapAdminKeyIfNeeded())
            #expect(replacement != secret)
            #expect(String(decoding: try readFile(path), as: UTF8.self) == replacement + "\n")
        }
    }

    @Test(arguments: testBackends) func bootstrapDoesNothingWhenAnAdminKeyWasConfigured(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            try store.ensureAdminKey(secret: "operator-chosen-secret-123")
            #expect(try store.bootstrapAdminKeyIfNeeded() == nil)
            #expect(!fileExists(directory + "/admin.key"))
        }
    }

    @Test(arguments: testBackends) func ensureAdminKeyIsIdempotentAcrossRestarts(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let secret = "operator-chosen-secret-123"
            let first = try openStore(directory, database)
            try first.ensureAdminKey(secret: secret)
            try first.ensureAdminKey(secret: secret)
            try first.close()
            let recorder = LogRecorder()
            let second = try openStore(directory, database, recorder)
            defer { try? second.close() }
            try second.ensureAdminKey(secret: secret)

            let keys = try second.listKeys()
            #expect(keys.count == 1)
            #expect(keys[0].isAdmin && keys[0].projectName == "default" && keys[0].prefix == "operator…")
            #expect(try second.authenticate(secret: secret)?.isAdmin == true)
            #expect(recorder.messages(atLeast: .warning).isEmpty)

            // Configuration wins: a revoked configured key is restored at the next start, and that is said.
            try second.revokeKey(id: keys[0].id)
            #expect(try second.authenticate(secret: secret) == nil)
            try second.ensureAdminKey(secret: secret)
            #expect(try second.authenticate(secret: secret)?.isAdmin == true)
            #expect(try second.listKeys().count == 1)
            #expect(recorder.messages(atLeast: .warning).contains { $0.message.contains("restored") })
        }
    }

    @Test(arguments: testBackends) func ensureAdminKeyRejectsWeakOrMangledSecrets(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            #expect(throws: StoreError.self) { try store.ensureAdminKey(secret: "short") }
            #expect(throws: StoreError.self) { try store.ensureAdminKey(secret: "long-enough-secret-value\n") }
            #expect(try store.listKeys().isEmpty)
        }
    }

    @Test(arguments: testBackends) func listKeysShowsProjectsAndCreatesProjectsByName(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let (a, _) = try store.createKey(project: "alpha", name: nil, admin: false)
            let (b, _) = try store.createKey(project: "beta", name: "", admin: true)
            let (c, _) = try store.createKey(project: "alpha", name: "second", admin: false)
            #expect(a.projectID == c.projectID && a.projectID != b.projectID)
            #expect(b.name == nil)
            let keys = try store.listKeys()
            #expect(keys.map(\.id) == [a.id, b.id, c.id])
            #expect(keys.map(\.projectName) == ["alpha", "beta", "alpha"])
            #expect(try store.listProjects().map(\.name) == ["default", "alpha", "beta"])
            #expect(throws: StoreError.invalidProjectName("no spaces")) {
                try store.createKey(project: "no spaces", name: nil, admin: false)
            }
        }
    }

    @Test(arguments: testBackends) func lastUsedIsRecordedWithoutBlockingAuthentication(_ backend: Backend) throws {
        try withDataDirectory(backend) { directory, database in
            let store = try openStore(directory, database)
            defer { try? store.close() }
            let (key, secret) = try store.createKey(project: "default", name: nil, admin: false)
            #expect(key.lastUsedAt == nil)
            let before = Int(Date().timeIntervalSince1970)
            _ = try store.authenticate(secret: secret)
            let start = ContinuousClock.now
            var lastUsed: Int?
            while lastUsed == nil && ContinuousClock.now - start < .seconds(5) {
                lastUsed = try store.listKeys().first?.lastUsedAt
                if lastUsed == nil { Thread.sleep(forTimeInterval: 0.02) }
            }
            let recorded = try #require(lastUsed)
            #expect(recorded >= before && recorded <= Int(Date().timeIntervalSince1970))
        }
    }
}
