import ArgumentParser
import Foundation

/// Which subclouds a config or deployment command is for: exactly one of the three.
struct TargetOptions: ParsableArguments {
    @Option(name: .customLong("subcloud"), help: "A subcloud (repeat for several).")
    var subclouds: [String] = []

    @Option(help: "Every subcloud of this group.")
    var group: String?

    @Flag(help: "Every subcloud.")
    var all = false

    func validate() throws {
        let chosen = [!self.subclouds.isEmpty, self.group != nil, self.all].filter { $0 }.count
        guard chosen == 1 else { throw ValidationError("give exactly one of --subcloud NAME, --group G or --all") }
    }

    var json: [String: Any] {
        if !self.subclouds.isEmpty { return ["subclouds": self.subclouds] }
        if let group { return ["group": group] }
        return ["all": true]
    }
}
