import Foundation
import Logging
import Platform
import Wire

/// The first boot of a node installed from a boot image: enrol with the seed the
/// image carries, retrying while the network or the controller is not there yet,
/// and stopping at a refusal or when the token has expired (a new image is needed
/// then; retrying would only knock on a closed door).
public struct FirstBoot: Sendable {
    public let seed: InstallSeed
    public let stateDirectory: String
    public let logger: Logger
    /// The longest pause between two attempts.
    public var retryCap: Duration = .seconds(10)

    public init(seed: InstallSeed, stateDirectory: String, logger: Logger) {
        self.seed = seed
        self.stateDirectory = stateDirectory
        self.logger = logger
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Enrols unless the state directory holds an identity already; returns the site name.
    public func enrolIfNeeded(now: @Sendable () -> Date = { Date() }) async throws -> String {
        if let identity = try? AgentIdentity.load(stateDirectory: self.stateDirectory) { return identity.name }
        guard let fingerprint = ContentDigest(hex: self.seed.caFingerprint) else {
            throw Failure(description: "the seed's CA fingerprint is not 64 hex digits")
        }
        let (host, port) = try HostPort.parse(self.seed.controller)
        let enroller = Enroller(
            controllerHost: host, controllerPort: port, token: self.seed.token, caFingerprint: fingerprint,
            stateDirectory: self.stateDirectory, logger: self.logger
        )
        var pause = Duration.milliseconds(500)
        while true {
            guard now() < self.seed.tokenExpiresAt else {
                throw Failure(description: "the seed's token for \(self.seed.site) expired at \(self.seed.tokenExpiresAt); run `tern-controller subcloud install \(self.seed.site)` for a new boot image")
            }
            do {
                let name = try await enroller.enrol()
                self.logger.info("enrolled from the boot image's seed", metadata: ["subcloud": "\(name)"])
                return name
            } catch let refused as Enroller.Failure {
                // The controller (or its certificate) said no: nothing a retry changes.
                throw Failure(description: "enrolment of \(self.seed.site) refused: \(refused)")
            } catch {
                self.logger.warning("controller not reachable yet; retrying", metadata: [
                    "controller": "\(self.seed.controller)", "error": "\(error)", "in": "\(pause)",
                ])
                try await Task.sleep(for: pause)
                pause = min(pause * 2, self.retryCap)
            }
        }
    }
}
