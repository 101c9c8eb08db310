import Foundation

/// What a boot image tells the node it boots: where the controller is, which CA
/// to trust (by fingerprint) and the one-time token that makes the node this site.
/// The controller writes it into the image (`/etc/tern/seed.json` in the seed
/// initramfs layer); `tern-agent run --seed` reads it on first boot and enrols.
///
/// The token is the only secret, and it is single-use and short-lived: once the
/// node has enrolled, a copy of the image is worth nothing.
public struct InstallSeed: Codable, Sendable, Equatable {
    /// The format of this file; a newer agent reads older seeds.
    public var version = 1
    /// The subcloud this node becomes.
    public var site: String
    /// The controller's enrolment address, HOST:PORT, as the node reaches it.
    public var controller: String
    /// The controller CA's SHA-256 fingerprint, hex.
    public var caFingerprint: String
    /// The bootstrap token minted for this install.
    public var token: String
    /// After this the token is refused; the node says so rather than retrying.
    public var tokenExpiresAt: Date
    /// Whether the operator said the node holds its content already.
    public var prestaged: Bool

    public init(site: String, controller: String, caFingerprint: String, token: String, tokenExpiresAt: Date, prestaged: Bool) {
        self.site = site
        self.controller = controller
        self.caFingerprint = caFingerprint
        self.token = token
        self.tokenExpiresAt = tokenExpiresAt
        self.prestaged = prestaged
    }

    enum CodingKeys: String, CodingKey {
        case version, site, controller, caFingerprint = "ca_fingerprint", token, tokenExpiresAt = "token_expires_at", prestaged
    }

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }()

    public static func read(from path: String) throws -> InstallSeed {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(InstallSeed.self, from: try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    public func encoded() throws -> Data { try Self.encoder.encode(self) }
}

extension InstallSeed: KeyMaterialRedacting {
    public var redactedDescription: String { "InstallSeed(site: \(self.site), controller: \(self.controller), token redacted)" }
}
