import Foundation
import Testing
import Wire
@testable import Controller

/// When the `deploying` step of an install is over, from deployments and config state alone.
struct InstallProgressTests {
    let start = Date(timeIntervalSince1970: 1_000_000)

    func deployment(_ id: Int64, _ kind: ContentKind, _ state: DeploymentState, detail: String = "") -> Deployment {
        Deployment(id: id, subcloud: "edge", kind: kind, name: kind == .ostree ? "os" : "app:v1", version: "v", activate: true,
                   state: state, detail: detail, createdAt: self.start, updatedAt: self.start)
    }

    func config(_ applied: Int?, _ status: ConfigStatus, at: Date, detail: String = "") -> ConfigState {
        ConfigState(subcloud: "edge", appliedGeneration: applied, status: status, detail: detail, reportedAt: at)
    }

    @Test("complete only when every deployment is activated and the wanted generation is applied")
    func complete() {
        let done = [self.deployment(1, .ostree, .activated), self.deployment(2, .image, .activated)]
        #expect(InstallProgress.evaluate(deployments: done, wantedConfig: 1, config: self.config(1, .applied, at: self.start), since: self.start) == .complete)
        #expect(InstallProgress.evaluate(deployments: done, wantedConfig: nil, config: nil, since: self.start) == .complete)
        let fetching = [self.deployment(1, .ostree, .activated), self.deployment(2, .image, .fetching)]
        #expect(InstallProgress.evaluate(deployments: fetching, wantedConfig: nil, config: nil, since: self.start) == .waiting("image app:v1 fetching"))
        #expect(InstallProgress.evaluate(deployments: done, wantedConfig: 2, config: self.config(1, .applied, at: self.start), since: self.start)
                == .waiting("config generation 2 applied"))
        #expect(InstallProgress.evaluate(deployments: done, wantedConfig: 1, config: nil, since: self.start) == .waiting("config generation 1 not yet reported"))
    }

    @Test("a failed deployment, or a config failure reported after deploying began, fails the install naming the step")
    func failed() {
        let failed = [self.deployment(1, .ostree, .activated), self.deployment(2, .image, .failed, detail: "disk full")]
        #expect(InstallProgress.evaluate(deployments: failed, wantedConfig: nil, config: nil, since: self.start) == .failed("image app:v1: disk full"))
        let after = self.config(nil, .failed, at: self.start.addingTimeInterval(5), detail: "reload failed")
        #expect(InstallProgress.evaluate(deployments: [], wantedConfig: 1, config: after, since: self.start) == .failed("config generation 1: reload failed"))
        // An older generation's failure, reported before this install's deploying began, is not this install's.
        let before = self.config(nil, .failed, at: self.start.addingTimeInterval(-5))
        #expect(InstallProgress.evaluate(deployments: [], wantedConfig: 1, config: before, since: self.start) == .waiting("config generation 1 failed"))
    }
}
