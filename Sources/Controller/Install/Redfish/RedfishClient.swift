import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The few Redfish calls a zero-touch install makes, with Basic auth and a
/// deadline on each. Every failure is a `RedfishError` that says what went wrong
/// in an operator's words (unreachable, 401, unsupported action, …).
public struct RedfishClient: Sendable {
    public let address: BMCAddress
    let username: String
    let password: String
    let exchange: HTTPExchange

    public init(address: BMCAddress, username: String, password: String, insecureTLS: Bool, timeout: TimeAmount = .seconds(10)) {
        self.address = address
        self.username = username
        self.password = password
        var tls: TLSConfiguration?
        if address.https {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if insecureTLS { configuration.certificateVerification = .none }
            tls = configuration
        }
        self.exchange = HTTPExchange(host: address.host, port: address.port, tls: tls, timeout: timeout)
    }

    public func get(_ path: String) async throws -> [String: Any] {
        try await self.call(.GET, path, body: nil)
    }

    @discardableResult
    public func post(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        try await self.call(.POST, path, body: body)
    }

    @discardableResult
    public func patch(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        try await self.call(.PATCH, path, body: body)
    }

    private func call(_ method: HTTPMethod, _ path: String, body: [String: Any]?) async throws -> [String: Any] {
        let credentials = Data("\(self.username):\(self.password)".utf8).base64EncodedString()
        var headers = [("Authorization", "Basic \(credentials)"), ("Accept", "application/json")]
        var data: Data?
        if let body {
            data = try JSONSerialization.data(withJSONObject: body)
            headers.append(("Content-Type", "application/json"))
        }
        let what = "\(method) \(path)"
        let response: HTTPExchange.Response
        do {
            response = try await self.exchange.send(method, path, headers: headers, body: data)
        } catch let timedOut as HTTPExchange.TimedOut {
            throw RedfishError(.unreachable, "BMC \(self.address): \(timedOut)")
        } catch {
            throw RedfishError(.unreachable, "BMC \(self.address) unreachable (\(what)): \(error)")
        }
        switch response.status.code {
        case 200..<300:
            guard !response.body.isEmpty else { return [:] }
            return (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        case 401:
            throw RedfishError(.unauthorized, "BMC \(self.address) refused the credentials of user \(self.username) (401 Unauthorized)")
        case 403:
            throw RedfishError(.unauthorized, "BMC \(self.address): user \(self.username) may not \(what) (403 Forbidden)")
        case 404, 405, 501:
            throw RedfishError(.unsupported, "BMC \(self.address) does not support \(what) (\(response.status.code))\(Self.message(response.body))")
        default:
            throw RedfishError(.failed, "BMC \(self.address): \(what) failed with \(response.status.code)\(Self.message(response.body))")
        }
    }

    /// Redfish's extended error message, if the body has one.
    static func message(_ body: Data) -> String {
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let error = json["error"] as? [String: Any] else { return "" }
        let extended = (error["@Message.ExtendedInfo"] as? [[String: Any]])?.compactMap { $0["Message"] as? String }.joined(separator: "; ")
        let text = extended?.isEmpty == false ? extended! : (error["message"] as? String ?? "")
        return text.isEmpty ? "" : ": " + text
    }
}

/// Where a BMC answers: `https://10.0.0.7`, `http://127.0.0.1:8000`.
public struct BMCAddress: Codable, Sendable, Equatable, CustomStringConvertible {
    public var https: Bool
    public var host: String
    public var port: Int

    public init(parsing text: String) throws {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/" else {
            throw RedfishError(.invalid, "BMC address \"\(text)\" is not http(s)://HOST[:PORT]")
        }
        self.https = scheme == "https"
        self.host = host
        self.port = url.port ?? (self.https ? 443 : 80)
    }

    public var description: String { "\(self.https ? "https" : "http")://\(self.host.contains(":") ? "[\(self.host)]" : self.host):\(self.port)" }
}

public struct RedfishError: Error, CustomStringConvertible {
    public enum Kind: String, Sendable { case unreachable, unauthorized, unsupported, failed, invalid, timeout }
    public var kind: Kind
    public var description: String
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
