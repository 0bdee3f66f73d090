// TLS to the PostgreSQL server, as libpq's sslmode reads, against the real server of `make test-postgres`
// (scripts/pg-test-cluster.sh starts it with TLS, a test CA and a role that logs in by client certificate): which
// modes encrypt, which check the certificate's chain and name, what a plain server does to `prefer` and `require`,
// and that every refusal says why. Whether a connection is encrypted is read from the server's own pg_stat_ssl.
import Foundation
import Testing
@testable import TailorStore

/// The client's side of the test cluster's TLS (ca.pem, other-ca.pem, client.pem, client.key).
let postgresTestTLS = ProcessInfo.processInfo.environment["TAILOR_TEST_DATABASE_TLS"].flatMap { $0.isEmpty ? nil : $0 }

// Serialized: one test turns the server's TLS off for a moment, which the others must not see.
@Suite(.serialized, .enabled(if: postgresTestURL != nil && postgresTestTLS != nil,
                             "run `make test-postgres` (TAILOR_TEST_DATABASE_URL and TAILOR_TEST_DATABASE_TLS) to test TLS"))
struct PostgresTLSTests {
    let tls = postgresTestTLS ?? ""

    /// The test server's URL for `database`, reached by `host` (with hostaddr=127.0.0.1 when it is a name), and
    /// `parameters` (already URL-encoded).
    func url(_ database: PostgresSettings, host: String = "127.0.0.1", user: String = "tailor", _ parameters: String...) -> String {
        var query = parameters
        if host != "127.0.0.1" { query.append("hostaddr=127.0.0.1") }
        return "postgres://\(user)@\(host):\(database.port)/\(database.database)"
            + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// Opens a store at `url` in a new data directory and returns whether its connection is encrypted and who it is.
    func connect(_ url: String) throws -> (ssl: Bool, user: String) {
        let settings = try PostgresSettings(url: url)
        return try withDataDirectory { directory in
            let store = try openStore(directory, .postgres(settings))
            defer { try? store.close() }
            return try store.database.read { db in
                (try db.scalar(Bool.self, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") ?? false,
                 try db.scalar(String.self, "SELECT current_user::text") ?? "")
            }
        }
    }

    /// The message of the error opening a store at `url` gives.
    func refusal(_ url: String) throws -> String {
        let settings = try PostgresSettings(url: url)
        return try withDataDirectory { directory in
            do {
                try openStore(directory, .postgres(settings)).close()
                return "opened"
            } catch {
                return "\(error)"
            }
        }
    }

    @Test func verifyFullChecksTheChainAndTheServersName() throws {
        let database = try makeTestDatabase()
        defer { try? dropTestDatabase(database) }
        let root = "sslrootcert=\(tls)/ca.pem"

        // The certificate names localhost only. verify-full checks the name (connected by hostaddr), so neither
        // another name nor the bare address will do; verify-ca checks the chain alone and takes both.
        #expect(try connect(url(database, host: "localhost", "sslmode=verify-full", root)).ssl)
        for host in ["db.example", "127.0.0.1"] {
            let refused = try refusal(url(database, host: host, "sslmode=verify-full", root))
            #expect(refused.contains("Cannot reach PostgreSQL"), "\(host): \(refused)")
            #expect(refused.contains("certificate does not name the \(host == "db.example" ? "name" : "address") \(host)"),
                    "the refusal names the host expected: \(refused)")
        }
        // verify-ca checks the chain only, so the same name is accepted.
        #expect(try connect(url(database, host: "db.example", "sslmode=verify-ca", root)).ssl)
        #expect(try connect(url(database, "sslmode=verify-ca", root)).ssl)

        // A root that did not sign the server's certificate: refused by verify-ca and verify-full, and by require
        // once a root is named (libpq's rule); require without a root encrypts without checking.
        let other = "sslrootcert=\(tls)/other-ca.pem"
        for mode in ["verify-ca", "verify-full", "require"] {
            let refused = try refusal(url(database, "sslmode=\(mode)", other))
            #expect(refused.contains("Cannot reach PostgreSQL"), "\(mode): \(refused)")
            #expect(refused.contains("certificate is not signed by an authority in sslrootcert=\(tls)/other-ca.pem"),
                    "\(mode) says it was the certificate: \(refused)")
        }
        #expect(try connect(url(database, "sslmode=require")).ssl)
    }

