import Controller
import Foundation

extension APIClient {
    /// Finds the API from `--api URL` or the data directory's `api-address`, and the
    /// token from `--token` or the data directory's `api-token` (mode 0600).
    init(options: ClientOptions) throws {
        try self.init(data: options.data, api: options.api, token: options.token, caFile: options.caFile)
    }
}

/// A usage problem, reported as ArgumentParser would.
struct ValidationFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
