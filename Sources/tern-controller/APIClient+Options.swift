import Controller
import Foundation
import NIOSSL

extension APIClient {
    /// Finds the API from `--api URL` or the data directory's `api-address`, and the
    /// token from `--token` or the data directory's `api-token` (mode 0600).
    init(options: ClientOptions) throws {
        let address = try options.api ?? {
            guard let text = try? String(contentsOfFile: options.data + "/api-address", encoding: .utf8) else {
                throw ValidationFailure("no --api given and no api-address in \(options.data): is the controller running?")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }()
        guard let url = URL(string: address), let host = url.host, let port = url.port, ["http", "https"].contains(url.scheme) else {
            throw ValidationFailure("\(address) is not an http://HOST:PORT or https://HOST:PORT address")
        }
        var tls: TLSConfiguration?
        if url.scheme == "https" {
            let caFile = options.caFile ?? options.data + "/pki/ca.pem"
            guard let pem = try? String(contentsOfFile: caFile, encoding: .utf8) else {
                throw ValidationFailure("the API is https but the CA certificate \(caFile) cannot be read (give --ca-file)")
            }
            tls = try APIClient.tls(trusting: pem)
        }
        if let token = options.token {
            self.init(host: host, port: port, token: token, tls: tls)
        } else if let text = try? String(contentsOfFile: options.data + "/api-token", encoding: .utf8) {
            self.init(host: host, port: port, token: text.trimmingCharacters(in: .whitespacesAndNewlines), tls: tls)
        } else {
            throw ValidationFailure("no --token given and \(options.data)/api-token cannot be read")
        }
    }

}

/// A usage problem, reported as ArgumentParser would.
struct ValidationFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
