import Foundation

/// Lays out a strategy's steps: groups in priority order (lowest first, ties by
/// name), each group a stage; inside a group the strategy's apply type and
/// max-parallel, or else the group's (dcmanager's rule).
public enum StrategyPlan {
    public static func steps(for subclouds: [Subcloud], groups: [SubcloudGroup], settings: StrategySettings) -> [StrategyStep] {
        let byName = Dictionary(groups.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let used = Set(subclouds.map(\.group))
        let ordered = used.sorted { left, right in
            let (l, r) = (byName[left]?.priority ?? SubcloudGroup.defaultPriority, byName[right]?.priority ?? SubcloudGroup.defaultPriority)
            return l != r ? l < r : left < right
        }
        var steps: [StrategyStep] = []
        for (stage, name) in ordered.enumerated() {
            let group = byName[name]
            let applyType = settings.applyType ?? group?.updateApplyType ?? .parallel
            let window = applyType == .serial ? 1 : max(1, settings.maxParallel ?? group?.maxParallel ?? StrategySettings.defaultMaxParallel)
            for subcloud in subclouds.filter({ $0.group == name }).sorted(by: { $0.name < $1.name }) {
                steps.append(StrategyStep(subcloud: subcloud.name, group: name, stage: stage, window: window))
            }
        }
        return steps
    }
}
