import Controller
import Foundation

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
        guard let url = URL(string: address), let host = url.host, let port = url.port else {
            throw ValidationFailure("\(address) is not an http://HOST:PORT address")
        }
        if let token = options.token {
            self.init(host: host, port: port, token: token)
        } else if let text = try? String(contentsOfFile: options.data + "/api-token", encoding: .utf8) {
            self.init(host: host, port: port, token: text.trimmingCharacters(in: .whitespacesAndNewlines))
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
