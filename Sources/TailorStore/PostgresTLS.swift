// TLS to a PostgreSQL server, as libpq's sslmode reads (PostgresSettings.TLSSettings): the one place the store
// meets NIOSSL. A bad certificate file is an error at open, naming the file, not a failure at the first query.
import Foundation
import NIOSSL
import PostgresNIO

enum PostgresTLS {
    static func configuration(_ settings: PostgresSettings) throws -> PostgresConnection.Configuration.TLS {
        let tls = settings.tls
        guard tls.mode != .disable, tls.mode != .allow, settings.socketDirectory == nil else { return .disable }
        var config = TLSConfiguration.makeClientConfiguration()
        if tls.verifiesChain {
            config.certificateVerification = tls.mode == .verifyFull ? .fullVerification : .noHostnameVerification
            config.trustRoots = try trustRoots(tls)
        } else {
            // prefer and require without a root certificate encrypt but check nobody's identity (libpq's meaning).
            config.certificateVerification = .none
        }
        if let certificate = tls.clientCertificate, let key = tls.clientKey {
            do {
                config.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            } catch {
                throw PostgresStoreError.badSettings("cannot read the client certificate sslcert=\(certificate) (\(error)); "
                                                     + "it must be a readable PEM file")
            }
            do {
                config.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            } catch {
                throw PostgresStoreError.badSettings("cannot read the client key sslkey=\(key) (\(error)); it must be a "
                                                     + "readable, unencrypted PEM file")
            }
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: config)
        } catch {
            throw PostgresStoreError.badSettings("cannot set up TLS for \(settings.description): \(error)")
        }
        return tls.mode == .prefer ? .prefer(context) : .require(context)
    }

    /// The named PEM file, the system's roots for `system`, else libpq's default ~/.postgresql/root.crt.
    private static func trustRoots(_ tls: PostgresSettings.TLSSettings) throws -> NIOSSLTrustRoots {
        if tls.rootCertificate == "system" { return .default }
        let path = tls.rootCertificate
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".postgresql/root.crt").path
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw PostgresStoreError.badSettings(tls.rootCertificate == nil
                ? "sslmode=\(tls.mode.rawValue) checks the server's certificate, and there is no root certificate at "
                    + "\(path); name one with sslrootcert=FILE (or sslrootcert=system for the system's trust roots)"
                : "cannot read the root certificate sslrootcert=\(path); it must be a readable PEM file")
        }
        do {
            return .certificates(try NIOSSLCertificate.fromPEMFile(path))
        } catch {
            throw PostgresStoreError.badSettings("cannot read the root certificate sslrootcert=\(path) (\(error)); "
                                                 + "it must be a PEM file")
        }
    }
}
