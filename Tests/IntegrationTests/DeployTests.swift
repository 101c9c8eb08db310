import Controller
import Foundation
import TernTestSupport
import Testing

/// The systemd units in deploy/, checked by systemd itself.
@Suite struct DeployTests {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("deploy")

    @Test("units pass systemd-analyze verify with the built binaries", arguments: ["tern-controller", "tern-agent"])
    func verify(unit: String) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "systemd-analyze is not installed")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("\(unit).service"), encoding: .utf8)
        // Point ExecStart at this build, as install.sh would at /usr/local/bin.
        let local = text.replacingOccurrences(of: "/usr/local/bin/\(unit)", with: ChildProcess.productsDirectory + "/\(unit)")
        let path = directory.appending("\(unit).service")
        try local.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await run("/usr/bin/systemd-analyze", ["verify", path])
        #expect(result.status == 0, "\(result.output)")
        #expect(!result.output.contains("Unknown key"), "\(result.output)")
        #expect(!result.output.contains("Unknown section"), "\(result.output)")
        #expect(local.contains("Type=notify"))
    }

    @Test("the example configuration is what the controller's parser reads")
    func exampleConfiguration() throws {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("controller.conf.example"), encoding: .utf8)
        var configuration = ControllerConfiguration(dataDirectory: "/unused")
        try ConfigFile.apply(text: text, to: &configuration)
        #expect(configuration.listenHost == "0.0.0.0" && configuration.listenPort == 7447)
        #expect(configuration.enrolPort == 7448)
        #expect(configuration.serverNames == ["central.example.net", "192.0.2.10"])
        #expect(configuration.heartbeatInterval == .seconds(10))
    }
}
