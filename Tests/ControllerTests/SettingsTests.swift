import Foundation
import NIOCore
import TernTestSupport
import Testing
import Wire
@testable import Controller
import Platform

@Suite struct SettingsTests {
    @Test("first start writes the documented defaults, and they parse back to the defaults")
    func template() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = ControllerConfiguration(dataDirectory: directory.path)
        try ConfigFile.apply(path: directory.appending("controller.conf"), to: &configuration)
        let defaults = ControllerConfiguration(dataDirectory: directory.path)
        #expect(configuration.listenPort == defaults.listenPort && configuration.enrolPort == defaults.enrolPort && configuration.apiPort == defaults.apiPort)
        #expect(configuration.heartbeatInterval == defaults.heartbeatInterval && configuration.missedHeartbeats == defaults.missedHeartbeats)
        #expect(FileManager.default.fileExists(atPath: directory.appending("controller.conf")))
    }

    @Test("bad lines are reported with their line number", arguments: ["listen = nowhere", "heartbeat_interval = -3", "colour = blue", "just words"])
    func errors(line: String) {
        var configuration = ControllerConfiguration(dataDirectory: "/unused")
        #expect { try ConfigFile.apply(text: "# comment\n\(line)\n", to: &configuration) } throws: { "\($0)".contains("line 2") || $0 is HostPort.Invalid }
    }

    @Test("the offline threshold and idle timeout follow the heartbeat interval")
    func derived() {
        var configuration = ControllerConfiguration(dataDirectory: "/unused")
        configuration.heartbeatInterval = .seconds(10)
        configuration.missedHeartbeats = 3
        #expect(configuration.offlineAfter == .seconds(30))
        #expect(configuration.idleTimeout == .seconds(40))
    }

    @Test("the API token is made once, mode 0600, and compared exactly")
    func apiToken() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.appending("api-token")
        let token = try APIToken.loadOrCreate(path: path)
        #expect(try APIToken.loadOrCreate(path: path) == token)
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600)
        #expect(APIToken.matches(Substring(token), token))
        #expect(!APIToken.matches(Substring(token.dropLast()), token))
        #expect(!APIToken.matches(Substring(String(token.dropLast()) + "x"), token))
    }
}
