import Foundation

/// "Boot this image once": find the system and its virtual CD, insert the image
/// by URL, set the one-time boot override to the CD, power on (or restart if on),
/// and wait until the BMC reports the system on. Then, at the end of the install,
/// eject the media.
public struct RedfishBoot: Sendable {
    let client: RedfishClient
    /// How long the BMC may take to report power on.
    var powerOnTimeout: Duration = .seconds(90)

    public init(client: RedfishClient) {
        self.client = client
    }

    /// The first system's path (`/redfish/v1/Systems/<id>`); also checks the credentials.
    public func system() async throws -> String {
        let systems = try await self.client.get("/redfish/v1/Systems")
        guard let first = (systems["Members"] as? [[String: Any]])?.first?["@odata.id"] as? String else {
            throw RedfishError(.unsupported, "BMC \(self.client.address) lists no systems")
        }
        return first
    }

    /// The virtual CD/DVD device: under the system (as sushy-tools and newer BMCs
    /// have it) or under the system's manager (the older place).
    public func virtualCD(system: String) async throws -> String {
        var collections: [String] = []
        let described = try await self.client.get(system)
        if let own = (described["VirtualMedia"] as? [String: Any])?["@odata.id"] as? String { collections.append(own) } else { collections.append(system + "/VirtualMedia") }
        if let managers = ((described["Links"] as? [String: Any])?["ManagedBy"] as? [[String: Any]])?.compactMap({ $0["@odata.id"] as? String }) {
            collections += managers.map { $0 + "/VirtualMedia" }
        }
        for collection in collections {
            guard let members = try? await self.client.get(collection)["Members"] as? [[String: Any]] else { continue }
            for member in members.compactMap({ $0["@odata.id"] as? String }) {
                let device = try await self.client.get(member)
                let types = (device["MediaTypes"] as? [String] ?? []).map { $0.uppercased() }
                if types.contains("CD") || types.contains("DVD") || member.hasSuffix("/Cd") { return member }
            }
        }
        throw RedfishError(.unsupported, "BMC \(self.client.address) has no virtual CD/DVD for \(system)")
    }

    /// Inserts the image, sets the one-time boot from CD and powers the system on.
    /// Returns the system's path.
    @discardableResult
    public func boot(imageURL: String, mode: String) async throws -> (system: String, cd: String) {
        let system = try await self.system()
        let cd = try await self.virtualCD(system: system)
        if try await self.client.get(cd)["Inserted"] as? Bool == true {
            try await self.client.post(cd + "/Actions/VirtualMedia.EjectMedia", [:])
        }
        try await self.client.post(cd + "/Actions/VirtualMedia.InsertMedia", ["Image": imageURL, "Inserted": true, "WriteProtected": true])
        try await self.client.patch(system, ["Boot": [
            "BootSourceOverrideTarget": "Cd", "BootSourceOverrideEnabled": "Once", "BootSourceOverrideMode": mode,
        ]])
        let power = try await self.client.get(system)["PowerState"] as? String
        try await self.client.post(system + "/Actions/ComputerSystem.Reset", ["ResetType": power == "On" ? "ForceRestart" : "On"])
        return (system, cd)
    }

    /// Polls until the BMC says the system is on.
    public func waitForPowerOn(system: String, clock: ContinuousClock = ContinuousClock()) async throws {
        let deadline = clock.now + self.powerOnTimeout
        while clock.now < deadline {
            if try await self.client.get(system)["PowerState"] as? String == "On" { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw RedfishError(.timeout, "BMC \(self.client.address) did not report \(system) powered on within \(self.powerOnTimeout)")
    }

    /// Ejects the image (the install is over, or is being retried).
    public func eject() async throws {
        let cd = try await self.virtualCD(system: try await self.system())
        if try await self.client.get(cd)["Inserted"] as? Bool == true {
            try await self.client.post(cd + "/Actions/VirtualMedia.EjectMedia", [:])
        }
    }
}
