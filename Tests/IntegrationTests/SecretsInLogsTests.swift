import Foundation
import TernTestSupport
import Testing

/// No key material at any log level (issue 7, item 4): the shipped binaries at
/// `--log-level trace`, through enrolment, a connection, a renewal-free run and a restart.
@Suite(.serialized) struct SecretsInLogsTests {
    /// The base64 body lines of every PEM block in `pem`.
    static func pemBodies(_ pem: String) -> [String] {
        pem.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("-----") && $0.count >= 32 }
    }

    @Test("trace logs of controller and agent hold no private key, API token or bootstrap token")
    func noSecrets() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController(extra: ["--log-level", "trace"])
            let (token, fingerprint) = try await fleet.add("edge-01")
            let enrolled = try await fleet.enrol("edge-01", token: token, fingerprint: fingerprint, extra: ["--log-level", "trace"])
            #expect(enrolled.status == 0, "\(enrolled.output)")
            let agent = try fleet.startAgent("edge-01", extra: ["--log-level", "trace"])
            let online = await eventually(timeout: .seconds(20)) { (try? await fleet.subclouds())?["edge-01"]?["availability"] as? String == "online" }
            #expect(online)
            _ = try await fleet.cli(["subcloud", "list"])
            // Stopped (their shutdown logs count too), files kept for the check.
            agent.signal(SIGTERM)
            _ = await agent.wait(timeout: .seconds(10))
            fleet.controller!.signal(SIGTERM)
            _ = await fleet.controller!.wait(timeout: .seconds(20))

            var secrets: [String: String] = [
                "bootstrap token": token,
                "API token": try String(contentsOfFile: fleet.data + "/api-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            ]
            for file in ["pki/ca-key.pem", "pki/server-key.pem"] {
                for (index, line) in Self.pemBodies(try String(contentsOfFile: fleet.data + "/" + file, encoding: .utf8)).enumerated() {
                    secrets["\(file) line \(index)"] = line
                }
            }
            let identity = try String(contentsOfFile: fleet.directory.appending("agent-edge-01/identity.pem"), encoding: .utf8)
            let agentKey = String(identity[identity.range(of: "-----BEGIN PRIVATE KEY-----")!.lowerBound...])
            for (index, line) in Self.pemBodies(agentKey).enumerated() { secrets["agent key line \(index)"] = line }

            let logs = [("controller", fleet.controller!.output), ("agent", agent.output), ("enrol", enrolled.output)]
            // The logs are really at trace level (so the check is not vacuous).
            #expect(fleet.controller!.output.contains("trace") || fleet.controller!.output.contains("debug"))
            for (process, log) in logs {
                #expect(!log.contains("PRIVATE KEY"), "\(process) log holds a PEM private key")
                for (what, secret) in secrets {
                    #expect(!log.contains(secret), "\(process) log holds the \(what)")
                }
            }
        }
    }
}
