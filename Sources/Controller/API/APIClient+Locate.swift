import Foundation
import NIOSSL

extension APIClient {
    /// Why the API cannot be reached with what was given.
    public struct Unlocated: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Finds the API as every Tern command line does: `api` (http://HOST:PORT or
    /// https://HOST:PORT) or the data directory's `api-address`; the token from `token`
    /// or the data directory's `api-token` (mode 0600); for https, the CA in `caFile`
    /// or the data directory's `pki/ca.pem`.
    public init(data: String, api: String?, token: String?, caFile: String?) throws {
        let address = try api ?? {
            guard let text = try? String(contentsOfFile: data + "/api-address", encoding: .utf8) else {
                throw Unlocated("no --api given and no api-address in \(data): is the controller running?")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }()
        guard let url = URL(string: address), let host = url.host, let port = url.port, ["http", "https"].contains(url.scheme) else {
            throw Unlocated("\(address) is not an http://HOST:PORT or https://HOST:PORT address")
        }
        var tls: TLSConfiguration?
        if url.scheme == "https" {
            let caFile = caFile ?? data + "/pki/ca.pem"
            guard let pem = try? String(contentsOfFile: caFile, encoding: .utf8) else {
                throw Unlocated("the API is https but the CA certificate \(caFile) cannot be read (give --ca-file)")
            }
            tls = try APIClient.tls(trusting: pem)
        }
        if let token {
            self.init(host: host, port: port, token: token, tls: tls)
        } else if let text = try? String(contentsOfFile: data + "/api-token", encoding: .utf8) {
            self.init(host: host, port: port, token: text.trimmingCharacters(in: .whitespacesAndNewlines), tls: tls)
        } else {
            throw Unlocated("no --token given and \(data)/api-token cannot be read")
        }
    }
}

/// Decodes API answers (times are ISO 8601).
public let apiDecoder: JSONDecoder = {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    return decoder
}()
