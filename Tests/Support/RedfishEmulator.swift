import Foundation

/// sushy-tools' Redfish emulator (fake driver, Basic auth) as a BMC for one
/// system, in a folder of its own. Images it is told to insert land in
/// `downloads` — the very file the BMC would boot.
public final class RedfishEmulator: @unchecked Sendable {
    public let folder: String
    public let port: Int
    public let username: String
    public let password: String
    public let system: String
    let process: ChildProcess

    /// The emulator from TERN_SUSHY_EMULATOR, or the venv `scripts/test.sh` makes.
    public static var command: String? {
        if let path = ProcessInfo.processInfo.environment["TERN_SUSHY_EMULATOR"] { return path }
        let path = (ChildProcess.productsDirectory as NSString).deletingLastPathComponent + "/sushy-venv/bin/sushy-emulator"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    public var address: String { "http://127.0.0.1:\(self.port)" }
    public var downloads: String { self.folder + "/downloads" }

    public init(folder: String, username: String = "root", password: String) async throws {
        guard let command = Self.command else { throw ShellFailure(script: "sushy-emulator", status: 127, output: "sushy-emulator not found (scripts/test.sh installs it)") }
        self.folder = folder
        self.username = username
        self.password = password
        let uuid = UUID().uuidString.lowercased()
        self.system = "/redfish/v1/Systems/\(uuid)"
        try FileManager.default.createDirectory(atPath: folder + "/downloads", withIntermediateDirectories: true)
        self.port = Int(try await shell("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'"))!
        try await shell("htpasswd -B -b -c \(folder)/htpasswd '\(username)' '\(password)' 2>/dev/null")
        try """
            SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
            SUSHY_EMULATOR_LISTEN_PORT = \(self.port)
            SUSHY_EMULATOR_FAKE_DRIVER = True
            SUSHY_EMULATOR_STATE_DIR = '\(folder)/state'
            SUSHY_EMULATOR_FAKE_SYSTEMS = [{'uuid': '\(uuid)', 'name': 'edge', 'power_state': 'Off', 'nics': [{'mac': '52:54:00:12:34:56', 'ip': '10.0.2.15'}]}]
            SUSHY_EMULATOR_AUTH_FILE = '\(folder)/htpasswd'

            """.write(toFile: folder + "/emulator.conf", atomically: true, encoding: .utf8)
        self.process = try ChildProcess(command, ["--config", folder + "/emulator.conf"], outputPath: folder + "/emulator.log",
                                        environment: ["TMPDIR": folder + "/downloads"])
        let port = self.port
        let up = await eventually(timeout: .seconds(20)) {
            (try? await shell("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\(port)/redfish/v1/")) == "200"
        }
        guard up else { throw ShellFailure(script: "sushy-emulator", status: 1, output: self.process.output) }
    }

    /// What the BMC says of its system (GET, which also lets a pending power-on happen).
    public func state() async throws -> (power: String, inserted: Bool) {
        let system = try await shell("curl -s -u '\(self.username):\(self.password)' \(self.address)\(self.system)")
        let cd = try await shell("curl -s -u '\(self.username):\(self.password)' \(self.address)\(self.system)/VirtualMedia/Cd")
        let power = (try JSONSerialization.jsonObject(with: Data(system.utf8)) as? [String: Any])?["PowerState"] as? String ?? "?"
        let inserted = (try JSONSerialization.jsonObject(with: Data(cd.utf8)) as? [String: Any])?["Inserted"] as? Bool ?? false
        return (power, inserted)
    }

    /// The image the BMC downloaded at insert, once it was told to boot it (power on + CD inserted).
    /// Long by default: the first install of a run builds the kit (xz of the agent),
    /// which takes minutes on two busy cores.
    public func bootedImage(timeout: Duration = .seconds(480)) async throws -> String? {
        var image: String?
        _ = await eventually(timeout: timeout, every: .milliseconds(500)) {
            guard let state = try? await self.state(), state.power == "On", state.inserted else { return false }
            image = try? await shell("find \(self.downloads) -type f -name '*.iso' | head -1")
            return image?.isEmpty == false
        }
        return image
    }

    public func stop() async {
        self.process.signal(SIGTERM)
        _ = await self.process.wait(timeout: .seconds(5))
    }
}
