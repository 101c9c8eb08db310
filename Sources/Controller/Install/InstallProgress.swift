import Foundation
import Wire

/// Where the `deploying` step of an install stands, from what the content plane
/// knows: the install's deployments and the site's config. Pure, so the rules are
/// tested without a site.
enum InstallProgress: Equatable {
    case waiting(String)
    case complete
    case failed(String)

    /// `since`: when deploying began; a config failure reported before it is an older generation's.
    static func evaluate(deployments: [Deployment], wantedConfig: Int?, config: ConfigState?, since: Date) -> InstallProgress {
        for deployment in deployments where deployment.state == .failed {
            return .failed("\(Self.area(deployment.kind)) \(deployment.name): \(deployment.detail.isEmpty ? "failed" : deployment.detail)")
        }
        if let wanted = wantedConfig, let config, config.status == .failed, config.reportedAt >= since {
            return .failed("config generation \(wanted): \(config.detail.isEmpty ? "failed" : config.detail)")
        }
        var waiting: [String] = []
        for deployment in deployments where deployment.state != .activated {
            waiting.append("\(Self.area(deployment.kind)) \(deployment.name) \(deployment.state.rawValue)")
        }
        if let wanted = wantedConfig, config?.appliedGeneration.map({ $0 >= wanted }) != true || config?.status != .applied {
            waiting.append("config generation \(wanted) \(config?.status.rawValue ?? "not yet reported")")
        }
        return waiting.isEmpty ? .complete : .waiting(waiting.joined(separator: ", "))
    }

    static func area(_ kind: ContentKind) -> String {
        switch kind {
        case .ostree: "software"
        case .image: "image"
        case .firmware: "firmware"
        case .backup: "restore"
        }
    }
}
