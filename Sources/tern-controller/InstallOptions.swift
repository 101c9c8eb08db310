import ArgumentParser
import Controller
import Foundation
import Yams

/// The zero-touch install flags of `subcloud add` and `subcloud install`.
struct InstallOptions: ParsableArguments {
    @Option(help: "The site's BMC, http(s)://HOST[:PORT] (Redfish).") var bmcAddress: String?
    @Option(help: "The BMC user.") var bmcUsername: String?
    @Option(help: "A file holding the BMC password (stored 0600 by the controller; never shown again).") var bmcPasswordFile: String?
    @Option(help: "Install values, a YAML or JSON file: software, images, config, boot, prestaged, timeouts.") var installValues: String?
    @Option(help: "Install values as JSON text.") var installValuesJson: String?

    /// `bmc` and `installValues` for the request body, as given.
    func body() throws -> [String: Any] {
        var body: [String: Any] = [:]
        if self.bmcAddress != nil || self.bmcUsername != nil || self.bmcPasswordFile != nil {
            guard let address = self.bmcAddress, let username = self.bmcUsername else {
                throw ValidationError("--bmc-address and --bmc-username go together (and --bmc-password-file the first time)")
            }
            var bmc: [String: Any] = ["address": address, "username": username]
            if let file = self.bmcPasswordFile {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read --bmc-password-file \(file)") }
                // One trailing newline is the file's, not the password's.
                bmc["password"] = text.hasSuffix("\n") ? String(text.dropLast()) : text
            }
            body["bmc"] = bmc
        }
        if let values = try self.values() {
            body["installValues"] = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(values))
        }
        return body
    }

    /// The values from the file or the JSON text, checked here so that mistakes are caught before anything runs.
    func values() throws -> InstallValues? {
        let values: InstallValues
        if let file = self.installValues {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read --install-values \(file)") }
            do {
                values = try YAMLDecoder().decode(InstallValues.self, from: text)  // YAML is a superset of JSON
            } catch {
                throw ValidationError("--install-values \(file): \(error)")
            }
        } else if let json = self.installValuesJson {
            do {
                values = try JSONDecoder().decode(InstallValues.self, from: Data(json.utf8))
            } catch {
                throw ValidationError("--install-values-json: \(error)")
            }
        } else {
            return nil
        }
        if let problem = values.problem { throw ValidationError("install values: \(problem)") }
        return values
    }
}

/// Prints an install as `subcloud show` and `subcloud install` do.
func installLines(_ install: Install) -> [(String, String)] {
    var lines: [(String, String)] = [
        ("bmc", "\(install.bmc.address) (user \(install.bmc.username))"),
        ("install", "attempt \(install.attempt), \(install.status.rawValue): \(install.detail)"),
    ]
    if let image = install.image {
        lines.append(("boot image", String(format: "%.1f MiB, built in %.1f s%@", Double(image.size) / 1_048_576, image.seconds, image.kitCached ? "" : " (kit built too)")))
    }
    for phase in install.phases {
        lines.append(("  " + phase.status.rawValue, "\(iso(phase.startedAt))\(phase.seconds.map { String(format: ", %.1f s", $0) } ?? (phase.status.isInstalling ? ", running" : ""))"))
    }
    return lines
}
