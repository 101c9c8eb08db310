import Agent
import Controller
import Foundation
import TernTestSupport
import Testing
import Wire

/// An agent that does not negotiate `backup` (as every agent built before backups):
/// its backup ends failed as unsupported at once, never hangs, and nothing is sent to it.
@Suite struct BackupCompatibilityTests {
    @Test("an agent without the backup feature: the backup fails as unsupported instead of waiting")
    func olderAgent() async throws {
        let directory = try TemporaryDirectory(prefix: "tern-backup-compat")
        defer { directory.remove() }
        let controller = try await makeController(directory)
        let state = directory.appending("agent-edge-old")
        try await controller.provisionAgent("edge-old", stateDirectory: state, controller: "127.0.0.1:\(controller.wireServer.localAddress!.port!)")
        var configuration = AgentConfiguration(stateDirectory: state, controllerHost: "127.0.0.1", controllerPort: controller.wireServer.localAddress!.port!)
        configuration.useFwupd = false
        configuration.backupPaths = [directory.path]
        configuration.features = [WireFeature.zlib]
        let agent = ControllerLink(configuration: configuration, status: LinkStatus(), logger: quiet("test.agent"))
        try await withServices(controller.services + [agent]) {
            #expect(await eventually { await controller.live.connection("edge-old") != nil })
            let made = try await controller.backups.create(subclouds: ["edge-old"], localOnly: false, maxParallel: nil, keep: nil)
            let ended = await eventually(timeout: .seconds(10)) {
                (try? await controller.store.backup(id: made[0].id))?.state == .failed
            }
            let backup = try await controller.store.backup(id: made[0].id)
            #expect(ended && backup?.detail.contains("backup unsupported") == true, "\(String(describing: backup))")
            #expect(!FileManager.default.fileExists(atPath: state + "/backups/\(made[0].id)"), "the agent was asked anyway")
        }
    }
}
