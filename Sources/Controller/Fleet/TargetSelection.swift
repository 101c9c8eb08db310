import Foundation

/// Which subclouds a request is for: names, groups, or all — exactly one of the three.
public struct TargetSelection: Codable, Sendable, Equatable {
    public var subclouds: [String]?
    public var groups: [String]?
    public var all: Bool?

    public init(subclouds: [String]? = nil, groups: [String]? = nil, all: Bool? = nil) {
        self.subclouds = subclouds
        self.groups = groups
        self.all = all
    }

    /// How the selection was given, for the record.
    public var summary: String {
        if let subclouds { return "subclouds " + subclouds.joined(separator: ", ") }
        if let groups { return "groups " + groups.joined(separator: ", ") }
        return "all subclouds"
    }

    /// The subclouds selected; an unknown name or group, or an empty selection, is refused.
    public func resolve(in store: any SubcloudStore) async throws -> [Subcloud] {
        let chosen = [self.subclouds != nil, self.groups != nil, self.all == true].filter { $0 }.count
        guard chosen == 1 else { throw FleetStoreError.invalid("give exactly one of subclouds, group or all") }
        let everyone = try await store.subclouds()
        let selected: [Subcloud]
        if let names = self.subclouds {
            selected = try names.map { name in
                guard let found = everyone.first(where: { $0.name == name }) else { throw FleetStoreError.notFound("no subcloud named \"\(name)\"") }
                return found
            }
        } else if let groups = self.groups {
            for group in groups where try await store.group(named: group) == nil {
                throw FleetStoreError.notFound("no subcloud group named \"\(group)\"")
            }
            selected = everyone.filter { groups.contains($0.group) }
        } else {
            selected = everyone
        }
        guard !selected.isEmpty else { throw FleetStoreError.refused("the selection contains no subclouds") }
        return selected
    }
}