    @Test func disablePreferAndRequireAgainstAServerWithAndWithoutTLS() throws {
        let database = try makeTestDatabase()
        defer { try? dropTestDatabase(database) }
        #expect(try connect(url(database)).ssl, "prefer, the default, encrypts when the server can")
        #expect(try connect(url(database, "sslmode=prefer")).ssl)
        #expect(try connect(url(database, "sslmode=require")).ssl)
        #expect(try !connect(url(database, "sslmode=disable")).ssl)
        #expect(try !connect(url(database, "sslmode=allow")).ssl, "allow connects in plain text first, as libpq does")

        // The server without TLS (a reload; its existing connections keep theirs): prefer falls back to plain
        // text, require and the verifying modes refuse, saying why.
        let admin = try PostgresSettings(url: try #require(postgresTestURL))
        try administer(admin, "ALTER SYSTEM SET ssl = off")
        defer {
            try? administer(admin, "ALTER SYSTEM RESET ssl")
            try? administer(admin, "SELECT pg_reload_conf()")
        }
        try administer(admin, "SELECT pg_reload_conf()")
        // The postmaster applies a reload on its own time: wait until a new connection sees it.
        try waitUntil { try !connect(url(database)).ssl }
        for mode in ["require", "verify-ca", "verify-full"] {
            let refused = try refusal(url(database, "sslmode=\(mode)", "sslrootcert=\(tls)/ca.pem"))
            #expect(refused.contains("Cannot reach PostgreSQL"), "\(mode): \(refused)")
            #expect(refused.contains("TLS") || refused.contains("SSL"), "\(mode) says the server has no TLS: \(refused)")
        }
        try administer(admin, "ALTER SYSTEM RESET ssl")
        try administer(admin, "SELECT pg_reload_conf()")
        try waitUntil { try connect(url(database)).ssl }
    }

    @Test func aClientCertificateLogsInWhereOnlyACertificateMay() throws {
        // The test cluster lets tailor_cert in over TLS with a certificate the test CA signed, and no other way.
        let database = try makeTestDatabase()
        defer { try? dropTestDatabase(database) }
        let admin = try PostgresSettings(url: try #require(postgresTestURL))
        try administer(admin, "ALTER DATABASE \"\(database.database)\" OWNER TO tailor_cert")
        let root = "sslrootcert=\(tls)/ca.pem"
        let withCertificate = url(database, host: "localhost", user: "tailor_cert", "sslmode=verify-full", root,
                                  "sslcert=\(tls)/client.pem", "sslkey=\(tls)/client.key")
        let connection = try connect(withCertificate)
        #expect(connection.ssl && connection.user == "tailor_cert")

        let refused = try refusal(url(database, host: "localhost", user: "tailor_cert", "sslmode=verify-full", root))
        #expect(refused.contains("client certificate"), "the server's reason is passed on: \(refused)")
    }

    @Test func certificateFilesAreCheckedAtOpenAndNamed() throws {
        let database = try makeTestDatabase()
        defer { try? dropTestDatabase(database) }
        let missing = try refusal(url(database, "sslmode=verify-ca", "sslrootcert=\(tls)/no-such.pem"))
        #expect(missing.contains("\(tls)/no-such.pem") && missing.contains("readable"), "\(missing)")
        let notPEM = try refusal(url(database, "sslmode=verify-ca", "sslrootcert=\(tls)/ca.srl"))
        #expect(notPEM.contains("\(tls)/ca.srl") && notPEM.contains("PEM"), "\(notPEM)")
        let badKey = try refusal(url(database, user: "tailor_cert", "sslmode=require",
                                     "sslcert=\(tls)/client.pem", "sslkey=\(tls)/client.pem"))
        #expect(badKey.contains("sslkey=\(tls)/client.pem"), "\(badKey)")
    }
}

/// Polls `condition` until it holds (a server's reload is asynchronous); fails after a minute, never sleeps long.
func waitUntil(_ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(60)
    while try !condition() {
        try #require(Date() < deadline, "the condition did not hold within a minute")
        usleep(50_000)
    }
}

@Suite struct PostgresTLSSettingsTests {
    @Test func sslmodeAndItsCompanionsAreReadAsLibpqReadsThem() throws {
        let plain = try PostgresSettings(url: "postgres://u@db.internal/jobs", environment: [:])
        #expect(plain.tls.mode == .prefer && !plain.tls.verifiesChain, "libpq's default")
        #expect(plain.description == "postgres://u@db.internal:5432/jobs")

        let full = try PostgresSettings(url: "postgres://u@db.internal:6000/jobs?sslmode=verify-full&sslrootcert=/etc/ca%20dir/ca.pem"
                                        + "&sslcert=/c.pem&sslkey=/c.key&hostaddr=10.0.0.5&application_name=tailor-a&connect_timeout=5",
                                        environment: [:])
        #expect(full.tls == .init(mode: .verifyFull, rootCertificate: "/etc/ca dir/ca.pem", clientCertificate: "/c.pem",
                                  clientKey: "/c.key"))
        #expect(full.tls.verifiesChain && full.hostAddress == "10.0.0.5" && full.host == "db.internal")
        #expect(full.applicationName == "tailor-a" && full.connectTimeoutSeconds == 5)
        // The description is a URL that reads back to the same settings (it is printed as a --database to use).
        #expect(try PostgresSettings(url: full.description, environment: [:]) == full)
        #expect(full.description.contains("sslrootcert=/etc/ca%20dir/ca.pem"), "\(full.description)")

        #expect(try PostgresSettings(url: "postgres://u@h/d?sslmode=require", environment: [:]).tls.verifiesChain == false)
        #expect(try PostgresSettings(url: "postgres://u@h/d?sslmode=require&sslrootcert=/r.pem", environment: [:]).tls.verifiesChain,
                "require with a root certificate checks the chain, as libpq does")
        #expect(try PostgresSettings(url: "postgres://u@h/d?connect_timeout=0", environment: [:]).connectTimeoutSeconds == nil)
        #expect(try PostgresSettings(url: "postgres://u@h/d?connect_timeout=1", environment: [:]).connectTimeoutSeconds == 2)
    }

    @Test func badParametersAreRefusedNamingWhatIsRead() throws {
        let cases: [(url: String, says: String)] = [
            ("postgres://u@h/d?sslmode=verify", "sslmode=verify is not one of disable, allow, prefer, require, verify-ca, verify-full"),
            ("postgres://u@h/d?sslcrl=/x.crl", "'sslcrl' is not one Tailor reads"),
            ("postgres://u@h/d?sslcert=/c.pem", "sslcert and sslkey go together"),
            ("postgres://u@h/d?hostaddr=db.internal", "hostaddr=db.internal is not an IP address"),
            ("postgres://u@h/d?connect_timeout=soon", "connect_timeout=soon is not a whole number"),
        ]
        for (url, says) in cases {
            do {
                _ = try PostgresSettings(url: url, environment: [:])
                Issue.record("\(url) was accepted")
            } catch {
                #expect("\(error)".contains(says), "\(url): \(error)")
            }
        }
    }

    @Test func aVerifyingModeWithoutARootCertificateSaysWhereItLooked() throws {
        let settings = try PostgresSettings(url: "postgres://u@h/d?sslmode=verify-ca", environment: [:])
        let home = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".postgresql/root.crt").path
        try #require(!FileManager.default.fileExists(atPath: home), "this machine has a ~/.postgresql/root.crt")
        do {
            _ = try PostgresTLS.configuration(settings)
            Issue.record("verify-ca without a root certificate was accepted")
        } catch {
            #expect("\(error)".contains(home) && "\(error)".contains("sslrootcert=FILE"), "\(error)")
        }
        // The system's roots need no file.
        _ = try PostgresTLS.configuration(try PostgresSettings(url: "postgres://u@h/d?sslmode=verify-full&sslrootcert=system",
                                                               environment: [:]))
    }
}
